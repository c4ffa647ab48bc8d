using MixerWorker.Pipeline.Interop;
using MixerWorker.Pipeline.Scene;

namespace MixerWorker.Pipeline.Builders;

/// <summary>Where and how a box is drawn in one frame (output pixels).</summary>
internal readonly record struct Placement(int X, int Y, int Width, int Height, Crop Clip, double Alpha, int Z)
{
    internal static readonly Crop NoClip = new();
}

/// <summary>
/// What one box of a bus negotiated: the caps its source is scaled to, those it reaches the compositor
/// with, and the compositor's output (the compositor converts a box whose format or colour differ from it).
/// </summary>
internal readonly record struct BoxCaps(string Source, string? Scaled, string? Mixed, string? Output);

/// <summary>Optional extras of a multiview tile: a border whose colour shows tally, and a label.</summary>
internal sealed record TileDecoration(string Label, int Border);

/// <summary>
/// One box: the tee of its source scaled to the box's size, crop and fit (a <see cref="ScaledFeed"/>
/// shared with every box on any bus that shows the same) → leaky queue → clip → compositor pad.
/// Scaling happens before the compositor pad, which is the costlier way to scale, and once per
/// source and size, not once per box. The clip (a crop after scaling) serves wipes and cuts pictures
/// only while one runs (<see cref="StartClipping"/>); outside a wipe it passes them on. Where the box is
/// drawn in a frame is set per frame by <see cref="BusDirector"/> through <see cref="Place"/>; a
/// change of the box's size, crop or fit moves it to another shared scaler.
/// </summary>
internal sealed class BoxBranch : IDisposable
{
    private readonly Graph _graph;
    private readonly ScalerPool _scalers;
    private readonly Element _sourceTee;
    private readonly Element _compositor;
    private readonly CompositorPacer? _pacer;
    private readonly Element _bin;
    private readonly Element _clip;
    private readonly Element? _border, _label;
    private readonly Pad _mixPad, _binSink, _binSrc;
    // The shared scaler the box takes its pictures from, and the pad of its tee it is linked to.
    private ScaledFeed? _feed;
    private Pad? _feedPad;
    private readonly ProbeHandle _qosBoundary, _picker;
    // Cuts each picture for a wipe; attached only while one runs (control thread), because a managed
    // call per picture on every box cost about 0.4 points on 32 boxes (bench/results/*-cost-hand-offs.md).
    private ProbeHandle? _clipProbe;
    // Orders the clip probe's property changes with the reset when it is taken off, so a call still
    // in flight then cannot leave the box cut. Never taken by the compositor's thread.
    private readonly Lock _clipGate = new();
    private bool _clipping;
    private readonly FramePicker _framePicker = new();
    private readonly UndrawnPictures _undrawn = new();
    private readonly double _frameNs;
    private readonly Pad _clipSink;
    private readonly Func<ulong, ulong?, bool> _shows;
    private readonly Action<ulong> _lost;
    // The clip each recent buffer was cut with, by PTS, so the compositor thread can place the very
    // buffer it draws at the offset its clip needs.
    private readonly (ulong Pts, Crop Clip)[] _clipped = new (ulong, Crop)[16];
    private int _clippedNext;
    private Crop _clipSet = Placement.NoClip;
    private Box? _sized;
    // What the pad and clip were last set to, so a frame only touches what changed.
    private Placement? _placed;
    private string? _borderFill;
    private readonly int _borderPx;

    internal string Source { get; }
    internal Box? Box => _sized;
    /// <summary>
    /// The compositor has a picture from this box for the frame it is making. Compositor streaming
    /// thread, during aggregation only. A picture that merely reached the compositor may still be
    /// too new for the frame being made, so this, not arrival, says the box can be shown.
    /// </summary>
    internal bool HasPictureNow => _mixPad.HasAggregatedBuffer;

    /// <summary>
    /// Gives the clip for a buffer drawn in the output frame at a running time, or null to leave it as
    /// it is. Called on the box's streaming thread for every buffer while clipping (<see cref="StartClipping"/>),
    /// just before the clip cuts it, so a wipe's edge is exact for each picture rather than set from the
    /// output side a frame or two late.
    /// </summary>
    internal Func<BoxBranch, ulong, Crop?>? ClipAt { get; }

    /// <summary>
    /// The running time of the bus's latest output frame (null before the first), so the box takes
    /// one picture per output frame (<see cref="FramePicker"/>); unset, every picture enters.
    /// </summary>
    internal Func<ulong?>? OutputGrid { get; set; }

    /// <summary>
    /// Whether the bus makes its output frame at a running time (<see cref="LatenessGuard.Makes"/>: an
    /// AUX bus shedding load makes one in n); unset, it makes every frame.
    /// </summary>
    internal Func<ulong, bool>? BusMakes { get; set; }

    /// <summary>
    /// Whether a picture for a frame the bus does not make, arriving at a running time, is to stand in for the
    /// next frame it makes (<see cref="LatenessGuard.Fallback"/>); unset, it never is.
    /// </summary>
    internal Func<ulong, ulong, bool>? BusFallback { get; set; }

    /// <param name="box">The box's first size, crop and fit (<see cref="Resize"/> changes them).</param>
    /// <param name="fps">The bus's frame rate, which the box lets pictures in at.</param>
    /// <param name="clipAt">Where a wipe cuts the box's pictures (<see cref="ClipAt"/>); null for a box never wiped.</param>
    /// <param name="clipping">Cut from the first picture on (a box made for a wipe), see <see cref="StartClipping"/>.</param>
    /// <param name="pacer">Has the compositor wait for this box's pictures (a bus's box; not a multiview tile).</param>
    internal BoxBranch(Graph graph, ScalerPool scalers, string busName, int id, Box box, Element sourceTee, Element compositor, int fps, TileDecoration? tile = null,
        Func<BoxBranch, ulong, Crop?>? clipAt = null, bool clipping = false, CompositorPacer? pacer = null)
    {
        _pacer = pacer;
        ClipAt = clipAt;
        _graph = graph;
        _scalers = scalers;
        _sourceTee = sourceTee;
        _compositor = compositor;
        Source = box.Source;
        var name = ElementName.Box(busName, id);
        _bin = Element.NewBin(name);
        _frameNs = 1e9 / Math.Max(1, fps);
        var queue = Queue(name.Child("queue"), compositor, _frameNs);
        graph.ConnectOverrun(queue, () => Interlocked.Increment(ref _queueDropped));
        _clip = Element.Make("videocrop", name.Child("clip"));
        List<Element> chain = [queue, _clip];
        Element? colour = null;
        if (tile is not null)
        {
            // Negative videobox sizes add a border around the picture, filled with a colour that
            // can change while playing: the multiview's tally border.
            _borderPx = tile.Border;
            _border = Element.Make("videobox", name.Child("border"));
            foreach (var side in new[] { "left", "right", "top", "bottom" }) _border.Set(side, -tile.Border);
            _border.Set("fill", "black");
            _borderFill = "black";
            _label = Element.Make("textoverlay", name.Child("label"));
            _label.Set("text", tile.Label);
            _label.Set("valignment", "bottom");
            _label.Set("halignment", "center");
            _label.Set("shaded-background", true);
            _label.Set("font-desc", "Sans Bold 12");
            // videobox forgets the picture's colour (its output caps name none, read as BT.601 at
            // tile sizes), which would have the compositor convert every tile of every frame.
            colour = ElementFactory.CapsFilter(name.Child("colour"), $"video/x-raw,format=I420,{ElementFactory.MixColour}");
            chain.AddRange([_border, _label, colour]);
        }
        ElementFactory.AddChain(_bin, chain);
        using (var qSink = queue.StaticPad("sink")) { _binSink = Pad.Ghost("sink", qSink); }
        using (var last = chain[^1].StaticPad("src")) { _binSrc = Pad.Ghost("src", last); }
        _bin.AddPad(_binSink);
        _bin.AddPad(_binSrc);
        // The compositor's QoS (LatenessGuard's skip-ahead) stops where the box meets it. The scaler
        // and the input upstream are shared by every bus and must never hear it, and neither may the
        // box: videocrop (and a tile's videobox) would drop every picture older than the skip's
        // target, and a shedding bus asks to skip half a second at every frame it keeps. Its boxes
        // then received no picture at all while the input ran a little late (a starved decoder) and
        // showed one picture for 3-6 s. The compositor itself drops pictures too old for its frame.
        _qosBoundary = graph.AddProbe(_binSrc, ProbeType.EventUpstream, info => info.Event == EventType.Qos ? ProbeReturn.Drop : ProbeReturn.Ok);
        _shows = Shows;
        _lost = Lost;
        _picker = graph.AddProbe(_binSink, ProbeType.Buffer, OnPicture);
        queue.Dispose();
        colour?.Dispose();
        _clipSink = _clip.StaticPad("sink");
        if (clipping) StartClipping();
        graph.Add(_bin);
        _mixPad = compositor.RequestPad("sink_%u");
        _mixPad.SetNumber("alpha", 0.0); // hidden until the director places it
        pacer?.Track(_mixPad);
        _binSrc.Link(_mixPad);
        _bin.SyncStateWithParent();
        Resize(box);
    }

    // Pictures come out of their decoder up to about one jitter allowance before they are due and
    // wait, here and in the compositor's pad, until the compositor makes their frame. The queue holds
    // what the compositor may wait for plus a margin, so no picture that is still to be shown is
    // dropped; beyond that (a bus that has stopped taking pictures) the oldest go, and the shared
    // decoder never waits for one bus.
    private const ulong QueueMarginNs = 100_000_000;
    private const int MaxQueuedPictures = 30;

    private static ulong QueueTimeNs(Element compositor) =>
        ulong.Parse(compositor.Get("latency") ?? "0") + ulong.Parse(compositor.Get("min-upstream-latency") ?? "0") + QueueMarginNs;

    /// <summary>
    /// The pictures a box's queue holds at most: those its time allows at the bus's frame rate (one picture per output
    /// frame enters, <see cref="FramePicker"/>), and one more for rounding. The queue measures its time from the
    /// pictures' running times, and reads too little while they step back (a timeline moved earlier, an input's new
    /// segment): a cap of 30 then let the box of a bus running behind hold a second of pictures. They are the shared
    /// scaler's, and its pool keeps as many pictures as it ever had out at once: 28 to 56 per input on a loaded 8-bus
    /// 360p job, where every box queue otherwise held 7 at most.
    /// </summary>
    internal static int QueuedPictures(ulong queueTimeNs, double frameNs) =>
        Math.Clamp((int)Math.Ceiling(queueTimeNs / frameNs) + 1, 2, MaxQueuedPictures);

    /// <summary>A box's queue for a bus whose compositor is <paramref name="compositor"/> and whose frames are <paramref name="frameNs"/> apart.</summary>
    internal static Element Queue(string name, Element compositor, double frameNs)
    {
        var timeNs = QueueTimeNs(compositor);
        return ElementFactory.LeakyQueue(name, maxBuffers: QueuedPictures(timeNs, frameNs), maxTimeNs: timeNs);
    }

    /// <summary>
    /// Sets the size the source is scaled to, its crop and its fit: the box moves to the shared
    /// scaler that makes that picture (made if no box uses one yet), and the one it leaves goes when
    /// no other box uses it. Control thread.
    /// </summary>
    internal void Resize(Box box)
    {
        var (w, h) = _border is null ? (box.Width, box.Height) : (box.Width - 2 * _borderPx, box.Height - 2 * _borderPx);
        var next = _scalers.Acquire(Source, _sourceTee, w, h, box.Crop, box.Fit);
        _sized = box;
        if (next == _feed)
        {
            _scalers.Release(next); // same picture: keep the link, not the extra count
            return;
        }
        // The queue gets the new feed's caps and segment with its first picture (sticky events), and
        // the pictures of the old size it still holds are drawn until then.
        var pad = next.Tee.RequestPad("src_%u");
        DetachFromSource();
        pad.Link(_binSink);
        (_feed, _feedPad) = (next, pad);
        next.AddViewer(_shows, _lost);
    }

    /// <summary>
    /// Whether the box would show the picture at running time <paramref name="runningTime"/>, arriving at the
    /// pipeline's running time <paramref name="now"/>: the bus makes the output frame whose slot it falls in
    /// (<see cref="FramePicker"/>), or the picture comes so late just before such a frame that it is to stand
    /// in for that frame's own (<see cref="BusFallback"/>). Before the bus's first frame, and on a bus that
    /// makes every frame, every picture. The source's streaming thread.
    /// </summary>
    internal bool Shows(ulong runningTime, ulong? now) =>
        BusMakes is not { } makes || OutputGrid?.Invoke() is not { } grid ||
        FramePicker.FrameOf(runningTime, grid, _frameNs) is var frame && (makes(frame) || (now is { } at && BusFallback?.Invoke(frame, at) == true));

    /// <summary>
    /// Takes the box off its source's shared scaler (control thread): when it moves to another scaler, at its own
    /// <see cref="Dispose"/> and, ahead of that, before its bus stops (<see cref="BusBranch.StopDownstreamFirst"/>). The tee then sees not-linked (allowed)
    /// rather than the flushing pad of a stopping branch, which it would pass upstream.
    /// </summary>
    internal void DetachFromSource()
    {
        if (_feed is null || _feedPad is null) return;
        _feed.RemoveViewer(_shows);
        _feedPad.Unlink(_binSink);
        _feed.Tee.ReleaseRequestPad(_feedPad);
        _feedPad.Dispose();
        _scalers.Release(_feed);
        (_feed, _feedPad) = (null, null);
    }

    /// <summary>
    /// The caps the source is scaled to (the scaler's output), those the box reaches the compositor
    /// with and the compositor's output; null before the first picture. For status and tests.
    /// </summary>
    internal BoxCaps NegotiatedCaps()
    {
        using var output = _compositor.StaticPad("src");
        return new(Source, _feed?.ScaledCaps(), _mixPad.CurrentCaps(), output.CurrentCaps());
    }

    /// <summary>The shared scaler this box shows, for status and tests.</summary>
    internal ScaledFeed? Feed => _feed;

    private long _latePictures;

    /// <summary>
    /// Pictures the box left out for lateness, each a frame it showed its picture before for (a starved decoder or
    /// scaler, a stalled machine): those that reached it too late for any frame (they end before the next output
    /// frame after the one the compositor has already begun), and those its shared scaler dropped as too old for any
    /// bus (<see cref="Lost"/>). For tests and benches.
    /// </summary>
    internal long LatePictures => Interlocked.Read(ref _latePictures);

    private long _lostPictures;

    /// <summary>
    /// Of <see cref="LatePictures"/>, those lost on their way: skipped by the input's decoder or dropped by the shared
    /// scaler (<see cref="Lost"/>), or let into the box and never drawn although the bus made their frame
    /// (<see cref="Drawing"/>). For tests and benches.
    /// </summary>
    internal long LostPictures => Interlocked.Read(ref _lostPictures);

    private long _queueDropped;

    /// <summary>
    /// Pictures the box's queue let go, the oldest, because a picture came while it was full (<see cref="Queue"/>: the
    /// compositor took none for as long as the queue holds, or running times stepped back): one per picture that found
    /// it full, the queue's overrun (<see cref="Callbacks.ConnectOverrun"/>), which costs nothing while it has room. An
    /// overrun lets one picture go while running times go forward; where the input's timeline moved inside the queue it
    /// may let several go at once (the queue's time reads afresh), counted as one (<c>BoxQueueTests</c>). For tests and benches.
    /// </summary>
    internal long QueueDropped => Interlocked.Read(ref _queueDropped);

    /// <summary>
    /// A picture of the box's source that its shared scaler dropped, too old for any bus, or that the input's decoder
    /// skipped, with no other picture of its output frame to come instead (<see cref="FramePicker.Lost"/>): counted
    /// with <see cref="LatePictures"/> once the next picture shows it was not replaced. The scaler's thread, which also
    /// brings the box its pictures.
    /// </summary>
    internal void Lost(ulong runningTime) => _framePicker.Lost(runningTime, OutputGrid?.Invoke(), _frameNs);

    // Before the queue: a picture that will never be shown does not take a place in it.
    private ProbeReturn OnPicture(ProbeInfo info)
    {
        if (OutputGrid is not { } grid || info.BufferRunningTime(_binSink) is not { } rt) return ProbeReturn.Ok;
        var latest = grid();
        if (!_framePicker.Keep(rt, latest, _frameNs, out var missed)) return ProbeReturn.Drop;
        if (missed > 0) CountLost(missed);
        // The compositor draws a picture in each frame whose start it covers, or in the first frame it overlaps: one
        // that ends before the frame after the one begun can be drawn in none.
        var late = latest is { } made && rt + (ulong)(info.BufferDurationNs ?? (long)_frameNs) <= made + (ulong)_frameNs;
        if (late) Interlocked.Increment(ref _latePictures);
        if (latest is not null && info.BufferPts is { } pts) _undrawn.Entered(pts, DrawnAt(rt), late);
        return ProbeReturn.Ok;
    }

    private void CountLost(int pictures)
    {
        Interlocked.Add(ref _lostPictures, pictures);
        Interlocked.Add(ref _latePictures, pictures);
    }

    /// <summary>
    /// The compositor makes the output frame at <paramref name="runningTime"/>: counts the pictures let into the box that
    /// it will never draw although the bus makes their frame (<see cref="UndrawnPictures"/>). Compositor streaming
    /// thread, during aggregation, for every frame.
    /// </summary>
    internal void Drawing(ulong runningTime)
    {
        var lost = _undrawn.Drawing(runningTime, _mixPad.AggregatedBufferPts, _frameNs, BusMakes?.Invoke(runningTime) ?? true);
        if (lost > 0) CountLost(lost);
    }

    /// <summary>Runs <paramref name="handler"/> for every picture that leaves the box's queue, on its thread (tests: a starved box).</summary>
    internal ProbeHandle ProbeQueued(Func<ProbeInfo, ProbeReturn> handler) => _graph.AddProbe(_clipSink, ProbeType.Buffer, handler);

    /// <summary>
    /// Cuts every picture from now on where <see cref="ClipAt"/> says, until <see cref="StopClipping"/>:
    /// from a wipe's start (its lead included, so pictures already on their way are cut for the moment
    /// they are drawn). Control thread.
    /// </summary>
    internal void StartClipping()
    {
        if (_clipProbe is not null || ClipAt is null) return;
        lock (_clipGate) _clipping = true;
        _clipProbe = _graph.AddProbe(_clipSink, ProbeType.Buffer, OnBufferToClip);
    }

    /// <summary>
    /// Stops cutting pictures and sets the clip back to the whole picture, so a box kept after a
    /// wipe, even one finished early, is never left cut. Pictures already cut are still drawn at
    /// their offset (<see cref="Place"/>). Control thread.
    /// </summary>
    internal void StopClipping()
    {
        if (_clipProbe is null) return;
        _clipProbe.Dispose();
        _clipProbe = null;
        lock (_clipGate)
        {
            _clipping = false;
            SetClip(Placement.NoClip);
        }
    }

    private ProbeReturn OnBufferToClip(ProbeInfo info)
    {
        if (ClipAt is not { } clipAt || info.BufferPts is not { } pts) return ProbeReturn.Ok;
        // Outside the gate: the director's lock, which ClipAt takes, is held by the compositor's thread
        // while it reads what pictures were cut with.
        var clip = info.BufferRunningTime(_clipSink) is { } rt ? clipAt(this, DrawnAt(rt)) : null;
        if (clip is not null && _sized is { } box)
        {
            // videocrop cannot cut a picture down to nothing; two pixels stay, hidden by the director.
            clip = clip with
            {
                Left = Math.Clamp(clip.Left, 0, box.Width - 2), Right = Math.Clamp(clip.Right, 0, Math.Max(0, box.Width - 2 - clip.Left)),
                Top = Math.Clamp(clip.Top, 0, box.Height - 2), Bottom = Math.Clamp(clip.Bottom, 0, Math.Max(0, box.Height - 2 - clip.Top)),
            };
        }
        lock (_clipGate)
        {
            if (!_clipping) return ProbeReturn.Ok;
            if (clip is not null) SetClip(clip);
            lock (_clipped) _clipped[_clippedNext++ % _clipped.Length] = (pts, _clipSet);
        }
        return ProbeReturn.Ok;
    }

    // The output frame a picture at this running time is drawn in when it comes in time: the compositor
    // takes it for the frame whose interval holds its start (a microsecond's slack for rounding). Cut for
    // its own running time instead, the pictures of two inputs drawn in one frame were cut up to a frame's
    // travel apart, and the background showed between them; cut for the nearest frame (FramePicker's
    // slot), a picture in the second half of an interval was cut a whole frame ahead.
    private ulong DrawnAt(ulong runningTime) =>
        OutputGrid?.Invoke() is { } grid
            ? (ulong)Math.Max(0, grid + Math.Floor(((double)runningTime - grid + 1_000) / _frameNs) * _frameNs)
            : runningTime;

    // Under _clipGate.
    private void SetClip(Crop clip)
    {
        if (clip == _clipSet) return;
        _clip.SetNumber("left", clip.Left);
        _clip.SetNumber("right", clip.Right);
        _clip.SetNumber("top", clip.Top);
        _clip.SetNumber("bottom", clip.Bottom);
        _clipSet = clip;
    }

    // The clip of the buffer the compositor is about to draw from this box.
    private Crop ClipOfCurrentBuffer()
    {
        if (_mixPad.AggregatedBufferPts is not { } pts) return _clipSet;
        lock (_clipped)
            foreach (var (p, clip) in _clipped)
                if (p == pts && clip is not null) return clip;
        return _clipSet;
    }

    /// <summary>Draws the box as <paramref name="p"/> says in the coming frame. Compositor streaming thread.</summary>
    internal void Place(Placement p)
    {
        var last = _placed;
        // A clipped picture is drawn at its natural size, offset by what was cut off its top left.
        var clip = ClipAt is null ? Placement.NoClip : ClipOfCurrentBuffer();
        var clipped = clip != Placement.NoClip;
        var x = p.X + clip.Left;
        var y = p.Y + clip.Top;
        var w = clipped ? 0 : p.Width;
        var h = clipped ? 0 : p.Height;
        if (last is not { } l || l.X != x) _mixPad.SetNumber("xpos", x);
        if (last is not { } l2 || l2.Y != y) _mixPad.SetNumber("ypos", y);
        if (last is not { } l3 || l3.Width != w) _mixPad.SetNumber("width", w);
        if (last is not { } l4 || l4.Height != h) _mixPad.SetNumber("height", h);
        if (last is not { } l5 || l5.Z != p.Z) _mixPad.SetNumber("zorder", p.Z);
        if (last is not { } l6 || l6.Alpha != p.Alpha) _mixPad.SetNumber("alpha", p.Alpha);
        // Remembered as drawn (offset and natural size), which is what the next frame compares with.
        _placed = new Placement(x, y, w, h, clip, p.Alpha, p.Z);
    }

    /// <summary>Not drawn in the coming frame. Compositor streaming thread.</summary>
    internal void Hide()
    {
        if (_placed is { Alpha: 0 }) return;
        _mixPad.SetNumber("alpha", 0.0);
        _placed = (_placed ?? new Placement(0, 0, 0, 0, Placement.NoClip, 0, 0)) with { Alpha = 0 };
    }

    internal string Border => _borderFill ?? "none";

    /// <summary>Multiview tally: the border's colour (black, red or green).</summary>
    internal void SetBorder(string fill)
    {
        if (_border is null || _borderFill == fill) return;
        _border.Set("fill", fill);
        _borderFill = fill;
    }

    public void Dispose()
    {
        // Removing a probe does not wait for a call in flight: the clip sink pad it reads stays
        // ours until the branch has stopped streaming.
        _pacer?.Untrack(_mixPad);
        _clipProbe?.Dispose();
        _qosBoundary.Dispose();
        _picker.Dispose();
        DetachFromSource();
        _bin.SetState(State.Null);
        _binSrc.Unlink(_mixPad);
        _compositor.ReleaseRequestPad(_mixPad);
        _graph.Remove(_bin);
        foreach (var d in new IDisposable?[] { _clipSink, _mixPad, _binSink, _binSrc, _clip, _border, _label, _bin }) d?.Dispose();
    }
}
