using MixerWorker.Pipeline.Encoding;
using MixerWorker.Pipeline.Interop;

namespace MixerWorker.Pipeline.Builders;

/// <summary>Turns element specs into elements. Properties go through the API, never through a launch string.</summary>
internal static class ElementFactory
{
    internal static Element Create(ElementSpec spec, string name)
    {
        var e = Element.Make(spec.Factory, name);
        try
        {
            foreach (var p in spec.Properties)
            {
                if (p.Optional && !e.HasProperty(p.Name)) continue;
                e.Set(p.Name, p.Value);
            }
            return e;
        }
        catch { e.Dispose(); throw; }
    }

    /// <summary>
    /// The elements of an encoder chain, in link order, each named by its place; the encoder among them
    /// is never asked to allocate for caps it refused (<see cref="AllocationGuard"/>: x264 would take the
    /// process down).
    /// </summary>
    internal static List<Element> CreateChain(EncoderChainPlan plan, Func<int, string> name)
    {
        var made = new List<Element>();
        try
        {
            for (var i = 0; i < plan.Elements.Count; i++) made.Add(Create(plan.Elements[i], name(i)));
            made[plan.EncoderIndex].RefuseAllocationForUnacceptedCaps();
            return made;
        }
        catch
        {
            foreach (var e in made) e.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Lets a bus's live aggregator (compositor, audiomixer; force-live) start its output where the pipeline's running
    /// time is. GStreamer chooses that itself from the first buffer (start-time-selection=first), except that 1.24 to
    /// 1.27 take a force-live aggregator's start from the clock at its first wait: one that waits while the pipeline
    /// first goes to PLAYING, when it has been given the clock but not yet its base time, takes the clock's own time
    /// (hours of uptime) and makes nothing until the running time reaches it, a bus without sound or pictures (fixed
    /// upstream for 1.28, "aggregator: Prevent start time selection before reaching PLAYING"). There, built before the
    /// pipeline first plays, it is told to start at 0, where the running time begins (start-time-selection=set). One
    /// built into a playing pipeline gets its base time when it is added, before any clock, so it chooses as elsewhere;
    /// and "set" would not place it there: before its first buffer an aggregator times out from its segment's start, 0.
    /// </summary>
    internal static void StartOnTheClock(Element aggregator, Element pipeline) =>
        aggregator.Set("start-time-selection", StartSelection(GstRuntime.Version, pipeline.RunningTimeNow() is not null));

    /// <summary>How a bus's live aggregator is told to choose its start (<see cref="StartOnTheClock"/>).</summary>
    internal static string StartSelection(Version version, bool pipelinePlaying) =>
        version >= new Version(1, 24) && version < new Version(1, 28) && !pipelinePlaying ? "set" : "first";

    /// <summary>
    /// The colour every picture has on its way into a compositor and out of it: BT.709, chroma sited
    /// as H.264 sites it (mpeg2). Fixed, so that boxes (scaled to it once, <see cref="ScaledFeed"/>),
    /// cards, veils and the bus's output all agree: the compositor converts every pad whose
    /// colorimetry or chroma siting differs from its output, for every frame, and left to itself it
    /// took the output's from whichever pad came last (a 16x16 test source's BT.601 while the HD
    /// inputs' boxes were BT.709: four colour conversions per frame on a 2x2 bus, about a third of
    /// the mixing CPU).
    /// </summary>
    internal const string MixColour = "colorimetry=bt709,chroma-site=mpeg2";

    /// <summary>Raw caps of a picture in the mix: I420, square pixels, <see cref="MixColour"/>; the frame rate when given.</summary>
    internal static string MixVideoCaps(int width, int height, string? framerate = null) =>
        $"video/x-raw,format=I420,width={width},height={height},{(framerate is null ? "" : $"framerate={framerate},")}pixel-aspect-ratio=1/1,{MixColour}";

    internal static Element CapsFilter(string name, string caps)
    {
        var e = Element.Make("capsfilter", name);
        e.SetCaps(caps);
        return e;
    }

    /// <summary>A queue that drops the oldest data instead of blocking: one slow consumer must
    /// never hold up the shared decoder feeding every bus.</summary>
    internal static Element LeakyQueue(string name, int maxBuffers, ulong maxTimeNs = 0, long maxBytes = 0)
    {
        var q = Element.Make("queue", name);
        q.Set("leaky", "downstream");
        q.Set("max-size-buffers", maxBuffers);
        q.Set("max-size-bytes", maxBytes);
        q.Set("max-size-time", maxTimeNs);
        return q;
    }

    /// <summary>How often an input's or bus's meter (<see cref="SoundMeter"/>) reads: ten times a second.</summary>
    internal static readonly TimeSpan MeterInterval = TimeSpan.FromMilliseconds(100);

    /// <summary>Adds elements to a bin and links them in order.</summary>
    internal static void AddChain(Element bin, IReadOnlyList<Element> chain)
    {
        foreach (var e in chain) bin.Add(e);
        Element.LinkMany([.. chain]);
    }

    /// <summary>Adds elements to the pipeline and links them in order.</summary>
    internal static void AddChain(Graph graph, IReadOnlyList<Element> chain)
    {
        foreach (var e in chain) graph.Add(e);
        Element.LinkMany([.. chain]);
    }
}
