using System.Text;
using System.Text.RegularExpressions;
using CsCheck;
using MixerWorker.ControlPlane;
using MixerWorker.Pipeline.Scene;

namespace MixerWorker.Tests.Fuzz;

/// <summary>
/// Generators of control input: valid scenes to start from, commands that are mostly plausible (names
/// from the scene, a few unknown or malformed ones, values in and out of range), and JSON text
/// mutations that turn either into what a buggy client or a corrupted store would send.
/// </summary>
public static partial class ControlInputGen
{
    public const string Project = "fuzz";
    public const string Logo = "logo.png";

    private static readonly string[] InputPool = ["cam1", "cam2", "cam3", "cam4"];
    private static readonly string[] OddNames = ["ghost", "", "CAM1", "cam 1", "a/b", "../x", "é", "aux9", new string('n', 64), "program"];
    private static readonly string[] BusPool = ["program", "aux1", "aux2"];
    private static readonly string[] OddBuses = ["aux9", "", "Program", "aux7", "cam1", "mv"];
    private static readonly OutputFormat Format = new() { Width = 320, Height = 180, Fps = 25, VideoBitrateKbps = 400, AudioBitrateKbps = 64 };

    // ---- scenes -------------------------------------------------------------------------------

    /// <summary>A valid scene: 1-4 inputs, program plus up to two AUX buses (one may be a multiview), layouts, previews, graphics.</summary>
    public static readonly Gen<SceneDefinition> Scene =
        Gen.Int[1, InputPool.Length].SelectMany(n => SceneWith(InputPool[..n]));

    private static Gen<SceneDefinition> SceneWith(string[] inputs) =>
        Gen.Select(Gen.Int[0, 2], Gen.Bool, Gen.Int[0, 1_000_000], Gen.Bool.Array[3], (auxCount, multiview, revision, faded) => (auxCount, multiview, revision, faded))
            .SelectMany(t => Gen.Select(
                CompositionBus("program", inputs, t.faded[0]),
                CompositionBus("aux1", inputs, t.faded[1]),
                CompositionBus("aux2", inputs, t.faded[2]),
                (program, aux1, aux2) =>
                {
                    var buses = new List<BusDefinition> { program };
                    if (t.auxCount >= 1) buses.Add(aux1);
                    if (t.auxCount >= 2) buses.Add(t.multiview ? new BusDefinition { Name = "aux2", Kind = BusKind.Multiview, Format = Format with { Width = 640, Height = 360 } } : aux2);
                    return new SceneDefinition
                    {
                        Project = Project,
                        Revision = t.revision,
                        Inputs = inputs.Select(i => new InputDefinition { Name = i }).ToList(),
                        Buses = buses,
                    };
                }));

    private static Gen<BusDefinition> CompositionBus(string name, string[] inputs, bool faded) =>
        Gen.Select(ShotOf(inputs), ShotOf(inputs).Null(), Transition, Gen.Int[0, 2], (onAir, preview, transition, layers) => new BusDefinition
        {
            Name = name,
            Format = Format,
            Layout = onAir.Preset is null ? onAir.Boxes : [],
            Preset = onAir.Preset,
            Preview = preview,
            Transition = transition,
            FadedToBlack = faded,
            Graphics = Enumerable.Range(0, layers).Select(i => new GraphicLayer { File = Logo, X = 4 * i, Y = 4 * i, Visible = i == 0 }).ToList(),
        });

    private static Gen<Shot> ShotOf(string[] inputs) => Gen.Frequency(
        (1, Preset(inputs).Select(p => new Shot { Preset = p })),
        (1, BoxOf(inputs).Array[0, 4].Select(b => new Shot { Boxes = b })));

    private static Gen<LayoutPreset> Preset(string[] inputs) =>
        Gen.Select(Gen.Enum<PresetKind>(), Gen.Shuffle(inputs, 1, inputs.Length), Gen.Enum<Corner>(), Gen.Double[0.1, 0.6], Gen.Int[0, 40], Gen.Enum<Fit>(),
            (kind, sources, corner, size, margin, fit) =>
            {
                var (min, max) = LayoutPresets.SourceCount(kind);
                var picked = sources.Take(max).ToList();
                while (picked.Count < min) picked.Add(inputs[0]);
                return new LayoutPreset { Kind = kind, Sources = picked, Corner = corner, Size = size, Margin = margin, Fit = fit };
            });

    private static Gen<Box> BoxOf(string[] inputs) =>
        Gen.Select(Gen.OneOf(inputs), Gen.Int[-100, 300], Gen.Int[-60, 170], Gen.Int[2, 400], Gen.Int[2, 240], Gen.Double[0, 1], Gen.Int[-3, 3], Gen.Enum<Fit>(),
            (source, x, y, w, h, alpha, z, fit) => new Box
            {
                Source = source, X = Math.Max(x, 2 - w), Y = Math.Max(y, 2 - h), Width = w, Height = h, Alpha = alpha, Z = z, Fit = fit,
            });

    private static readonly Gen<TransitionSpec> Transition =
        Gen.Select(Gen.Enum<TransitionKind>(), Gen.Int[0, 2000], Gen.Enum<Direction>(), Gen.Enum<DipColor>(),
            (kind, ms, direction, color) => new TransitionSpec { Kind = kind, DurationMs = ms, Direction = direction, Color = color });

    // ---- commands -----------------------------------------------------------------------------

    private static readonly Gen<string> BusName = Gen.Frequency((9, Gen.OneOf(BusPool)), (1, Gen.OneOf(OddBuses)));
    private static readonly Gen<string> InputName = Gen.Frequency((9, Gen.OneOf(InputPool)), (1, Gen.OneOf(OddNames)));
    private static readonly Gen<string[]> Sources = InputName.Array[0, 10];
    private static readonly Gen<int> Duration = Gen.Frequency((8, Gen.Int[0, 2000]), (1, Gen.Int[-2000, -1]), (1, Gen.Int[10_001, int.MaxValue]));
    private static readonly Gen<double> Gain = Gen.Frequency((8, Gen.Double[-90, 20]), (1, Gen.Double[-1e6, -90.001]), (1, Gen.Double[20.001, 1e6]));
    private static readonly Gen<string?> Id = Gen.Frequency((6, Gen.Int[0, 99999].Select(i => (string?)$"op-{i}")), (2, Gen.Const((string?)null)),
        (1, Gen.OneOf<string?>("", new string('i', 129), "tab\there", "é✓")));

    private static readonly Gen<TransitionSpec> AnyTransition =
        Gen.Select(Gen.Enum<TransitionKind>(), Duration, Gen.Enum<Direction>(), Gen.Enum<DipColor>(),
            (kind, ms, direction, color) => new TransitionSpec { Kind = kind, DurationMs = ms, Direction = direction, Color = color });

    private static readonly Gen<LayoutPreset> AnyPreset =
        Gen.Select(Gen.Enum<PresetKind>(), Sources, Gen.Enum<Corner>(), Gen.Double[0, 1], Gen.Int[-10, 250], Gen.Enum<Fit>(),
            (kind, sources, corner, size, margin, fit) => new LayoutPreset { Kind = kind, Sources = sources, Corner = corner, Size = size, Margin = margin, Fit = fit });

    private static readonly Gen<Box> AnyBox =
        Gen.Select(InputName, Gen.Int[-1000, 1000], Gen.Int[-1000, 1000], Gen.Int[-5, 2000], Gen.Int[-5, 1000], Gen.Double[-0.5, 1.5], Gen.Int, Gen.Enum<Fit>(),
            (source, x, y, w, h, alpha, z, fit) => new Box { Source = source, X = x, Y = y, Width = w, Height = h, Alpha = alpha, Z = z, Fit = fit });

    private static readonly Gen<Shot> AnyShot = Gen.Frequency(
        (4, AnyPreset.Select(p => new Shot { Preset = p })),
        (4, AnyBox.Array[0, 6].Select(b => new Shot { Boxes = b })),
        (1, Gen.Select(AnyPreset, AnyBox.Array[1, 3], (p, b) => new Shot { Preset = p, Boxes = b })));

    /// <summary>One of the eight commands, mostly aimed at what the generated scenes contain.</summary>
    public static readonly Gen<ShowCommand> Command = Gen.OneOf<ShowCommand>(
        Gen.Select(Id, BusName, (id, bus) => (ShowCommand)new CutCommand { Id = id, Bus = bus }),
        Gen.Select(Id, BusName, AnyTransition.Null(), (id, bus, t) => (ShowCommand)new AutoCommand { Id = id, Bus = bus, Transition = t }),
        Gen.Select(Id, BusName, Duration, (id, bus, ms) => (ShowCommand)new FadeToBlackCommand { Id = id, Bus = bus, DurationMs = ms }),
        Gen.Select(Id, BusName, AnyShot, (id, bus, shot) => (ShowCommand)new SetPreviewCommand { Id = id, Bus = bus, Shot = shot }),
        Gen.Select(Id, BusName, AnyShot, AnyTransition.Null(), (id, bus, shot, t) => (ShowCommand)new SetLayoutCommand { Id = id, Bus = bus, Shot = shot, Transition = t }),
        Gen.Select(Id, BusName, Gen.Int[-1, 4], Gen.Bool, (id, bus, layer, visible) => (ShowCommand)new GraphicsCommand { Id = id, Bus = bus, Layer = layer, Visible = visible }),
        Gen.Select(Id, InputName, Gain.Nullable(), Gen.Bool.Nullable(), Gen.Int[-100, 1200].Nullable(),
            (id, input, gain, muted, delay) => (ShowCommand)new InputAudioCommand { Id = id, Input = input, GainDb = gain, Muted = muted, DelayMs = delay }),
        Gen.Select(Id, BusName, Gen.Enum<AudioMode>().Nullable(), Gain.Nullable(), Gen.Select(InputName, Gain, (i, g) => new AudioSource { Input = i, GainDb = g }).Array[0, 5].Null(),
            (id, bus, mode, master, sources) => (ShowCommand)new BusAudioCommand { Id = id, Bus = bus, Mode = mode, MasterGainDb = master, Sources = sources }));

    // ---- mutations ----------------------------------------------------------------------------

    /// <summary>A JSON text mangled by 1-4 edits: deletions, insertions, replaced literals and keys, truncation, nesting, junk.</summary>
    public static Gen<string> Mutated(Gen<string> json) =>
        Gen.Select(json, Mutation.Array[1, 4], (text, edits) => edits.Aggregate(text, (t, edit) => edit(t)));

    private static readonly string[] Literals =
    [
        "null", "true", "false", "0", "-1", "1.5", "2147483648", "-2147483649", "9223372036854775808", "1e400", "-1e-400", "NaN",
        "\"\"", "\"x\"", "\"cut\"", "\"explode\"", "\"program\"", "\"aux9\"", "\"cam1\"", "\"ghost\"", "\"../../etc/passwd.png\"",
        "\"\\u0000\"", "\"\\ud800\"", "\"é✓\"", $"\"{new string('x', 300)}\"", "[]", "{}", "[1,2,3]", "{\"type\":\"cut\"}",
    ];
    private static readonly string[] Keys =
    [
        "type", "id", "bus", "input", "shot", "preset", "boxes", "kind", "sources", "transition", "durationMs", "layer", "visible",
        "gainDb", "muted", "delayMs", "mode", "masterGainDb", "project", "revision", "inputs", "buses", "layout", "name", "format",
        "width", "height", "x", "y", "graphics", "file", "colour", "$type", "", "TYPE",
    ];
    private const string Junk = "{}[]\":,.-+0123456789eEtrufalsn \\\u0000\u2028é\uFFFF";

    private static readonly Gen<Func<string, string>> Mutation = Gen.OneOf(
        // delete a span
        Gen.Select(Gen.Double[0, 1], Gen.Int[1, 12], (at, length) => (Func<string, string>)(t => Edit(t, at, length, ""))),
        // insert junk
        Gen.Select(Gen.Double[0, 1], Gen.OneOf(Junk.ToCharArray()).Array[1, 3], (at, chars) => (Func<string, string>)(t => Edit(t, at, 0, new string(chars)))),
        // replace a string or number literal by another literal of any type
        Gen.Select(Gen.Double[0, 1], Gen.OneOf(Literals), (at, literal) => (Func<string, string>)(t => ReplaceToken(t, LiteralPattern(), at, literal))),
        // give a known key a value of another type or range
        Gen.Select(Gen.OneOf(Keys), Gen.OneOf(Literals), (key, literal) => (Func<string, string>)(t => ReplaceValue(t, key, literal))),
        // rename a key
        Gen.Select(Gen.Double[0, 1], Gen.OneOf(Keys), (at, key) => (Func<string, string>)(t => ReplaceToken(t, KeyPattern(), at, $"\"{key}\":"))),
        // add a property (an unknown one or a duplicate of a known one)
        Gen.Select(Gen.Double[0, 1], Gen.OneOf(Keys), Gen.OneOf(Literals), (at, key, value) => (Func<string, string>)(t => AfterBrace(t, at, $"\"{key}\":{value},"))),
        // truncate
        Gen.Double[0, 1].Select(at => (Func<string, string>)(t => t[..(int)(at * t.Length)])),
        // bury the value in arrays deeper than the reader allows, or just a little
        Gen.Int[1, 80].Select(depth => (Func<string, string>)(t => new string('[', depth) + t + new string(']', depth))),
        // duplicate the text
        Gen.Const((Func<string, string>)(t => t + t)));

    private static string Edit(string text, double at, int length, string insert)
    {
        var start = Math.Min((int)(at * text.Length), text.Length);
        return text[..start] + insert + text[Math.Min(text.Length, start + length)..];
    }

    private static string ReplaceToken(string text, Regex pattern, double at, string replacement)
    {
        var matches = pattern.Matches(text);
        if (matches.Count == 0) return text;
        var m = matches[Math.Min((int)(at * matches.Count), matches.Count - 1)];
        return text[..m.Index] + replacement + text[(m.Index + m.Length)..];
    }

    private static string ReplaceValue(string text, string key, string literal)
    {
        var m = Regex.Match(text, "\"" + Regex.Escape(key) + "\"\\s*:\\s*(?:\"(?:[^\"\\\\]|\\\\.)*\"|[^,}\\]\\s]+)");
        return m.Success ? text[..m.Index] + $"\"{key}\": {literal}" + text[(m.Index + m.Length)..] : text;
    }

    private static string AfterBrace(string text, double at, string insert)
    {
        var braces = Enumerable.Range(0, text.Length).Where(i => text[i] == '{').ToList();
        if (braces.Count == 0) return text;
        var i = braces[Math.Min((int)(at * braces.Count), braces.Count - 1)];
        return text[..(i + 1)] + insert + text[(i + 1)..];
    }

    // A string literal that is not a key, or a number.
    [GeneratedRegex(@"""(?:[^""\\]|\\.)*""(?!\s*:)|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?")]
    private static partial Regex LiteralPattern();

    [GeneratedRegex(@"""(?:[^""\\]|\\.)*""\s*:")]
    private static partial Regex KeyPattern();

    /// <summary>A short printable summary of a text for failure reports.</summary>
    public static string Show(string text) => text.Length <= 400 ? text : text[..400] + $"… ({Encoding.UTF8.GetByteCount(text)} bytes)";
}
