using System.Globalization;
using MixerWorker.Pipeline.Scene;

namespace MixerWorker.Pipeline.Builders;

/// <summary>What an element of a project's pipeline belongs to; the first part of its name.</summary>
internal enum ElementKind
{
    /// <summary>"in": an input's decoded, normalised fan-out (lives as long as the input is in the scene).</summary>
    Input,
    /// <summary>"src": one SRT connection of an input, with a generation.</summary>
    Source,
    /// <summary>"bus": a bus's compositor, audio mix, encoder and muxer.</summary>
    Bus,
    /// <summary>"box": one box (or multiview tile) drawn on a bus, with a number unique on the bus.</summary>
    Box,
    /// <summary>"scale": one picture source (an input, or a bus's mix for a multiview) scaled to one size, crop and fit, shared by every box that shows it so; with a number unique in the project.</summary>
    Scaler,
    /// <summary>"abox": one input heard on a bus; the input is the part.</summary>
    AudioBox,
    /// <summary>"gfx": one graphics layer of a bus, with a number unique on the bus.</summary>
    Graphic,
    /// <summary>"veil": a bus's dip or fade-to-black colour; which one is the part.</summary>
    Veil,
    /// <summary>"out": one SRT publish connection of a bus, with a generation.</summary>
    Output,
}

/// <summary>
/// The identity of an element in a project's pipeline, and the one place its GStreamer name is
/// written and read: <c>kind.owner[.generation][.part]</c>, e.g. <c>src.cam-a.3</c> (input cam-a's
/// third connection), <c>src.cam-a.3.demux</c> (an element inside it), <c>bus.program.compositor</c>,
/// <c>abox.program.cam-a</c>. Owners are validated names (no '.'), and only the kinds that are
/// rebuilt carry a generation, so every name reads back unambiguously. Bus messages carry the path of
/// the element they come from; <see cref="OwnerOf"/> turns it back into the identity that owns it.
/// </summary>
internal readonly record struct ElementName(ElementKind Kind, string Owner, int? Generation = null, string? Part = null)
{
    internal static ElementName Input(string input) => new(ElementKind.Input, input);
    internal static ElementName Source(string input, int generation) => new(ElementKind.Source, input, generation);
    internal static ElementName Bus(string bus) => new(ElementKind.Bus, bus);
    internal static ElementName Box(string bus, int number) => new(ElementKind.Box, bus, number);
    internal static ElementName Scaler(string source, int number) => new(ElementKind.Scaler, source, number);
    internal static ElementName AudioBox(string bus, string input) => new(ElementKind.AudioBox, bus, Part: input);
    internal static ElementName Graphic(string bus, int number) => new(ElementKind.Graphic, bus, number);
    internal static ElementName Veil(string bus, string which) => new(ElementKind.Veil, bus, Part: which);
    internal static ElementName Output(string bus, int generation) => new(ElementKind.Output, bus, generation);

    /// <summary>The GStreamer name, so an identity can be passed wherever an element is named.</summary>
    public static implicit operator string(ElementName name) => name.ToString();

    /// <summary>An element inside (or belonging to) this one: <c>bus.program</c> → <c>bus.program.compositor</c>.</summary>
    internal ElementName Child(string part) => this with { Part = Part is null ? part : $"{Part}.{part}" };

    /// <summary>The bus this element is drawn or heard on, for the kinds that belong to one.</summary>
    internal string? BusName => Kind is ElementKind.Bus or ElementKind.Box or ElementKind.AudioBox ? Owner : null;

    private static bool HasGeneration(ElementKind kind) =>
        kind is ElementKind.Source or ElementKind.Output or ElementKind.Box or ElementKind.Scaler or ElementKind.Graphic;

    private static readonly (ElementKind Kind, string Token)[] Tokens =
    [
        (ElementKind.Input, "in"), (ElementKind.Source, "src"), (ElementKind.Bus, "bus"), (ElementKind.Box, "box"),
        (ElementKind.Scaler, "scale"), (ElementKind.AudioBox, "abox"), (ElementKind.Graphic, "gfx"), (ElementKind.Veil, "veil"), (ElementKind.Output, "out"),
    ];

    private static string Token(ElementKind kind) => Array.Find(Tokens, t => t.Kind == kind).Token;

    public override string ToString()
    {
        var name = $"{Token(Kind)}.{Owner}";
        if (HasGeneration(Kind)) name += "." + (Generation ?? 0).ToString(CultureInfo.InvariantCulture);
        return Part is null ? name : $"{name}.{Part}";
    }

    /// <summary>Reads an element's name back; null for a name the engine did not write (GStreamer's own, a test's).</summary>
    internal static ElementName? Parse(string name)
    {
        var parts = name.Split('.', 3);
        if (parts.Length < 2 || !Names.IsValid(parts[1])) return null;
        var token = parts[0];
        var found = Array.FindIndex(Tokens, t => t.Token == token);
        if (found < 0) return null;
        var kind = Tokens[found].Kind;
        if (!HasGeneration(kind)) return new ElementName(kind, parts[1], null, parts.Length > 2 ? parts[2] : null);
        if (parts.Length < 3) return null;
        var rest = parts[2].Split('.', 2);
        return int.TryParse(rest[0], NumberStyles.None, CultureInfo.InvariantCulture, out var generation)
            ? new ElementName(kind, parts[1], generation, rest.Length > 1 ? rest[1] : null)
            : null;
    }

    /// <summary>
    /// The outermost engine element on an object path as bus messages carry it
    /// ("/GstPipeline:pipeline0/GstBin:src.cam-a.3/GstAppSrc:src.cam-a.3.appsrc" → src.cam-a.3), or null.
    /// </summary>
    internal static ElementName? OwnerOf(string path)
    {
        foreach (var segment in path.Split('/'))
            if (Parse(segment[(segment.IndexOf(':') + 1)..]) is { } name) return name;
        return null;
    }

    /// <summary>The element a message came from itself: the last segment of its path.</summary>
    internal static ElementName? SourceOf(string path)
    {
        var segment = path[(path.LastIndexOf('/') + 1)..];
        return Parse(segment[(segment.IndexOf(':') + 1)..]);
    }
}
