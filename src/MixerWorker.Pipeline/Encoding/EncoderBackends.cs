namespace MixerWorker.Pipeline.Encoding;

/// <summary>Which element factories exist, and the GStreamer version: everything backend choice depends on.</summary>
public interface IElementProbe
{
    bool Has(string factory);
    Version GStreamerVersion { get; }
}

/// <summary>One way to encode H.264: which element, the frames it accepts and its low-latency settings.</summary>
public interface IVideoEncoderBackend
{
    string Name { get; }
    bool IsAvailable(IElementProbe probe);
    /// <summary>The frame states the encoder accepts, best first.</summary>
    IReadOnlyList<FrameState> Accepts(IElementProbe probe);
    ElementSpec Encoder(IElementProbe probe, VideoEncodeSettings settings);
}

// Browsers receive exactly what we publish (MediaMTX never re-encodes): H.264 without B-frames,
// constrained baseline so every WebRTC decoder takes it, byte-stream access units for MPEG-TS.
internal static class H264Output
{
    internal const string Caps = "video/x-h264,profile=constrained-baseline,stream-format=byte-stream,alignment=au";
}

/// <summary>x264 on the CPU: always there, the reference every other backend must match.</summary>
/// <remarks>
/// x264enc applies the speed preset and tune first and then every property the caller set, even to
/// its default value, so a set property always wins over the preset: setting <c>trellis</c> to
/// x264enc's default (true) would switch trellis quantisation back on under ultrafast. The properties
/// below that override the preset are therefore set on purpose, each to what ultrafast/zerolatency
/// wants, so that no later edit here or of x264enc's defaults changes what is encoded; x264's own
/// record of its settings (an SEI in the stream) is read back by EncoderSettingsTests.
/// </remarks>
public sealed class SoftwareX264Backend : IVideoEncoderBackend
{
    public string Name => "software";
    public bool IsAvailable(IElementProbe probe) => probe.Has("x264enc");
    public IReadOnlyList<FrameState> Accepts(IElementProbe probe) => [new(FrameLocation.System, "I420")];

    public ElementSpec Encoder(IElementProbe probe, VideoEncodeSettings s)
    {
        var threads = Threads(s);
        return new("x264enc",
            ("tune", "zerolatency"), ("speed-preset", "ultrafast"), ("bitrate", s.BitrateKbps), ("key-int-max", s.GopFrames),
            // Browsers get no B-frames; no look-ahead holds frames back.
            ("bframes", 0), ("b-adapt", false), ("rc-lookahead", 0), ("mb-tree", false),
            // What ultrafast turns off, kept off: x264enc's own defaults would turn them on.
            ("trellis", false), ("dct8x8", false), ("cabac", false), ("weightb", false), ("ref", 1),
            ("threads", threads), ("sliced-threads", threads > 1));
    }

    /// <summary>
    /// One encoding thread up to 720p30: ultrafast encodes such a frame in a few milliseconds, and a
    /// second slice thread per bus only adds threads and bits (8 buses on 2 cores gain nothing from
    /// them). Larger or faster formats get slice threads, which add no delay, one per 720p30 of pixels.
    /// </summary>
    internal static int Threads(VideoEncodeSettings s)
    {
        const long Reference = 1280L * 720 * 30;
        var load = (long)s.Width * s.Height * Math.Max(1, s.Fps);
        return (int)Math.Clamp((load + Reference - 1) / Reference, 1, 4);
    }
}

/// <summary>
/// NVENC through nvcodec. The element and its property names changed across GStreamer releases
/// (gpu-facts: 1.26 renamed nvcuda*enc to nv*enc; 1.22 offers only legacy presets, which drivers
/// from 590 on reject, so 1.22 hosts need an older driver).
/// </summary>
public sealed class NvencBackend : IVideoEncoderBackend
{
    public string Name => "nvenc";

    private static bool Modern(IElementProbe p) => p.GStreamerVersion >= new Version(1, 26);

    private static string Factory(IElementProbe p) => Modern(p) ? "nvh264enc" : "nvcudah264enc";

    public bool IsAvailable(IElementProbe probe) => probe.Has(Factory(probe));

    // Both take system memory and upload themselves, but CUDA NV12 is the native input; with
    // cudaupload/cudaconvert present we convert on the GPU instead of the CPU.
    public IReadOnlyList<FrameState> Accepts(IElementProbe probe) => [new(FrameLocation.Cuda, "NV12"), new(FrameLocation.System, "NV12")];

    public ElementSpec Encoder(IElementProbe probe, VideoEncodeSettings s)
    {
        if (Modern(probe))
            return new ElementSpec("nvh264enc", ("preset", "p1"), ("tune", "ultra-low-latency"), ("rc-mode", "cbr"),
                ("bitrate", s.BitrateKbps), ("gop-size", s.GopFrames), ("zerolatency", true), ("repeat-sequence-header", true));
        var spec = new ElementSpec("nvcudah264enc", ("rate-control", "cbr"), ("bitrate", s.BitrateKbps), ("gop-size", s.GopFrames),
            ("zero-reorder-delay", true), ("repeat-sequence-header", true),
            ("preset", probe.GStreamerVersion >= new Version(1, 24) ? "p1" : "low-latency-hp"));
        return probe.GStreamerVersion >= new Version(1, 24) ? spec.WithOptional("tune", "ultra-low-latency") : spec;
    }
}

/// <summary>
/// VA-API through the 'va' plugin (gstreamer-vaapi is gone from 1.28). The low-power encoder comes
/// first because Intel's free driver encodes H.264 only in low-power mode; the full encoder needs the
/// non-free driver.
/// </summary>
public sealed class VaBackend : IVideoEncoderBackend
{
    public string Name => "va";

    private static string? Factory(IElementProbe p) =>
        p.Has("vah264lpenc") ? "vah264lpenc" : p.Has("vah264enc") ? "vah264enc" : null;

    public bool IsAvailable(IElementProbe probe) => Factory(probe) is not null;

    public IReadOnlyList<FrameState> Accepts(IElementProbe probe) => [new(FrameLocation.Va, "NV12"), new(FrameLocation.System, "NV12")];

    // rate-control and target-usage exist only where the driver supports them, hence optional.
    public ElementSpec Encoder(IElementProbe probe, VideoEncodeSettings s) =>
        new ElementSpec(Factory(probe) ?? "vah264enc", ("b-frames", 0), ("key-int-max", s.GopFrames), ("bitrate", s.BitrateKbps))
            .WithOptional("rate-control", "cbr").WithOptional("target-usage", 7);
}
