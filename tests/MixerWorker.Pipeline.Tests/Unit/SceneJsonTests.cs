using System.Text.Json.Nodes;
using MixerWorker.Pipeline.Scene;
using Xunit;

namespace MixerWorker.Pipeline.Tests.Unit;

public class SceneJsonTests
{
    private const string Minimal = """
        {
          "project": "show-1",
          "inputs": [{ "name": "cam-a" }, { "name": "cam-b" }],
          "buses": [{ "name": "program", "layout": [{ "source": "cam-a", "width": 640, "height": 360 }] }]
        }
        """;

    private static SceneDefinition Full() => new()
    {
        Project = "show-1",
        Revision = 42,
        Inputs = [new() { Name = "cam-a" }, new() { Name = "cam-b" }],
        Buses =
        [
            new BusDefinition
            {
                Name = "program",
                Format = new OutputFormat { Width = 1920, Height = 1080, Fps = 25, VideoBitrateKbps = 6000, GopSeconds = 2, AudioCodec = AudioCodec.Aac, AudioBitrateKbps = 96 },
                Layout =
                [
                    new Box { Source = "cam-a", Width = 1920, Height = 1080, Fit = Fit.Fill },
                    new Box { Source = "cam-b", X = 1400, Y = 760, Width = 480, Height = 270, Z = 2, Alpha = 0.75, Crop = new Crop { Left = 4, Top = 2, Right = 6, Bottom = 8 } },
                ],
                Audio = new AudioMix { Sources = [new() { Input = "cam-a" }, new() { Input = "cam-b", GainDb = -12.5 }] },
                Background = Background.Checker,
            },
            new BusDefinition { Name = "aux1", Enabled = false },
        ],
    };

    [Fact]
    public void The_warm_up_scene_holds_every_kind_of_object_a_scene_can_hold_and_reads_back()
    {
        // Kinds of object reachable from a scene through its properties (records and lists of them).
        var kinds = new HashSet<Type>();
        void Reach(Type t)
        {
            if (t.IsGenericType && t.GetGenericTypeDefinition() == typeof(IReadOnlyList<>)) t = t.GetGenericArguments()[0];
            t = Nullable.GetUnderlyingType(t) ?? t;
            if (!t.IsClass || t == typeof(string) || !kinds.Add(t)) return;
            foreach (var p in t.GetProperties()) if (p.CanWrite) Reach(p.PropertyType);
        }
        Reach(typeof(SceneDefinition));
        // Kinds of object the warm-up scene holds.
        var held = new HashSet<Type>();
        void Walk(object? o)
        {
            if (o is null or string) return;
            if (o is System.Collections.IEnumerable list) { foreach (var item in list) Walk(item); return; }
            if (!o.GetType().IsClass || !held.Add(o.GetType())) return;
            foreach (var p in o.GetType().GetProperties()) if (p.CanWrite) Walk(p.GetValue(o));
        }
        Walk(SceneJson.WarmUpScene);
        Assert.True(kinds.Count >= 10, $"only {kinds.Count} kinds found: {string.Join(", ", kinds.Select(k => k.Name))}");
        Assert.Empty(kinds.Except(held).Select(k => k.Name));
        SceneJson.WarmUp(); // and it reads back without an error
    }

    /// <summary>Parses a document expected to be refused and returns its one error.</summary>
    private static string Refused(string json) => Assert.Single(Assert.Throws<SceneException>(() => SceneJson.Parse(json)).Errors);

    private static string Malformed(string json)
    {
        var error = Refused(json);
        Assert.StartsWith("malformed scene JSON: ", error);
        return error;
    }

    private static string Edit(Action<JsonObject> edit)
    {
        var doc = JsonNode.Parse(Minimal)!.AsObject();
        edit(doc);
        return doc.ToJsonString();
    }

    private static JsonObject Bus0(JsonObject doc) => doc["buses"]![0]!.AsObject();

    [Fact]
    public void Round_trips_every_field()
    {
        var json = SceneJson.Write(Full());
        var parsed = SceneJson.Parse(json);
        Assert.Equivalent(Full(), parsed, strict: true);
        Assert.Equal(json, SceneJson.Write(parsed));
    }

    [Fact]
    public void Writes_camel_case_with_enums_as_strings_and_no_nulls()
    {
        var doc = JsonNode.Parse(SceneJson.Write(Full()))!;
        var program = doc["buses"]![0]!;
        Assert.Equal(42, (long)doc["revision"]!);
        Assert.Equal(6000, (int)program["format"]!["videoBitrateKbps"]!);
        Assert.Equal(2.0, (double)program["format"]!["gopSeconds"]!);
        Assert.Equal("aac", (string)program["format"]!["audioCodec"]!);
        Assert.Equal("checker", (string)program["background"]!);
        Assert.Equal("fill", (string)program["layout"]![0]!["fit"]!);
        Assert.Equal("contain", (string)program["layout"]![1]!["fit"]!);
        Assert.Equal(-12.5, (double)program["audio"]!["sources"]![1]!["gainDb"]!);
        Assert.False((bool)doc["buses"]![1]!["enabled"]!);
        Assert.False(program["layout"]![0]!.AsObject().ContainsKey("crop"));
        Assert.False(doc["buses"]![1]!.AsObject().ContainsKey("audio"));

        var opus = JsonNode.Parse(SceneJson.Write(Scenes.Valid()))!;
        Assert.Equal("opus", (string)opus["buses"]![0]!["format"]!["audioCodec"]!);
        Assert.Equal("black", (string)opus["buses"]![0]!["background"]!);
    }

    [Fact]
    public void Reads_enums_from_their_names()
    {
        var scene = SceneJson.Parse(Edit(d =>
        {
            Bus0(d)["format"] = new JsonObject { ["audioCodec"] = "aac" };
            Bus0(d)["background"] = "white";
            Bus0(d)["layout"]![0]!["fit"] = "fill";
        }));
        var bus = scene.Buses[0];
        Assert.Equal(AudioCodec.Aac, bus.Format.AudioCodec);
        Assert.Equal(Background.White, bus.Background);
        Assert.Equal(Fit.Fill, bus.Layout[0].Fit);
    }

    // Enums go to GStreamer (compositor background) and pick encoders: a number or a combination
    // outside the enum must be refused here, not when a pipeline is built.
    [Theory]
    [InlineData("audioCodec", "\"mp3\"")]
    [InlineData("audioCodec", "7")]
    [InlineData("audioCodec", "\"7\"")]
    [InlineData("audioCodec", "null")]
    public void Refuses_unknown_audio_codecs(string field, string value)
    {
        var error = Malformed(Edit(d => Bus0(d)["format"] = JsonNode.Parse($"{{\"{field}\": {value}}}")));
        Assert.Contains("audioCodec", error);
    }

    // A flags-style combination parses as a number outside the enum; validation names it.
    [Fact]
    public void Refuses_combined_backgrounds()
    {
        var e = Assert.Throws<SceneException>(() => SceneJson.Parse(Edit(d => Bus0(d)["background"] = JsonNode.Parse("\"white, checker\""))));
        Assert.Contains(e.Errors, m => m.Contains("background must be black, white or checker"));
    }

    [Theory]
    [InlineData("9")]
    [InlineData("\"purple\"")]
    public void Refuses_unknown_backgrounds(string value) =>
        Assert.Contains("background", Malformed(Edit(d => Bus0(d)["background"] = JsonNode.Parse(value))));

    [Theory]
    [InlineData("", "colour", "\"red\"")]
    [InlineData("buses.0", "opacity", "0.5")]
    [InlineData("buses.0.layout.0", "sorce", "\"cam-b\"")]
    [InlineData("inputs.0", "url", "\"srt://x\"")]
    public void Refuses_unknown_fields_and_names_them(string at, string field, string value)
    {
        var error = Malformed(Edit(d =>
        {
            JsonNode target = d;
            foreach (var step in at.Split('.', StringSplitOptions.RemoveEmptyEntries))
                target = int.TryParse(step, out var i) ? target[i]! : target[step]!;
            target[field] = JsonNode.Parse(value);
        }));
        Assert.Contains($"'{field}'", error);
    }

    [Theory]
    [InlineData("{")]
    [InlineData("")]
    [InlineData("[]")]
    [InlineData("{\"project\": 5}")]
    [InlineData("{\"project\": \"p\",}")]
    [InlineData("{\"project\": \"p\", \"inputs\": [{}]}")]  // a name is required
    [InlineData("{\"inputs\": []}")]                         // so is the project
    public void Refuses_malformed_json(string json) => Malformed(json);

    [Theory]
    [InlineData("{\"inputs\": []}")]
    [InlineData("{\"project\": null}")]
    public void Names_a_missing_required_field(string json) =>
        Assert.Contains("project", Malformed(json));

    // The validator reads a JSON null section as its default, but the builders dereference the
    // model directly: whatever Parse accepts must be safe to build.
    [Theory]
    [InlineData("inputs")]
    [InlineData("buses")]
    [InlineData("buses.0.format")]
    [InlineData("buses.0.layout")]
    [InlineData("buses.0.audio.sources")]
    public void A_null_section_is_refused_or_defaulted(string at)
    {
        var json = Edit(d =>
        {
            if (at == "buses.0.audio.sources") { Bus0(d)["audio"] = new JsonObject { ["sources"] = null }; return; }
            var steps = at.Split('.');
            JsonNode parent = d;
            foreach (var step in steps[..^1]) parent = int.TryParse(step, out var i) ? parent[i]! : parent[step]!;
            parent[steps[^1]] = null;
        });
        SceneDefinition scene;
        try { scene = SceneJson.Parse(json); }
        catch (SceneException e) { Assert.StartsWith("malformed scene JSON: ", Assert.Single(e.Errors)); return; }
        Assert.NotNull(scene.Inputs);
        Assert.NotNull(scene.Buses);
        Assert.All(scene.Buses, b => { Assert.NotNull(b.Format); Assert.NotNull(b.Layout); Assert.NotNull(b.HeardInputs()); });
    }

    [Fact]
    public void Refuses_json_null() => Assert.Equal("the scene is empty (JSON null)", Refused("null"));

    [Fact]
    public void Parse_validates_and_lists_every_error()
    {
        var e = Assert.Throws<SceneException>(() => SceneJson.Parse(Edit(d =>
        {
            d["project"] = "Show";
            Bus0(d)["layout"]![0]!["source"] = "cam-z";
        })));
        Assert.Equal(2, e.Errors.Count);
        Assert.Equal("bus program: box 1 references unknown input 'cam-z'", e.Errors[1]);
        Assert.Equal("invalid scene: " + string.Join("; ", e.Errors), e.Message);
    }

    [Fact]
    public void Fills_in_defaults()
    {
        var scene = SceneJson.Parse(Minimal);
        Assert.Equal(0, scene.Revision);
        var bus = Assert.Single(scene.Buses);
        Assert.True(bus.Enabled);
        Assert.Equal(Background.Black, bus.Background);
        Assert.Null(bus.Audio);
        var f = bus.Format;
        Assert.Equal((1280, 720, 30, 1.0, 30, AudioCodec.Opus, 2500, 128),
            (f.Width, f.Height, f.Fps, f.GopSeconds, f.GopFrames, f.AudioCodec, f.VideoBitrateKbps, f.AudioBitrateKbps));
        var box = bus.Layout[0];
        Assert.Equal((0, 0, 0, 1.0, Fit.Contain), (box.X, box.Y, box.Z, box.Alpha, box.Fit));
        Assert.Null(box.Crop);
    }

    [Theory]
    [InlineData(1.0, 30, 30)]
    [InlineData(2.0, 25, 50)]
    [InlineData(0.5, 60, 30)]
    [InlineData(0.1, 1, 1)]    // rounds to 0: never a zero keyframe interval
    [InlineData(10.0, 120, 1200)]
    [InlineData(1.0 / 3, 30, 10)]
    public void Gop_frames_come_from_seconds_and_fps(double seconds, int fps, int frames) =>
        Assert.Equal(frames, new OutputFormat { GopSeconds = seconds, Fps = fps }.GopFrames);

    [Fact]
    public void Heard_inputs_default_to_the_layout_distinct_at_unity_gain()
    {
        var bus = Scenes.Bus("program", Scenes.Box("cam-b"), Scenes.Box("cam-a"), Scenes.Box("cam-b"));
        Assert.Equal([new AudioSource { Input = "cam-b" }, new AudioSource { Input = "cam-a" }], bus.HeardInputs());
        Assert.All(bus.HeardInputs(), s => Assert.Equal(0.0, s.GainDb));
        Assert.Empty((bus with { Layout = [] }).HeardInputs());
    }

    [Fact]
    public void An_audio_mix_replaces_the_layout_default()
    {
        var bus = Scenes.Bus("program", Scenes.Box("cam-a")) with { Audio = new AudioMix { Sources = [new() { Input = "cam-b", GainDb = -6 }] } };
        Assert.Equal([new AudioSource { Input = "cam-b", GainDb = -6 }], bus.HeardInputs());
        Assert.Empty((bus with { Audio = new AudioMix() }).HeardInputs()); // an empty mix is silence, not the layout
    }
}
