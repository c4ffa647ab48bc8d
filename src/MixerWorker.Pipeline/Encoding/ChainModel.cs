namespace MixerWorker.Pipeline.Encoding;

/// <summary>Where frames live between elements. Uploads and downloads are added only where it changes.</summary>
public enum FrameLocation { System, Cuda, Va }

/// <summary>What flows on a link: the memory it lives in and its raw format.</summary>
public sealed record FrameState(FrameLocation Location, string Format)
{
    public string CapsFeature => Location switch
    {
        FrameLocation.Cuda => "video/x-raw(memory:CUDAMemory)",
        FrameLocation.Va => "video/x-raw(memory:VAMemory)",
        _ => "video/x-raw",
    };

    public string Caps => $"{CapsFeature},format={Format}";
}

/// <summary>One element to create, with properties in GStreamer's string form. An optional property
/// is set only when the element has it (hardware encoders install some per device).</summary>
public sealed record ElementSpec(string Factory, IReadOnlyList<PropertySpec> Properties)
{
    public ElementSpec(string factory, params (string Name, object Value)[] properties)
        : this(factory, properties.Select(p => new PropertySpec(p.Name, p.Value)).ToList()) { }

    public static ElementSpec CapsFilter(string caps) => new("capsfilter", ("caps", caps));

    public ElementSpec WithOptional(string name, object value) => this with { Properties = [.. Properties, new PropertySpec(name, value, Optional: true)] };

    public object? Get(string name) => Properties.FirstOrDefault(p => p.Name == name)?.Value;

    public override string ToString() => Factory == "capsfilter"
        ? Get("caps")?.ToString() ?? "capsfilter"
        : $"{Factory}{string.Concat(Properties.Select(p => $" {p.Name}={p.Value}"))}";
}

public sealed record PropertySpec(string Name, object Value, bool Optional = false);

/// <summary>What a bus asks of its video encoder.</summary>
public sealed record VideoEncodeSettings(int Width, int Height, int Fps, int BitrateKbps, int GopFrames);

/// <summary>The elements that turn the compositor's frames into H.264 for MPEG-TS, in order.</summary>
public sealed record EncoderChainPlan(string Backend, IReadOnlyList<ElementSpec> Elements)
{
    /// <summary>Where the encoder stands in <see cref="Elements"/>: after what brings it frames, before its output caps.</summary>
    public int EncoderIndex => Elements.Count - 2;

    public override string ToString() => $"{Backend}: {string.Join(" ! ", Elements)}";
}
