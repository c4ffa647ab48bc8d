using MixerWorker.Pipeline.Scene;
using Xunit;

namespace MixerWorker.Pipeline.Tests.Unit;

public class SceneValidatorTests
{
    private const string NameRule = "use 1-63 characters a-z, 0-9, '_' or '-', starting with a letter or digit";

    private static IReadOnlyList<string> Validate(SceneDefinition scene) => SceneValidator.Validate(scene);

    private static string Single(SceneDefinition scene) => Assert.Single(Validate(scene));

    private static SceneDefinition WithFormat(OutputFormat format) =>
        Scenes.Valid(Scenes.Bus("program") with { Format = format });

    private static SceneDefinition WithBox(Box box) => Scenes.Valid(Scenes.Bus("program", box));

    [Fact]
    public void The_reference_scene_is_valid() => Assert.Empty(Validate(Scenes.Valid()));

    public static TheoryData<string> GoodNames => new()
    {
        "a", "0", "cam-a", "cam_b", "9lives", "a-", "a_", "x1-y2_z3", new string('a', 63),
    };

    // Names end up in element names and MediaMTX paths: launch syntax, path segments and
    // look-alike characters must never get through.
    public static TheoryData<string?> BadNames => new()
    {
        null, "", "CAM", "Cam-a", "-cam", "_cam", "cam a", "cam ! fakesink", "a,b", "x=y", "../etc", "a/b", "a.b",
        "a:b", "a\"b", "a'b", "a;b", "a\\b", "a\tb", "\ncam", "cam\n", "cam\r\n", "cam\0", new string('a', 64),
        "caméra", "саm", "ｃａｍ", "cam١", "a\u200bb",
    };

    [Theory]
    [MemberData(nameof(GoodNames))]
    public void Accepts_good_names(string name)
    {
        Assert.True(Names.IsValid(name));
        Assert.Equal(name, Names.Require(name, "input"));
        Assert.Empty(Validate(Scenes.Valid() with { Project = name }));
    }

    [Theory]
    [MemberData(nameof(BadNames))]
    public void Refuses_bad_names(string? name)
    {
        Assert.False(Names.IsValid(name));
        var e = Assert.Throws<ArgumentException>(() => Names.Require(name, "input"));
        Assert.Contains(NameRule, e.Message);
        Assert.Equal($"project name {Names.Quote(name)} is invalid: {NameRule}", Single(Scenes.Valid() with { Project = name! }));
    }

    [Fact]
    public void Quotes_the_bad_name_and_says_what_it_names()
    {
        Assert.Equal($"project name 'CAM' is invalid: {NameRule}", Single(Scenes.Valid() with { Project = "CAM" }));
        Assert.Equal($"project name (missing) is invalid: {NameRule}", Single(Scenes.Valid() with { Project = null! }));
        Assert.Equal($"input 2: input name 'cam ! fakesink' is invalid: {NameRule}",
            Single(Scenes.Valid() with { Inputs = [new() { Name = "cam-a" }, new() { Name = "cam ! fakesink" }] }));
    }

    [Fact]
    public void Truncates_long_names_in_messages()
    {
        var message = Single(Scenes.Valid() with { Project = new string('x', 500) });
        Assert.Contains($"'{new string('x', 80)}…'", message);
        Assert.DoesNotContain(new string('x', 81), message);
    }

    [Fact]
    public void Refuses_duplicate_inputs() =>
        Assert.Equal("input 'cam-a' is listed twice",
            Single(Scenes.Valid() with { Inputs = [new() { Name = "cam-a" }, new() { Name = "cam-b" }, new() { Name = "cam-a" }] }));

    [Fact]
    public void Limits_the_number_of_inputs()
    {
        var inputs = Enumerable.Range(0, SceneValidator.MaxInputs).Select(i => new InputDefinition { Name = $"in{i}" }).ToList();
        Assert.Empty(Validate(Scenes.Valid(Scenes.Bus("program", Scenes.Box("in0"))) with { Inputs = inputs }));
        var tooMany = inputs.Append(new InputDefinition { Name = "one-more" }).ToList();
        Assert.Equal("too many inputs: 33 (at most 32)", Single(Scenes.Valid(Scenes.Bus("program", Scenes.Box("in0"))) with { Inputs = tooMany }));
    }

    [Theory]
    [InlineData("program")]
    [InlineData("aux1")]
    [InlineData("aux7")]
    public void Accepts_the_bus_names(string bus)
    {
        Assert.True(Names.IsBus(bus));
        Assert.Empty(Validate(Scenes.Valid(Scenes.Bus(bus))));
    }

    [Theory]
    [InlineData("aux8")]
    [InlineData("aux0")]
    [InlineData("Program")]
    [InlineData("PROGRAM")]
    [InlineData("aux")]
    [InlineData("preview")]
    [InlineData("program ")]
    [InlineData("")]
    public void Refuses_other_bus_names(string bus)
    {
        Assert.False(Names.IsBus(bus));
        Assert.Equal($"bus '{bus}' is not a bus: use one of program, aux1, aux2, aux3, aux4, aux5, aux6, aux7",
            Single(Scenes.Valid(Scenes.Bus(bus))));
    }

    [Fact]
    public void Refuses_duplicate_and_empty_buses()
    {
        Assert.Equal("bus 'aux2' is listed twice", Single(Scenes.Valid(Scenes.Bus("aux2"), Scenes.Bus("program"), Scenes.Bus("aux2"))));
        Assert.Equal("a bus entry is empty", Single(Scenes.Valid() with { Buses = [Scenes.Bus("program"), null!] }));
        Assert.Equal("bus (missing) is not a bus: use one of program, aux1, aux2, aux3, aux4, aux5, aux6, aux7",
            Single(Scenes.Valid() with { Buses = [new BusDefinition { Name = null! }] }));
    }

    [Fact]
    public void Names_the_bus_and_box_of_an_unknown_input()
    {
        var scene = Scenes.Valid(Scenes.Bus("program"), Scenes.Bus("aux3", Scenes.Box("cam-a"), Scenes.Box("cam-z")));
        Assert.Equal("bus aux3: box 2 references unknown input 'cam-z'", Single(scene));
    }

    [Fact]
    public void An_invalid_input_is_not_known_to_boxes()
    {
        var scene = Scenes.Valid(Scenes.Bus("program", Scenes.Box("Cam-B"))) with { Inputs = [new() { Name = "cam-a" }, new() { Name = "Cam-B" }] };
        Assert.Equal([$"input 2: input name 'Cam-B' is invalid: {NameRule}", $"bus program: box 1: source input name 'Cam-B' is invalid: {NameRule}"],
            Validate(scene));
    }

    [Fact]
    public void An_empty_layout_shows_the_background_and_is_valid() =>
        Assert.Empty(Validate(Scenes.Valid(Scenes.Bus("program") with { Layout = [] })));

    [Fact]
    public void Limits_boxes_per_bus()
    {
        var boxes = Enumerable.Repeat(Scenes.Box("cam-a"), SceneValidator.MaxBoxesPerBus).ToArray();
        Assert.Empty(Validate(Scenes.Valid(Scenes.Bus("program", boxes))));
        Assert.Equal("bus program: 33 boxes, at most 32", Single(Scenes.Valid(Scenes.Bus("program", [.. boxes, Scenes.Box("cam-b")]))));
    }

    [Fact]
    public void Refuses_an_empty_box() =>
        Assert.Equal("bus program: box 2 is empty", Single(Scenes.Valid(Scenes.Bus("program") with { Layout = [Scenes.Box("cam-a"), null!] })));

    [Theory]
    [InlineData(16, 16)]
    [InlineData(4096, 4096)]
    [InlineData(1920, 1080)]
    [InlineData(1280, 720)]
    public void Accepts_even_frame_sizes_in_range(int width, int height)
    {
        var format = new OutputFormat { Width = width, Height = height };
        Assert.Empty(Validate(Scenes.Valid(Scenes.Bus("program", Scenes.Box("cam-a", width: 8, height: 8)) with { Format = format })));
    }

    [Theory]
    [InlineData(14, "width 14 must be even and between 16 and 4096")]
    [InlineData(4098, "width 4098 must be even and between 16 and 4096")]
    [InlineData(1281, "width 1281 must be even and between 16 and 4096")]
    [InlineData(0, "width 0 must be even and between 16 and 4096")]
    [InlineData(-1280, "width -1280 must be even and between 16 and 4096")]
    public void Refuses_bad_widths(int width, string message) =>
        Assert.Contains($"bus program: {message}", Validate(WithFormat(new OutputFormat { Width = width })));

    [Theory]
    [InlineData(14)]
    [InlineData(4098)]
    [InlineData(721)]
    public void Refuses_bad_heights(int height) =>
        Assert.Contains($"bus program: height {height} must be even and between 16 and 4096", Validate(WithFormat(new OutputFormat { Height = height })));

    [Theory]
    [InlineData(1, true)]
    [InlineData(120, true)]
    [InlineData(0, false)]
    [InlineData(121, false)]
    [InlineData(-30, false)]
    public void Limits_fps(int fps, bool ok) =>
        Assert.Equal(ok ? [] : [$"bus program: fps {fps} must be between 1 and 120"], Validate(WithFormat(new OutputFormat { Fps = fps })));

    [Theory]
    [InlineData(50, true)]
    [InlineData(100_000, true)]
    [InlineData(49, false)]
    [InlineData(100_001, false)]
    public void Limits_the_video_bitrate(int kbps, bool ok) =>
        Assert.Equal(ok ? [] : [$"bus program: videoBitrateKbps {kbps} must be between 50 and 100000"],
            Validate(WithFormat(new OutputFormat { VideoBitrateKbps = kbps })));

    [Theory]
    [InlineData(8, true)]
    [InlineData(510, true)]
    [InlineData(7, false)]
    [InlineData(511, false)]
    public void Limits_the_audio_bitrate(int kbps, bool ok) =>
        Assert.Equal(ok ? [] : [$"bus program: audioBitrateKbps {kbps} must be between 8 and 510"],
            Validate(WithFormat(new OutputFormat { AudioBitrateKbps = kbps })));

    [Theory]
    [InlineData(0.1, true)]
    [InlineData(10.0, true)]
    [InlineData(0.5, true)]
    [InlineData(0.09, false)]
    [InlineData(10.01, false)]
    [InlineData(0.0, false)]
    [InlineData(-1.0, false)]
    [InlineData(double.PositiveInfinity, false)]
    [InlineData(double.NaN, false)] // NaN compares false with every bound, so it needs its own check
    public void Limits_the_gop(double seconds, bool ok)
    {
        var errors = Validate(WithFormat(new OutputFormat { GopSeconds = seconds }));
        if (ok) Assert.Empty(errors);
        else Assert.Equal($"bus program: gopSeconds {seconds} must be between 0.1 and 10", Assert.Single(errors));
    }

    [Theory]
    [InlineData(0.0, true)]
    [InlineData(0.5, true)]
    [InlineData(1.0, true)]
    [InlineData(-0.01, false)]
    [InlineData(1.01, false)]
    [InlineData(double.NaN, false)]
    public void Limits_alpha(double alpha, bool ok) =>
        Assert.Equal(ok ? [] : [$"bus program: box 1: alpha {alpha} must be between 0 and 1"],
            Validate(WithBox(Scenes.Box("cam-a") with { Alpha = alpha })));

    [Theory]
    [InlineData(0, 0, 0, 0, true)]
    [InlineData(10, 20, 30, 40, true)]
    [InlineData(8192, 8192, 8192, 8192, true)]
    [InlineData(-1, 0, 0, 0, false)]
    [InlineData(0, -1, 0, 0, false)]
    [InlineData(0, 0, -1, 0, false)]
    [InlineData(0, 0, 0, -1, false)]
    [InlineData(8192, 0, 8193, 0, false)]
    [InlineData(0, 16384, 0, 1, false)]
    public void Limits_crop(int left, int top, int right, int bottom, bool ok) =>
        Assert.Equal(ok ? [] : ["bus program: box 1: crop values must be zero or positive pixel counts"],
            Validate(WithBox(Scenes.Box("cam-a") with { Crop = new Crop { Left = left, Top = top, Right = right, Bottom = bottom } })));

    [Theory]
    [InlineData(2, 2, true)]
    [InlineData(5120, 2880, true)] // four times the 1280x720 frame
    [InlineData(1, 360, false)]
    [InlineData(640, 1, false)]
    [InlineData(5122, 360, false)]
    [InlineData(640, 2882, false)]
    public void Limits_box_sizes(int width, int height, bool ok) =>
        Assert.Equal(ok ? [] : [$"bus program: box 1: size {width}x{height} must be at least 2x2 and at most four times the frame"],
            Validate(WithBox(Scenes.Box("cam-a", width: width, height: height))));

    [Theory]
    [InlineData(-639, -359, true)]  // one pixel still inside
    [InlineData(1279, 719, true)]
    [InlineData(-640, 0, false)]
    [InlineData(0, -360, false)]
    [InlineData(1280, 0, false)]
    [InlineData(0, 720, false)]
    public void Refuses_boxes_outside_the_frame(int x, int y, bool ok) =>
        Assert.Equal(ok ? [] : [$"bus program: box 1: the box at ({x},{y}) size 640x360 lies outside the 1280x720 frame"],
            Validate(WithBox(Scenes.Box("cam-a", x, y))));

    [Theory]
    [InlineData(-90.0, true)]
    [InlineData(20.0, true)]
    [InlineData(0.0, true)]
    [InlineData(-90.5, false)]
    [InlineData(20.5, false)]
    [InlineData(double.NaN, false)]
    [InlineData(double.NegativeInfinity, false)]
    public void Limits_audio_gains(double gainDb, bool ok) =>
        Assert.Equal(ok ? [] : [$"bus program: audio gain {gainDb} dB for 'cam-a' must be between -90 and +20"],
            Validate(Scenes.Valid(Scenes.Bus("program") with { Audio = new AudioMix { Sources = [new() { Input = "cam-a", GainDb = gainDb }] } })));

    [Fact]
    public void Checks_audio_sources()
    {
        AudioMix Mix(params AudioSource[] sources) => new() { Sources = sources };
        IReadOnlyList<string> Errors(AudioMix mix) => Validate(Scenes.Valid(Scenes.Bus("aux1") with { Audio = mix }));

        Assert.Empty(Errors(Mix(new AudioSource { Input = "cam-b", GainDb = -6 })));  // heard without being shown
        Assert.Empty(Errors(Mix()));                                          // silence
        Assert.Equal(["bus aux1: audio references unknown input 'cam-z'"], Errors(Mix(new AudioSource { Input = "cam-z" })));
        Assert.Equal(["bus aux1: audio lists input 'cam-a' twice"], Errors(Mix(new AudioSource { Input = "cam-a" }, new AudioSource { Input = "cam-a", GainDb = -3 })));
        Assert.Equal([$"bus aux1: audio: input name 'a b' is invalid: {NameRule}"], Errors(Mix(new AudioSource { Input = "a b" })));
        Assert.Equal([$"bus aux1: audio: input name (missing) is invalid: {NameRule}"], Errors(Mix((AudioSource)null!)));
    }

    [Fact]
    public void Reports_every_problem_at_once()
    {
        var scene = new SceneDefinition
        {
            Project = "Show",
            Inputs = [new() { Name = "cam-a" }, new() { Name = "cam-a" }, new() { Name = "x=y" }],
            Buses =
            [
                new BusDefinition
                {
                    Name = "program",
                    Format = new OutputFormat { Width = 1281, Fps = 0 },
                    Layout = [Scenes.Box("cam-z"), Scenes.Box("cam-a") with { Alpha = 2 }],
                    Audio = new AudioMix { Sources = [new() { Input = "cam-a", GainDb = 30 }] },
                },
                Scenes.Bus("aux8"),
                Scenes.Bus("program"),
            ],
        };
        Assert.Equal(
        [
            $"project name 'Show' is invalid: {NameRule}",
            "input 'cam-a' is listed twice",
            $"input 3: input name 'x=y' is invalid: {NameRule}",
            "bus program: width 1281 must be even and between 16 and 4096",
            "bus program: fps 0 must be between 1 and 120",
            "bus program: box 1 references unknown input 'cam-z'",
            "bus program: box 2: alpha 2 must be between 0 and 1",
            "bus program: audio gain 30 dB for 'cam-a' must be between -90 and +20",
            "bus 'aux8' is not a bus: use one of program, aux1, aux2, aux3, aux4, aux5, aux6, aux7",
            "bus 'program' is listed twice",
        ], Validate(scene));
    }
}
