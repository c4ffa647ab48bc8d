using System.Text.Json.Nodes;
using MixerWorker.Pipeline.Scene;
using Xunit;

namespace MixerWorker.Pipeline.Tests.Unit;

public class ShowCommandJsonTests
{
    private static string Refused(string json)
    {
        var e = Assert.Throws<SceneException>(() => SceneJson.ParseCommand(json));
        Assert.StartsWith("command refused: ", e.Message);
        return Assert.Single(e.Errors);
    }

    public static TheoryData<ShowCommand> Commands() =>
    [
        new CutCommand { Bus = "program", Id = "c-1" },
        new AutoCommand { Bus = "aux1" },
        new AutoCommand { Bus = "program", Transition = new TransitionSpec { Kind = TransitionKind.Push, DurationMs = 700, Direction = Direction.Up, Color = DipColor.White } },
        new FadeToBlackCommand { Bus = "program", DurationMs = 2000 },
        new SetPreviewCommand { Bus = "program", Shot = new Shot { Preset = new LayoutPreset { Kind = PresetKind.Grid2x2, Sources = ["cam-a", "cam-b"], Margin = 8, Fit = Fit.Fill } } },
        new SetLayoutCommand { Bus = "program", Shot = new Shot { Boxes = [Scenes.Box("cam-a", 10, 20)] }, Transition = new TransitionSpec { Kind = TransitionKind.Move } },
        new GraphicsCommand { Bus = "aux2", Layer = 3, Visible = true },
        new InputAudioCommand { Input = "cam-a", GainDb = -6.5, Muted = false },
        new BusAudioCommand { Bus = "program", Mode = AudioMode.Fixed, MasterGainDb = -1, Sources = [new() { Input = "cam-b", GainDb = -3 }] },
    ];

    [Theory]
    [MemberData(nameof(Commands))]
    public void Round_trips_every_command(ShowCommand command)
    {
        var json = SceneJson.WriteCommand(command);
        var parsed = SceneJson.ParseCommand(json);
        Assert.IsType(command.GetType(), parsed);
        Assert.Equal(json, SceneJson.WriteCommand(parsed));
        Assert.Equivalent(command, parsed, strict: true);
    }

    [Fact]
    public void Reads_hand_written_commands_with_the_type_anywhere()
    {
        var auto = Assert.IsType<AutoCommand>(SceneJson.ParseCommand("""{"bus": "program", "transition": {"kind": "wipe", "direction": "left", "durationMs": 300}, "type": "auto"}"""));
        Assert.Equal(("program", TransitionKind.Wipe, Direction.Left, 300), (auto.Bus, auto.Transition!.Kind, auto.Transition.Direction, auto.Transition.DurationMs));
        var ftb = Assert.IsType<FadeToBlackCommand>(SceneJson.ParseCommand("""{"type": "fadeToBlack", "bus": "aux3"}"""));
        Assert.Equal(1000, ftb.DurationMs);
        var pip = Assert.IsType<SetLayoutCommand>(SceneJson.ParseCommand("""
            {"type": "setLayout", "bus": "program", "shot": {"preset": {"kind": "pip", "sources": ["cam-a", "cam-b"], "corner": "bottomRight", "size": 0.25}}}
            """));
        Assert.Equal((PresetKind.Pip, Corner.BottomRight, 0.25), (pip.Shot.Preset!.Kind, pip.Shot.Preset.Corner, pip.Shot.Preset.Size));
    }

    [Fact]
    public void Writes_the_type_and_camel_case_enums()
    {
        var doc = JsonNode.Parse(SceneJson.WriteCommand(new SetPreviewCommand
        {
            Bus = "program",
            Shot = new Shot { Preset = new LayoutPreset { Kind = PresetKind.SideBySide, Sources = ["cam-a", "cam-b"], Corner = Corner.TopLeft } },
        }))!;
        Assert.Equal("setPreview", (string)doc["type"]!);
        Assert.Equal("sideBySide", (string)doc["shot"]!["preset"]!["kind"]!);
        Assert.Equal("topLeft", (string)doc["shot"]!["preset"]!["corner"]!);
        Assert.Equal("fadeToBlack", (string)JsonNode.Parse(SceneJson.WriteCommand(new FadeToBlackCommand { Bus = "program" }))!["type"]!);
    }

    [Theory]
    [InlineData("""{"type": "explode", "bus": "program"}""", "unknown command type 'explode': use one of cut, auto, fadeToBlack, setPreview, setLayout, graphics, inputAudio, busAudio")]
    [InlineData("""{"type": "Cut", "bus": "program"}""", "unknown command type 'Cut': use one of cut, auto, fadeToBlack, setPreview, setLayout, graphics, inputAudio, busAudio")]
    [InlineData("""{"type": 3, "bus": "program"}""", "unknown command type '3': use one of cut, auto, fadeToBlack, setPreview, setLayout, graphics, inputAudio, busAudio")]
    [InlineData("""{"bus": "program"}""", "the command has no 'type': use one of cut, auto, fadeToBlack, setPreview, setLayout, graphics, inputAudio, busAudio")]
    [InlineData("null", "the command is empty (JSON null)")]
    [InlineData("[1]", "malformed command JSON: a command is a JSON object")]
    public void Names_what_is_wrong_with_the_type(string json, string error) => Assert.Equal(error, Refused(json));

    [Theory]
    [InlineData("""{"type": "cut", "bus": "program", "buss": "x"}""", "'buss'")]
    [InlineData("""{"type": "cut"}""", "bus")]
    [InlineData("""{"type": "graphics", "bus": "program", "layer": 1}""", "visible")]
    [InlineData("""{"type": "auto", "bus": "program", "transition": {"kind": "spin"}}""", "kind")]
    [InlineData("""{"type": "auto", "bus": "program", "transition": {"kind": 1}}""", "kind")]
    [InlineData("""{"type": "setLayout", "bus": "program", "shot": {"preset": {"kind": "grid4x4"}}}""", "kind")]
    [InlineData("""{"type": "inputAudio", "input": "cam-a", "gainDb": "loud"}""", "gainDb")]
    public void Refuses_malformed_commands_and_names_the_field(string json, string field)
    {
        var error = Refused(json);
        Assert.Matches("^malformed (cut|graphics|auto|setLayout|inputAudio) command: ", error);
        Assert.Contains(field, error);
    }

    [Theory]
    [InlineData("{")]
    [InlineData("")]
    [InlineData("{\"type\": \"cut\", \"bus\": \"program\",}")]
    public void Refuses_broken_json(string json) => Assert.StartsWith("malformed command JSON: ", Refused(json));

    [Fact]
    public void Refuses_odd_ids()
    {
        Assert.Equal("command id must be 1-128 characters without control characters", Refused("""{"type": "cut", "bus": "program", "id": ""}"""));
        Assert.Equal("command id must be 1-128 characters without control characters", Refused($$"""{"type": "cut", "bus": "program", "id": "{{new string('x', 129)}}"}"""));
        Assert.Equal("command id must be 1-128 characters without control characters", Refused("""{"type": "cut", "bus": "program", "id": "a\nb"}"""));
        Assert.Equal("abc-1", SceneJson.ParseCommand("""{"type": "cut", "bus": "program", "id": "abc-1"}""").Id);
    }

    [Fact]
    public void Scene_round_trips_the_show_fields()
    {
        var scene = Scenes.Valid(
            Scenes.Bus("program") with
            {
                Layout = [],
                Preset = new LayoutPreset { Kind = PresetKind.Grid2x2, Sources = ["cam-a", "cam-b"], Corner = Corner.BottomLeft, Size = 0.2, Margin = 12, Fit = Fit.Fill },
                Preview = new Shot { Boxes = [Scenes.Box("cam-b") with { Crop = new Crop { Left = 2 } }] },
                Transition = new TransitionSpec { Kind = TransitionKind.Dip, DurationMs = 900, Direction = Direction.Down, Color = DipColor.White },
                FadedToBlack = true,
                Graphics = [new GraphicLayer { File = "logo.svg", X = 10, Y = 12, Width = 200, Height = 100, Opacity = 0.5, Visible = true, FadeMs = 250 }],
                Audio = new AudioMix { Mode = AudioMode.FollowVideo, MasterGainDb = -2.5, Limiter = false },
            },
            new BusDefinition { Name = "aux1", Kind = BusKind.Multiview }) with
        {
            Inputs = [new() { Name = "cam-a", GainDb = -3, Muted = true, DelayMs = 40 }, new() { Name = "cam-b" }],
        };
        var json = SceneJson.Write(scene);
        var parsed = SceneJson.Parse(json);
        Assert.Equivalent(scene, parsed, strict: true);
        Assert.Equal(json, SceneJson.Write(parsed));

        var doc = JsonNode.Parse(json)!;
        var program = doc["buses"]![0]!;
        Assert.Equal("grid2x2", (string)program["preset"]!["kind"]!);
        Assert.Equal("bottomLeft", (string)program["preset"]!["corner"]!);
        Assert.Equal("dip", (string)program["transition"]!["kind"]!);
        Assert.Equal("white", (string)program["transition"]!["color"]!);
        Assert.Equal("followVideo", (string)program["audio"]!["mode"]!);
        Assert.Equal("multiview", (string)doc["buses"]![1]!["kind"]!);
        Assert.Equal("composition", (string)program["kind"]!);
    }

    [Theory]
    [InlineData("sideBySide", PresetKind.SideBySide)]
    [InlineData("grid3x3", PresetKind.Grid3x3)]
    [InlineData("single", PresetKind.Single)]
    public void Reads_preset_kinds_by_name(string name, PresetKind kind)
    {
        var command = SceneJson.ParseCommand("""{"type": "setPreview", "bus": "program", "shot": {"preset": {"kind": """ + $"\"{name}\"" + """, "sources": ["cam-a"]}}}""");
        Assert.Equal(kind, Assert.IsType<SetPreviewCommand>(command).Shot.Preset!.Kind);
    }
}
