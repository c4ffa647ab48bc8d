using MixerWorker.Pipeline.Scene;
using Xunit;

namespace MixerWorker.Pipeline.Tests.Unit;

/// <summary>The validator's rules for the vision-mixer fields: presets, previews, transitions, graphics, audio, multiview.</summary>
public class ShowValidationTests
{
    private static IReadOnlyList<string> Validate(SceneDefinition scene) => SceneValidator.Validate(scene);

    private static IReadOnlyList<string> Program(Func<BusDefinition, BusDefinition> edit) => Validate(Scenes.Valid(edit(Scenes.Bus("program"))));

    private static LayoutPreset Preset(PresetKind kind, params string[] sources) => new() { Kind = kind, Sources = sources };

    private static IReadOnlyList<string> WithPreset(LayoutPreset preset) => Program(b => b with { Layout = [], Preset = preset });

    [Fact]
    public void A_full_show_is_valid()
    {
        var bus = Scenes.Bus("program") with
        {
            Layout = [],
            Preset = Preset(PresetKind.Pip, "cam-a", "cam-b") with { Corner = Corner.TopLeft, Size = 0.25, Margin = 24 },
            Preview = new Shot { Preset = Preset(PresetKind.Grid3x3, "cam-b", "cam-a", "cam-b") },
            Transition = new TransitionSpec { Kind = TransitionKind.Wipe, DurationMs = 750, Direction = Direction.Up, Color = DipColor.White },
            Graphics = [new GraphicLayer { File = "lower/name.svg", X = 40, Y = 600, Opacity = 0.8, FadeMs = 0 }],
            Audio = new AudioMix { Mode = AudioMode.FollowVideo, MasterGainDb = -3 },
        };
        var scene = Scenes.Valid(bus, new BusDefinition { Name = "aux1", Kind = BusKind.Multiview }) with
        {
            Inputs = [new() { Name = "cam-a", GainDb = -12, DelayMs = 80, Muted = true }, new() { Name = "cam-b", GainDb = 20 }],
        };
        Assert.Empty(Validate(scene));
    }

    [Theory]
    [InlineData(PresetKind.Single, 1, true)]
    [InlineData(PresetKind.Single, 2, false)]
    [InlineData(PresetKind.Pip, 2, true)]
    [InlineData(PresetKind.Pip, 1, false)]
    [InlineData(PresetKind.Pip, 3, false)]
    [InlineData(PresetKind.SideBySide, 2, true)]
    [InlineData(PresetKind.SideBySide, 1, false)]
    [InlineData(PresetKind.Grid2x2, 1, true)]
    [InlineData(PresetKind.Grid2x2, 4, true)]
    [InlineData(PresetKind.Grid2x2, 5, false)]
    [InlineData(PresetKind.Grid2x2, 0, false)]
    [InlineData(PresetKind.Grid3x3, 9, true)]
    [InlineData(PresetKind.Grid3x3, 10, false)]
    public void Counts_preset_sources(PresetKind kind, int count, bool ok)
    {
        var errors = WithPreset(Preset(kind, Enumerable.Range(0, count).Select(i => i % 2 == 0 ? "cam-a" : "cam-b").ToArray()));
        if (ok) Assert.Empty(errors);
        else Assert.Matches(@"^bus program: preset: \w+ needs (\d+ sources?|\d+ to \d+ sources), got \d+$", Assert.Single(errors));
    }

    [Fact]
    public void Names_the_kind_and_count_in_camel_case()
    {
        Assert.Equal(["bus program: preset: sideBySide needs 2 sources, got 1"], WithPreset(Preset(PresetKind.SideBySide, "cam-a")));
        Assert.Equal(["bus program: preset: grid3x3 needs 1 to 9 sources, got 0"], WithPreset(Preset(PresetKind.Grid3x3)));
        Assert.Equal(["bus program: preset: single needs 1 source, got 2"], WithPreset(Preset(PresetKind.Single, "cam-a", "cam-b")));
    }

    [Fact]
    public void Checks_preset_sources()
    {
        Assert.Equal(["bus program: preset references unknown input 'cam-z'"], WithPreset(Preset(PresetKind.Pip, "cam-a", "cam-z")));
        Assert.Equal(["bus program: preset: source 1: input name 'A' is invalid: use 1-63 characters a-z, 0-9, '_' or '-', starting with a letter or digit"],
            WithPreset(Preset(PresetKind.Single, "A")));
        Assert.Equal(["bus program: preset: kind must be one of single, pip, sideBySide, grid2x2, grid3x3"], WithPreset(new LayoutPreset { Kind = (PresetKind)9 }));
    }

    [Theory]
    [InlineData(0.1, true)]
    [InlineData(0.6, true)]
    [InlineData(0.09, false)]
    [InlineData(0.61, false)]
    [InlineData(double.NaN, false)]
    public void Limits_the_pip_size(double size, bool ok) =>
        Assert.Equal(ok ? [] : [$"bus program: preset: size {size} must be between 0.1 and 0.6 of the frame width"],
            WithPreset(Preset(PresetKind.Pip, "cam-a", "cam-b") with { Size = size }));

    [Theory]
    [InlineData(0, true)]
    [InlineData(200, true)]
    [InlineData(-1, false)]
    [InlineData(201, false)]
    public void Limits_the_margin(int margin, bool ok) =>
        Assert.Equal(ok ? [] : [$"bus program: preset: margin {margin} must be between 0 and 200 pixels"],
            WithPreset(Preset(PresetKind.Grid2x2, "cam-a") with { Margin = margin }));

    [Fact]
    public void Refuses_bad_corner_and_fit() =>
        Assert.Equal(["bus program: preset: corner must be one of topLeft, topRight, bottomLeft, bottomRight", "bus program: preset: fit must be contain or fill"],
            WithPreset(Preset(PresetKind.Pip, "cam-a", "cam-b") with { Corner = (Corner)7, Fit = (Fit)7 }));

    [Fact]
    public void Refuses_a_preset_and_a_layout_together() =>
        Assert.Equal(["bus program: set either a preset or a layout, not both"], Program(b => b with { Preset = Preset(PresetKind.Single, "cam-a") }));

    [Fact]
    public void Checks_the_preview_like_the_program()
    {
        Assert.Equal(["bus program: preview: box 1 references unknown input 'cam-z'"],
            Program(b => b with { Preview = new Shot { Boxes = [Scenes.Box("cam-z")] } }));
        Assert.Equal(["bus program: preview: preset: pip needs 2 sources, got 1"],
            Program(b => b with { Preview = new Shot { Preset = Preset(PresetKind.Pip, "cam-a") } }));
        Assert.Equal(["bus program: preview: set either a preset or boxes, not both"],
            Program(b => b with { Preview = new Shot { Preset = Preset(PresetKind.Single, "cam-a"), Boxes = [Scenes.Box("cam-a")] } }));
        Assert.Equal(["bus program: preview: box 1: alpha 1.5 must be between 0 and 1"],
            Program(b => b with { Preview = new Shot { Boxes = [Scenes.Box("cam-a") with { Alpha = 1.5 }] } }));
        Assert.Empty(Program(b => b with { Preview = new Shot() })); // an empty preview cuts to the background
    }

    [Theory]
    [InlineData(0, true)]
    [InlineData(10_000, true)]
    [InlineData(-1, false)]
    [InlineData(10_001, false)]
    public void Limits_the_transition_duration(int ms, bool ok) =>
        Assert.Equal(ok ? [] : [$"bus program: transition: duration {ms} ms must be between 0 and 10000"],
            Program(b => b with { Transition = new TransitionSpec { DurationMs = ms } }));

    [Fact]
    public void Refuses_unknown_transition_values() =>
        Assert.Equal(
        [
            "bus program: transition: kind must be one of cut, mix, dip, wipe, push, move",
            "bus program: transition: direction must be one of left, right, up, down",
            "bus program: transition: color must be one of black, white",
        ], Program(b => b with { Transition = new TransitionSpec { Kind = (TransitionKind)8, Direction = (Direction)8, Color = (DipColor)8 } }));

    [Fact]
    public void Allows_four_graphics_layers_and_no_more()
    {
        var layer = new GraphicLayer { File = "bug.png" };
        Assert.Empty(Program(b => b with { Graphics = [layer, layer, layer, layer] }));
        Assert.Equal(["bus program: 5 graphics layers, at most 4"], Program(b => b with { Graphics = [layer, layer, layer, layer, layer] }));
    }

    [Theory]
    [InlineData("../x.png")]
    [InlineData("/etc/x.png")]
    [InlineData("x.jpg")]
    [InlineData("a/../../x.svg")]
    public void Refuses_graphics_files_outside_the_directory_or_of_other_types(string file) =>
        Assert.Equal([$"bus program: graphics layer 0: file '{file}' is refused: {GraphicsFiles.NameRule}"],
            Program(b => b with { Graphics = [new GraphicLayer { File = file }] }));

    [Fact]
    public void Checks_graphics_opacity_fade_and_size()
    {
        IReadOnlyList<string> Layer(GraphicLayer g) => Program(b => b with { Graphics = [new GraphicLayer { File = "ok.png" }, g] });
        var ok = new GraphicLayer { File = "ok.png" };
        Assert.Equal(["bus program: graphics layer 1: opacity 1.2 must be between 0 and 1"], Layer(ok with { Opacity = 1.2 }));
        Assert.Equal(["bus program: graphics layer 1: opacity NaN must be between 0 and 1"], Layer(ok with { Opacity = double.NaN }));
        Assert.Equal(["bus program: graphics layer 1: fade -5 ms must be between 0 and 10000"], Layer(ok with { FadeMs = -5 }));
        Assert.Equal(["bus program: graphics layer 1: fade 10001 ms must be between 0 and 10000"], Layer(ok with { FadeMs = 10_001 }));
        Assert.Equal(["bus program: graphics layer 1: size -2x0 must be zero (the image's own size) or at most four times the frame"], Layer(ok with { Width = -2 }));
        Assert.Equal(["bus program: graphics layer 1: position (9000,0) is too far outside the 1280x720 frame"], Layer(ok with { X = 9000 }));
        Assert.Equal(["bus program: graphics layer 1 is empty"], Program(b => b with { Graphics = [ok, null!] }));
    }

    [Theory]
    [InlineData(-90, 0, true)]
    [InlineData(20, 1000, true)]
    [InlineData(-90.5, 0, false)]
    [InlineData(20.1, 0, false)]
    [InlineData(0, -1, false)]
    [InlineData(0, 1001, false)]
    public void Limits_input_gain_and_delay(double gainDb, int delayMs, bool ok)
    {
        var errors = Validate(Scenes.Valid() with { Inputs = [new() { Name = "cam-a", GainDb = gainDb, DelayMs = delayMs }, new() { Name = "cam-b" }] });
        if (ok) { Assert.Empty(errors); return; }
        var error = Assert.Single(errors);
        Assert.StartsWith("input 'cam-a': ", error);
        Assert.Matches(gainDb is < -90 or > 20 ? "gain .* dB must be between -90 and \\+20" : "delay .* ms must be between 0 and 1000", error);
    }

    [Fact]
    public void Names_an_input_with_a_bad_name_by_position() =>
        Assert.Contains("input 2: gain NaN dB must be between -90 and +20",
            Validate(Scenes.Valid() with { Inputs = [new() { Name = "cam-a" }, new() { Name = "B", GainDb = double.NaN }] }));

    [Theory]
    [InlineData(-90, true)]
    [InlineData(20, true)]
    [InlineData(21, false)]
    [InlineData(double.NaN, false)]
    public void Limits_the_master_gain(double db, bool ok) =>
        Assert.Equal(ok ? [] : [$"bus program: audio master gain {db} dB must be between -90 and +20"],
            Program(b => b with { Audio = new AudioMix { MasterGainDb = db } }));

    [Fact]
    public void Refuses_an_unknown_audio_mode() =>
        Assert.Equal(["bus program: audio mode must be one of followVideo, fixed"], Program(b => b with { Audio = new AudioMix { Mode = (AudioMode)3 } }));

    [Fact]
    public void A_multiview_takes_no_layout_preset_or_preview()
    {
        var multiview = new BusDefinition { Name = "aux1", Kind = BusKind.Multiview };
        Assert.Empty(Validate(Scenes.Valid(multiview)));
        Assert.Equal(
        [
            "bus aux1 is a multiview: it shows every input, so remove its layout",
            "bus aux1 is a multiview: it shows every input, so remove its preset",
            "bus aux1 is a multiview: it has no preview, so remove it",
        ], Validate(Scenes.Valid(multiview with
        {
            Layout = [Scenes.Box("cam-a")],
            Preset = Preset(PresetKind.Single, "cam-a"),
            Preview = new Shot(),
        })));
    }

    [Fact]
    public void A_multiview_needs_room_for_its_tiles()
    {
        var small = new BusDefinition { Name = "aux1", Kind = BusKind.Multiview, Format = new OutputFormat { Width = 96, Height = 54 } };
        Assert.Empty(Validate(Scenes.Valid(small)));
        var many = Scenes.Valid(small) with { Inputs = Enumerable.Range(0, 32).Select(i => new InputDefinition { Name = $"in{i}" }).ToList() };
        Assert.Equal(["bus aux1 is a multiview: its 96x54 frame has no room for 32 input tiles"], Validate(many));
        Assert.Empty(Validate(many with { Buses = [small with { Format = new OutputFormat { Width = 320, Height = 180 } }] }));
    }

    [Fact]
    public void Refuses_an_unknown_bus_kind() =>
        Assert.Equal(["bus program: kind must be one of composition, multiview"], Program(b => b with { Kind = (BusKind)5 }));
}
