namespace MixerWorker.Pipeline.Encoding;

public enum EncoderPreference { Auto, Nvenc, Va, Software }

/// <summary>
/// Picks a backend by probing element factories, then plans the chain from the compositor's output
/// to H.264: conversion, upload or nothing, depending on where the encoder wants its frames.
/// </summary>
public sealed class EncoderChainBuilder(IElementProbe probe, IReadOnlyList<IVideoEncoderBackend>? backends = null)
{
    /// <summary>Every backend, in the order they are preferred: hardware first, software last.</summary>
    public static readonly IReadOnlyList<IVideoEncoderBackend> AllBackends = [new NvencBackend(), new VaBackend(), new SoftwareX264Backend()];

    private readonly IReadOnlyList<IVideoEncoderBackend> _backends = backends ?? AllBackends;

    /// <summary>
    /// Whether a bus tries every backend but the last on a few frames before it goes on air (so one
    /// that refuses to open never stalls a live bus). Off only in tests of a failure inside a live bus.
    /// </summary>
    public bool TrialRuns { get; init; } = true;

    /// <summary>The compositor's output: system memory, I420.</summary>
    public static readonly FrameState CompositorOutput = new(FrameLocation.System, "I420");

    public IVideoEncoderBackend Select(EncoderPreference preference)
    {
        if (preference == EncoderPreference.Auto)
            return _backends.FirstOrDefault(b => b.IsAvailable(probe))
                ?? throw new InvalidOperationException("no H.264 encoder is available: install gstreamer1.0-plugins-ugly for x264enc");
        var wanted = _backends.Single(b => b.Name.Equals(preference.ToString(), StringComparison.OrdinalIgnoreCase));
        return wanted.IsAvailable(probe) ? wanted
            : throw new InvalidOperationException($"encoder backend '{wanted.Name}' was requested but its GStreamer elements are not available on this host");
    }

    /// <summary>
    /// The backends a bus tries in turn when its encoder fails (no session left, a driver without the
    /// preset or entry point, an error mid-show): the selected one, then every other available one in
    /// the order of preference, software last.
    /// </summary>
    public IReadOnlyList<IVideoEncoderBackend> FallbackOrder(EncoderPreference preference)
    {
        var first = Select(preference);
        return [first, .. _backends.Where(b => b != first && b.IsAvailable(probe))];
    }

    public EncoderChainPlan Plan(IVideoEncoderBackend backend, VideoEncodeSettings settings)
    {
        var elements = new List<ElementSpec>();
        var target = backend.Accepts(probe).First(CanReach);
        elements.AddRange(Transfer(CompositorOutput, target));
        elements.Add(backend.Encoder(probe, settings));
        elements.Add(ElementSpec.CapsFilter(H264Output.Caps));
        return new EncoderChainPlan(backend.Name, elements);
    }

    private bool CanReach(FrameState target) => target.Location switch
    {
        FrameLocation.Cuda => probe.Has("cudaupload") && probe.Has("cudaconvert"),
        FrameLocation.Va => probe.Has("vapostproc"),
        _ => true,
    };

    // Steps from system memory to the encoder's input. Conversion happens where the frames end up,
    // so a GPU does the colour conversion when there is one.
    private static IEnumerable<ElementSpec> Transfer(FrameState from, FrameState to)
    {
        if (from == to) yield break;
        switch (to.Location)
        {
            case FrameLocation.Cuda:
                yield return new ElementSpec("cudaupload");
                yield return new ElementSpec("cudaconvert");
                break;
            case FrameLocation.Va:
                yield return new ElementSpec("vapostproc");
                break;
            default:
                yield return new ElementSpec("videoconvert");
                break;
        }
        yield return ElementSpec.CapsFilter(to.Caps);
    }
}

/// <summary>The probe backed by this process's GStreamer registry.</summary>
public sealed class GstElementProbe : IElementProbe
{
    public bool Has(string factory) => Interop.GstRuntime.HasElement(factory);
    public Version GStreamerVersion => Interop.GstRuntime.Version;
}
