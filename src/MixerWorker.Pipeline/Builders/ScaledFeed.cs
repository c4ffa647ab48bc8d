using MixerWorker.Pipeline.Interop;
using MixerWorker.Pipeline.Scene;

namespace MixerWorker.Pipeline.Builders;

/// <summary>
/// One picture source (an input's tee, or a bus's mix for a multiview tile) cropped and scaled once
/// to one size and fit, in I420, and fanned out by a tee to every box on any bus that shows it so:
/// source tee → leaky queue → crop → scale → colour → caps → tee. Made and released by <see cref="ScalerPool"/>.
/// </summary>
internal sealed class ScaledFeed : IDisposable
{
    // The scaler works on its own thread, so one input's scalings run side by side rather than one
    // after another on its decoder's thread. Nothing downstream blocks it (every box has its own
    // leaky queue after the tee), so this queue only fills when the scaler cannot keep up (a machine
    // short of CPU), and then it must not become a standing delay: 30 pictures, full while the
    // scaler ran a little slower than its input, held every picture a second, far past the buses'
    // deadline, and every box showing the feed showed it a second late. So it holds no more than the
    // buses wait for (their latency): older pictures could be shown by no bus, and go first. The
    // boxes then move at the rate the scaler manages, never later. See docs/architecture.md, "Live timing".
    private const int MaxQueuedPictures = 30;
    // A bus configured to wait for nothing still lets a scaling or two wait (a time of 0 would be no limit).
    private const ulong MinQueuedNs = 40_000_000;

    private readonly Graph _graph;
    private readonly Element _sourceTee;
    private readonly Element[] _chain;
    private readonly Element _scale;
    private readonly Pad _sourcePad, _entry, _exit;
    private readonly ProbeHandle _queries, _demand, _leaving, _labelling, _converting;
    // Set by the caps the scaler takes, read for each picture it makes (both on the scaler's thread).
    private bool _convertFrom601;
    private readonly I420Action _convert;
    // Each box attached: whether it shows the picture at a running time arriving at a running time
    // (BoxBranch.Shows), and what it does with a picture the queue dropped (BoxBranch.Lost). The control
    // thread replaces the array, the source's and the scaler's threads read it.
    private volatile Viewer[] _viewers = [];
    // The pictures in the queue, oldest first (PTS, running time): one that the queue lets through after
    // others were put in before it means those were dropped as too old (the queue drops silently).
    private readonly Queue<(ulong Pts, ulong RunningTime)> _queued = new();
    private readonly Lock _queuedLock = new();

    private readonly record struct Viewer(Func<ulong, ulong?, bool> Shows, Action<ulong> Lost);

    internal ScaleKey Key { get; }
    internal string Source { get; }
    /// <summary>The tee the boxes take their pictures from.</summary>
    internal Element Tee => _chain[^1];
    /// <summary>Boxes attached. Control thread.</summary>
    internal int Users { get; set; }

    /// <param name="latency">How long the buses wait for a picture past its running time: the most this scaler queues.</param>
    internal ScaledFeed(Graph graph, ElementName name, string source, Element sourceTee, ScaleKey key, TimeSpan latency)
    {
        _graph = graph;
        _sourceTee = sourceTee;
        Source = source;
        Key = key;
        var crop = Element.Make("videocrop", name.Child("crop"));
        var c = key.Crop;
        crop.SetNumber("left", c.Left);
        crop.SetNumber("right", c.Right);
        crop.SetNumber("top", c.Top);
        crop.SetNumber("bottom", c.Bottom);
        // Scales first, then converts what is left where the source's colour is not the mix's: a box has a
        // quarter of the picture's pixels or fewer. One videoconvertscale doing both converted the colour at the
        // source's size: on the 8-bus 360p job (BT.601 feeds) each shared scaler took 2.6 % of a core, five times
        // the hand graph's plain videoscale. An SD camera's BT.601 is converted by MixColourConversion, on the
        // scaled picture, ten times cheaper than the converter's generic path; the converter is left with what
        // that does not take, and passes every other picture untouched.
        _scale = Element.Make("videoscale", name.Child("scale"));
        _scale.Set("add-borders", key.Fit == Fit.Contain);
        var convert = Element.Make("videoconvert", name.Child("convert"));
        // As MixColourConversion: the chroma is not resampled to the mix's siting (a quarter-pixel move of the colour planes at the box's size,
        // and the caps still name the mix's siting, so the compositor does not convert again): resampling it was
        // half of the converter's work on an SD camera's pictures.
        convert.Set("chroma-mode", "none");
        // The buses' own format and colour: without the format the scaler would negotiate the
        // compositor's richest (4:4:4 10-bit), without the colour the compositor's output could
        // differ from the box's; either way the compositor would convert every box again for every
        // frame, a second conversion per box that cost most of the mixing CPU.
        var caps = ElementFactory.CapsFilter(name.Child("caps"), ElementFactory.MixVideoCaps(key.Width, key.Height));
        var tee = Element.Make("tee", name.Child("tee"));
        tee.Set("allow-not-linked", true);
        _chain = [ElementFactory.LeakyQueue(name.Child("queue"), MaxQueuedPictures, Math.Max(MinQueuedNs, ClockTime.FromTimeSpan(latency))), crop, _scale, convert, caps, tee];
        ElementFactory.AddChain(graph, _chain);
        // The scaler's allocation (and drain) query would go through the tee to every box's queue
        // and wait there behind the pictures of the slowest bus, holding every other bus showing
        // this feed. Raw video in system memory needs nothing from downstream, so it is answered here.
        using (var teeSink = tee.StaticPad("sink"))
            _queries = graph.AddProbe(teeSink, ProbeType.QueryDownstream,
                info => info.Query is QueryType.Allocation or QueryType.Drain ? ProbeReturn.Handled : ProbeReturn.Ok);
        foreach (var e in Enumerable.Reverse(_chain)) e.SyncStateWithParent();
        _entry = _chain[0].StaticPad("sink");
        _demand = graph.AddProbe(_entry, ProbeType.Buffer, OnPicture);
        _convert = (picture, planes) => MixColourConversion.Bt601ToBt709(picture, planes, key.Width, key.Height);
        using (var scaleSink = _scale.StaticPad("sink"))
            _labelling = graph.AddProbe(scaleSink, ProbeType.EventDownstream, OnSourceCaps);
        using (var scaleSrc = _scale.StaticPad("src"))
            _converting = graph.AddProbe(scaleSrc, ProbeType.Buffer, OnScaled);
        _exit = _chain[0].StaticPad("src");
        _leaving = graph.AddProbe(_exit, ProbeType.Buffer, OnLeaving);
        _sourcePad = sourceTee.RequestPad("src_%u");
        _sourcePad.Link(_entry);
    }

    /// <summary>
    /// Adds a box's test of which pictures it shows (<see cref="BoxBranch.Shows"/>) and what it is told of a picture
    /// the queue dropped as too old (its running time; <see cref="BoxBranch.Lost"/>). Control thread.
    /// </summary>
    internal void AddViewer(Func<ulong, ulong?, bool> shows, Action<ulong> lost) => _viewers = [.. _viewers, new Viewer(shows, lost)];

    /// <summary>
    /// A picture of the source at <paramref name="runningTime"/> that will never come (its input's decoder skipped it to
    /// catch up, <see cref="Sources.DecoderCatchUp"/>): listed in its place among the pictures queued, so the boxes are
    /// told of it, as of a picture the queue dropped, once the next picture leaves. The source's thread.
    /// </summary>
    internal void Skipped(ulong runningTime)
    {
        if (_viewers.Length == 0) return;
        lock (_queuedLock) Enqueue((NeverLeaves, runningTime));
    }

    // What no picture leaving the queue has as its PTS (GStreamer's "none").
    private const ulong NeverLeaves = ulong.MaxValue;
    // The queue's pictures and a decoder's skip to its next keyframe (two seconds of a 60 fps input) with room to spare.
    private const int MaxListed = 4 * MaxQueuedPictures + 120;

    // Under _queuedLock. A picture that left without this probe seeing it leaves its entry behind; the queue holds fewer.
    private void Enqueue((ulong Pts, ulong RunningTime) picture)
    {
        if (_queued.Count >= MaxListed) _queued.Dequeue();
        _queued.Enqueue(picture);
    }

    /// <summary>Removes what <see cref="AddViewer"/> added. Control thread.</summary>
    internal void RemoveViewer(Func<ulong, ulong?, bool> shows) => _viewers = [.. _viewers.Where(v => v.Shows != shows)];

    // The source's thread, before the queue: a picture no box will show (only shedding AUX buses use
    // this scaler, none of them makes the frame it is for, and it does not come late just before one
    // they make) is not queued, cropped or scaled. The AUX buses' own compositors would throw it away,
    // after it had been scaled at the input's full rate.
    private ProbeReturn OnPicture(ProbeInfo info)
    {
        var viewers = _viewers;
        if (viewers.Length == 0 || info.BufferRunningTime(_entry) is not { } rt || info.BufferPts is not { } pts) return ProbeReturn.Ok;
        var now = _graph.Pipeline.RunningTimeNow();
        foreach (var v in viewers)
            if (v.Shows(rt, now))
            {
                lock (_queuedLock) Enqueue((pts, rt));
                return ProbeReturn.Ok;
            }
        return ProbeReturn.Drop;
    }

    // The scaler's thread, as a picture leaves the queue: those put in before it and still listed were dropped, too
    // old for any bus, or skipped before their decoder (Skipped), and each box that would have shown one is told, so it
    // counts the frame it shows without it.
    private ProbeReturn OnLeaving(ProbeInfo info)
    {
        if (info.BufferPts is not { } pts) return ProbeReturn.Ok;
        lock (_queuedLock)
        {
            if (!Queued(pts)) return ProbeReturn.Ok;
            while (_queued.Dequeue() is var (queuedPts, rt) && queuedPts != pts)
                foreach (var v in _viewers)
                    if (v.Shows(rt, null)) v.Lost(rt);
        }
        return ProbeReturn.Ok;
    }

    // The scaler's thread: the source's caps, labelled in the mix's colour where MixColourConversion takes it.
    private ProbeReturn OnSourceCaps(ProbeInfo info)
    {
        if (info.EventCaps is not { } caps) return ProbeReturn.Ok;
        var plan = MixColourConversion.Relabel(caps);
        _convertFrom601 = plan is { Convert: true };
        if (plan is { } p && p.Caps != caps && !info.ReplaceCaps(p.Caps)) _convertFrom601 = false;
        return ProbeReturn.Ok;
    }

    // The scaler's thread: a scaled picture of a BT.601 source, converted to the mix's colour.
    private ProbeReturn OnScaled(ProbeInfo info)
    {
        if (_convertFrom601) info.MapI420Writable(Key.Width, Key.Height, _convert);
        return ProbeReturn.Ok;
    }

    private bool Queued(ulong pts)
    {
        foreach (var q in _queued)
            if (q.Pts == pts) return true;
        return false;
    }

    /// <summary>Runs <paramref name="handler"/> on the scaler's thread for every picture it takes (tests: a starved scaler).</summary>
    internal ProbeHandle ProbeScaling(Func<ProbeInfo, ProbeReturn> handler)
    {
        using var sink = _scale.StaticPad("sink");
        return _graph.AddProbe(sink, ProbeType.Buffer, handler);
    }

    /// <summary>Runs <paramref name="handler"/> on the scaler's thread for every picture it hands its boxes (tests: the pictures it has out).</summary>
    internal ProbeHandle ProbeScaled(Func<ProbeInfo, ProbeReturn> handler)
    {
        using var sink = Tee.StaticPad("sink");
        return _graph.AddProbe(sink, ProbeType.Buffer, handler);
    }

    /// <summary>The caps the source is scaled to (labelled in the mix's colour where MixColourConversion converts it); null before the first picture.</summary>
    internal string? ScaledCaps()
    {
        using var src = _scale.StaticPad("src");
        return src.CurrentCaps();
    }

    public void Dispose()
    {
        // As a box does: off the shared tee first, so the tee sees not-linked (allowed) rather than
        // a flushing pad it would pass upstream to the decoder.
        _sourcePad.Unlink(_entry);
        _sourceTee.ReleaseRequestPad(_sourcePad);
        _queries.Dispose();
        _demand.Dispose();
        _leaving.Dispose();
        _labelling.Dispose();
        _converting.Dispose();
        foreach (var e in _chain) e.SetState(State.Null);
        foreach (var e in _chain) _graph.Remove(e);
        _sourcePad.Dispose();
        _entry.Dispose();
        _exit.Dispose();
        foreach (var e in _chain) e.Dispose();
    }
}

/// <summary>One shared scaler in use: its source, the size it scales to and how many boxes show it.</summary>
internal readonly record struct ScalerUse(string Source, int Width, int Height, int Boxes);

/// <summary>The shared scalers, and how many scaling elements (`videoscale`) the pipeline holds in all.</summary>
internal sealed record ScalerReport(IReadOnlyList<ScalerUse> Feeds, int ScalingElements);

/// <summary>What a box's picture is scaled from and to: the source's tee, the size, the crop and the fit.</summary>
internal readonly record struct ScaleKey(nint SourceTee, int Width, int Height, Crop Crop, Fit Fit);

/// <summary>
/// The project's shared scalers: one <see cref="ScaledFeed"/> per source, size, crop and fit,
/// counted by the boxes attached, and taken down when the last one leaves. Scaling is the costliest
/// per-picture step after decoding; eight buses showing the same four inputs at the same size scale
/// four pictures per frame, not thirty-two. Control thread.
/// </summary>
/// <param name="latency">How long the buses wait for a picture past its running time (<see cref="BusLatency.Total"/>).</param>
internal sealed class ScalerPool(Graph graph, TimeSpan latency)
{
    private readonly Dictionary<ScaleKey, ScaledFeed> _feeds = [];
    // The feeds for the sources' streaming threads (Skipped): replaced whole on the control thread.
    private volatile ScaledFeed[] _inUse = [];
    private int _next;

    /// <summary>
    /// A picture of the source whose tee is <paramref name="sourceTee"/>, at <paramref name="runningTime"/>, that its
    /// decoder skipped: every feed of that source tells its boxes (<see cref="ScaledFeed.Skipped"/>). The source's thread.
    /// </summary>
    internal void Skipped(Element sourceTee, ulong runningTime)
    {
        foreach (var feed in _inUse)
            if (feed.Key.SourceTee == sourceTee.Handle) feed.Skipped(runningTime);
    }

    /// <summary>The feeds in use, for status and tests.</summary>
    internal IReadOnlyCollection<ScaledFeed> Feeds => _feeds.Values;

    /// <summary>The feed of <paramref name="source"/> at this size, crop and fit, made if no box uses one yet; counted as one more user.</summary>
    internal ScaledFeed Acquire(string source, Element sourceTee, int width, int height, Crop? crop, Fit fit)
    {
        var key = new ScaleKey(sourceTee.Handle, Math.Max(2, width), Math.Max(2, height), crop ?? Placement.NoClip, fit);
        graph.AssertOwnerThread();
        if (!_feeds.TryGetValue(key, out var feed))
        {
            _feeds[key] = feed = new ScaledFeed(graph, ElementName.Scaler(source, _next++), source, sourceTee, key, latency);
            _inUse = [.. _feeds.Values];
        }
        feed.Users++;
        return feed;
    }

    /// <summary>One user fewer; the last one takes the feed down.</summary>
    internal void Release(ScaledFeed feed)
    {
        graph.AssertOwnerThread();
        if (--feed.Users > 0) return;
        _feeds.Remove(feed.Key);
        _inUse = [.. _feeds.Values];
        feed.Dispose();
    }
}
