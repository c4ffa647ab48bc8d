using MixerWorker.Pipeline.Encoding;
using MixerWorker.Pipeline.Interop;
using MixerWorker.Pipeline.Scene;

namespace MixerWorker.Pipeline.Builders;

/// <summary>
/// A bus: live background → compositor → I420 at the bus's size and rate → encoder chain, and its
/// sound from a mix chain it may share with other buses (<see cref="SoundFeed"/>, <see cref="BusAudio"/>);
/// both into an MPEG-TS muxer whose tee feeds the SRT output. The live background keeps the bus
/// producing frames at its rate from the clock when no input is connected at all. Boxes attach and
/// detach while it plays; the project moves its sound between chains (Engine.SharedSound).
/// </summary>
internal sealed class BusBranch : IDisposable
{
    private readonly Graph _graph;
    private readonly List<Element> _elements = [];
    private readonly List<Element> _encoder;
    private readonly Pad _backgroundPad, _compositorSrc, _encoderInput, _encoderOutput, _muxVideo;
    private readonly ProbeHandle _compositorOut, _encoderIn, _muxOut, _toMux, _soundToMux;
    private readonly MuxMessages _muxMessages = new();
    // The muxer's video pad's PTS minus running time (its segment), from the latest picture; for the gaps the sound sends.
    private long _videoPtsOffset;
    private bool _first = true;
    private long _bytesSent;

    /// <summary>The part that names the encoder chain's elements: <c>bus.program.venc.software.1</c>.</summary>
    internal const string EncoderPart = "venc";
    internal const string CompositorPart = "compositor", BackgroundPart = "bgsrc";

    /// <summary>Whether the element named <paramref name="part"/> on a bus feeds the encoder, so that its
    /// "not-negotiated" means the encoder refused the picture.</summary>
    internal static bool FeedsEncoder(string part) => part is CompositorPart or BackgroundPart;

    internal string Name { get; }
    internal BusDefinition Definition { get; private set; }
    internal Element Compositor { get; }
    internal Element Mux { get; }
    /// <summary>The bus's sound: which mix chain it hears, and its way into the muxer.</summary>
    internal SoundFeed Sound { get; }
    internal Element MuxTee { get; }
    internal EncoderChainPlan EncoderPlan { get; }
    internal BusDirector Director { get; }
    /// <summary>Set on a multiview bus, which shows tiles instead of a composition.</summary>
    internal MultiviewBoard? Multiview { get; }
    /// <summary>The mixed picture before encoding, for the multiview's program tile and the thumbnail.</summary>
    internal Element RawTee { get; }
    /// <summary>Frames handed to the encoder.</summary>
    internal long FramesOut => Guard.Delivered;
    /// <summary>Pictures the muxer wrote toward the output: the last point all of the bus's own threads have passed.</summary>
    internal long PicturesMuxed => _muxMessages.Pictures;

    /// <summary>
    /// Whether the bus's muxer writes what it has once its latency is over (GStreamer 1.26's mpegtsmux,
    /// the image's), where 1.22's waits for every stream whatever its latency.
    /// </summary>
    internal static bool MuxTimesOut => GstRuntime.Version >= new Version(1, 26);

    /// <summary>
    /// The muxer's own latency. 1.22's holds as much of each stream as its latency says: a shedding gap's worth,
    /// or the bus's sound would stop at the muxer for the gap. 1.26's writes its earliest buffer once the clock
    /// passes its time plus the upstream latency plus this: a frame interval.
    /// </summary>
    internal static TimeSpan MuxLatency(int fps) => MuxTimesOut ? TimeSpan.FromSeconds(1.0 / fps) : LatenessGuard.LongestGap(fps);

    /// <summary>
    /// The most sound the muxer may hold before the mix chain's thread would wait at it (<see cref="SoundFeed.MayHold"/>):
    /// on 1.22 a shedding gap's worth, within the muxer's latency; on 1.26 what an aggregator pad holds before it blocks,
    /// the muxer's latency plus the least upstream latency, from the bus's own until the muxer reports it (<see cref="WatchLateness"/>).
    /// </summary>
    private static TimeSpan SoundHeldMost(BusLatency latency, int fps) =>
        MuxTimesOut ? latency.Total + MuxLatency(fps) : TimeSpan.FromSeconds(LatenessGuard.MostShed / (double)fps);

    /// <summary>
    /// Asks the bus's encoder for a keyframe with its headers (any thread): it tells the muxer in the stream, on the
    /// muxer's own thread, and the muxer writes its tables again right before that keyframe. Never asked through the
    /// muxer: mpegtsmux (1.22 to 1.26) keeps a request that comes up to it from another thread in a field its own
    /// thread reads without a lock, and the next request frees the one it reads (a use after free; GStreamer-CRITICAL
    /// gst_event_get_seqnum at the least). The encoder queues requests under its lock.
    /// </summary>
    internal void RequestKeyFrame() => _encoderOutput.RequestKeyFrame();

    /// <summary>The bus's encoder's output, for a test hook watching what reaches it.</summary>
    internal Pad EncoderOutput => _encoderOutput;
    /// <summary>Has the compositor's thread wait for the next frame's inputs, not on the clock.</summary>
    internal CompositorPacer Pacer { get; }
    /// <summary>Drops frames rather than let the bus fall behind; reports each episode.</summary>
    internal LatenessGuard Guard { get; }
    /// <summary>How late the bus's pictures leave it, told by its SRT output.</summary>
    internal OutputLateness Leaving { get; }
    /// <summary>Set when thumbnails are taken (<see cref="TakeThumbnails"/>).</summary>
    internal ThumbnailBranch? Thumbnail { get; private set; }
    /// <summary>MPEG-TS bytes handed to the SRT output, over every connection: the bitrate actually sent.</summary>
    internal long BytesSent => Interlocked.Read(ref _bytesSent);
    /// <summary>Called by the output's streaming thread for what it sends.</summary>
    internal void CountSent(long bytes) => Interlocked.Add(ref _bytesSent, bytes);

    /// <param name="meter">Gets the bus's sound level (from the chain it hears), on a streaming thread.</param>
    internal BusBranch(Graph graph, ScalerPool scalers, BusDefinition bus, EncoderChainPlan encoderPlan, BusLatency latency, Action<Action> toControlThread,
        Action<LevelReading> meter)
    {
        _graph = graph;
        Name = bus.Name;
        Definition = bus;
        EncoderPlan = encoderPlan;
        var f = bus.Format;
        var p = ElementName.Bus(bus.Name);

        // Video. The background source is tiny and transparent: it only makes the compositor live
        // and clocked; the compositor's own background fill draws the colour.
        var bg = Element.Make("videotestsrc", p.Child(BackgroundPart));
        bg.Set("is-live", true);
        bg.Set("pattern", "black");
        var bgCaps = ElementFactory.CapsFilter(p.Child("bgcaps"), ElementFactory.MixVideoCaps(16, 16, $"{f.Fps}/1"));
        // force-live: aggregate on the clock even when no input has ever connected. Without it a box
        // whose input never came up fails the latency query, the compositor falls back to waiting for
        // every pad, and the bus publishes nothing.
        Compositor = Element.MakeWith("compositor", p.Child(CompositorPart), "force-live", true);
        Compositor.Set("background", bus.Background.ToString().ToLowerInvariant());
        latency.ApplyTo(Compositor);
        ElementFactory.StartOnTheClock(Compositor, graph.Pipeline);
        // One thread blends: by default (0: one per core) every frame was split with a pool thread, a
        // hand-off and a wake-up per frame for a few boxes that one thread blends in well under a millisecond.
        Compositor.Set("max-threads", 1u);
        // Without an explicit I420 format x264 negotiates 4:4:4 10-bit, which browsers cannot play;
        // without the colour, the compositor picks one pad's and converts every other pad to it.
        var outCaps = ElementFactory.CapsFilter(p.Child("vcaps"), ElementFactory.MixVideoCaps(f.Width, f.Height, $"{f.Fps}/1"));
        RawTee = Element.Make("tee", p.Child("rawtee"));
        RawTee.Set("allow-not-linked", true);
        // No queue before the encoder: it encodes on the compositor's thread. Starved of CPU (a quota
        // per period), every hand-off to another thread waited for the next period, one per hop on a
        // picture's way out; a slow encode holds the compositor back, which then skips ahead (LatenessGuard).
        // Named after their backend, so an error from a chain already replaced is told apart (EncoderPart).
        _encoder = ElementFactory.CreateChain(encoderPlan, i => p.Child($"{EncoderPart}.{encoderPlan.Backend}.{i}"));

        var mux = Mux = Element.Make("mpegtsmux", p.Child("mux"));
        // Each picture out whole, grouped into SRT messages by MuxMessages, not by the muxer's alignment.
        mux.Set("alignment", 0);
        mux.Set("latency", ClockTime.FromTimeSpan(MuxLatency(f.Fps)));
        MuxTee = Element.Make("tee", p.Child("muxtee"));
        MuxTee.Set("allow-not-linked", true);

        _elements.AddRange([bg, bgCaps, Compositor, outCaps, RawTee, .. _encoder, mux, MuxTee]);
        foreach (var e in _elements) graph.Add(e);
        Element.LinkMany(bg, bgCaps);
        _backgroundPad = Compositor.RequestPad("sink_%u");
        _backgroundPad.Set("alpha", 0.0);
        _backgroundPad.Set("zorder", 0);
        using (var bgSrc = bgCaps.StaticPad("src")) bgSrc.Link(_backgroundPad);
        Element.LinkMany([Compositor, outCaps, RawTee, .. _encoder, mux]);
        Sound = new SoundFeed(graph, p, SoundHeldMost(latency, f.Fps), mux, meter);
        mux.Link(MuxTee);
        Guard = new LatenessGuard(bus.Name, f.Fps, latency.Total);
        Leaving = new OutputLateness(Guard);
        Pacer = new CompositorPacer(graph, Compositor, f.Fps, () => Guard.Latency, Guard.Makes);
        Pacer.Track(_backgroundPad);
        _compositorSrc = Compositor.StaticPad("src");
        using (var encoderSink = _encoder[0].StaticPad("sink"))
            _encoderInput = encoderSink.Peer() ?? throw new GstException($"bus {Name}: the encoder is not linked to its tee");
        using (var muxSrc = mux.StaticPad("src"))
        {
            _muxOut = graph.AddProbe(muxSrc, ProbeType.BufferList, _muxMessages.OnOutput);
        }
        _compositorOut = graph.AddProbe(_compositorSrc, ProbeType.Buffer, OnComposited);
        _encoderIn = graph.AddProbe(_encoderInput, ProbeType.Buffer, OnToEncoder);
        _encoderOutput = _encoder[^1].StaticPad("src");
        _muxVideo = _encoderOutput.Peer() ?? throw new GstException($"bus {Name}: the encoder is not linked to the muxer");
        _toMux = graph.AddProbe(_muxVideo, ProbeType.Buffer, OnToMux);
        _soundToMux = graph.AddProbe(Sound.Output, ProbeType.Buffer, OnSoundToMux);
        // Gains per frame of a crossfade go to the chain the bus is to hear, if it hears it alone (a bus crossfading does).
        Director = new BusDirector(graph, scalers, Compositor, bus, toControlThread, gains =>
        {
            if (Sound.Alone) Sound.Target?.SetInputGains(gains);
        }, Guard.Makes, Guard.Fallback, Pacer);
        if (bus.Kind == BusKind.Multiview) Multiview = new MultiviewBoard(graph, scalers, bus.Name, Compositor);
        // Downstream first: a live source started before the aggregator it feeds pushes into an
        // inactive pad, gets FLUSHING, pauses its task for good, and the bus never produces a frame.
        foreach (var e in Enumerable.Reverse(_elements)) e.SyncStateWithParent();
        Sound.Entry.SyncStateWithParent();
    }

    /// <summary>Brings the guard's deadline up to date and looks at the last few frames' lateness. Control thread.</summary>
    internal LatenessGuard.Episode? WatchLateness(TimeSpan now)
    {
        if (MuxTimesOut && Mux.AggregatorLatency() is { } muxLatency) Sound.HoldAtMost(muxLatency);
        if (Compositor.AggregatorLatency() is { } latency) Guard.Latency = latency;
        if (Sound.Current?.Mixer.AggregatorLatency() is { } audioLatency) Guard.AudioLatency = audioLatency;
        return Guard.Tick(now);
    }

    // Compositor streaming thread: a frame just made.
    private ProbeReturn OnComposited(ProbeInfo info)
    {
        if (info.BufferRunningTime(_compositorSrc) is not { } runningTime || _graph.Pipeline.RunningTimeNow() is not { } now) return ProbeReturn.Ok;
        StageTrace.Note("composited", Name, runningTime, now);
        var verdict = Guard.AtCompositor(runningTime, now);
        if (verdict.SkipUntilNs is { } until) _compositorSrc.SendLateness(runningTime, (long)(until - runningTime));
        if (!verdict.Keep) return ProbeReturn.Drop;
        Pacer.Pushing(runningTime);
        return ProbeReturn.Ok;
    }

    // Compositor streaming thread: a frame about to be encoded.
    private ProbeReturn OnToEncoder(ProbeInfo info)
    {
        if (info.BufferRunningTime(_encoderInput) is not { } runningTime || _graph.Pipeline.RunningTimeNow() is not { } now) return ProbeReturn.Ok;
        StageTrace.Note("encode", Name, runningTime, now);
        return Guard.AtEncoder(runningTime, now) ? ProbeReturn.Ok : ProbeReturn.Drop;
    }

    // GStreamer 1.26's muxer writes what it has once its latency is over, where 1.22's waited for every
    // stream: pictures that reached it before the bus's sound had its caps made it announce the programme
    // without sound (PMT), and again with it a moment later. Readers may take the first announcement for
    // the stream's tracks (MediaMTX sets a path's tracks as its publisher starts; tsdemux makes new pads,
    // and whatever was linked to the old ones gets nothing more). Until the sound is at the muxer its
    // pictures are dropped (the 1.22 muxer wrote none of them either), and the first one let through
    // asks the encoder for a keyframe, so the output starts with one. Encoder streaming thread.
    private volatile bool _soundAtMux;

    // Encoder streaming thread: a picture on its way into the muxer. The muxer writes a buffer only
    // once every stream has one, the earliest first, so while the bus sheds, its sound would wait at
    // the muxer for the next picture (up to half a second, its pictures' gap). Told that the stream
    // has nothing until then, it writes the sound up to there at once. Where the pictures stand is
    // kept for the sound's own gaps (OnSoundToMux). The gap goes by the gap thread, as the sound's own
    // gaps through this pad do (LiveTime.SendGapAside): a pad pushed by two threads must hold no idle
    // probe, GStreamer can leave either waiting there for good (LiveTime.SendGapAfterThisPush).
    private ProbeReturn OnToMux(ProbeInfo info)
    {
        if (!_soundAtMux)
        {
            if (!Sound.AtMuxer) return ProbeReturn.Drop;
            _soundAtMux = true;
            if (info.IsDeltaUnit) _encoderOutput.RequestKeyFrame();
        }
        if (info.DataSize == 0 || info.BufferRunningTime(_muxVideo) is not { } runningTime || info.BufferPts is not { } pts) return ProbeReturn.Ok;
        Interlocked.Exchange(ref _videoPtsOffset, (long)pts - (long)runningTime);
        if (StageTrace.On && _graph.Pipeline.RunningTimeNow() is { } now) StageTrace.Note("tomux", Name, runningTime, now);
        Guard.ToMux(runningTime);
        Leaving.ToMux(runningTime);
        if (Guard.NothingAfter(runningTime) is { } gap)
        {
            _encoderOutput.SendGapAside(pts + gap.FromNs, gap.DurationNs);
            Guard.ToMux(runningTime + gap.FromNs);
        }
        return ProbeReturn.Ok;
    }

    // The mix chain's thread (maybe shared with other buses): encoded sound on its way into the muxer. Sound from before what
    // the muxer already has (the overlap when the bus moved to another mix chain, at most a block) is
    // dropped, and so is sound as late as a picture may be (LatenessGuard.AtAudio). Should pictures have
    // gone missing (dropped late), the muxer would keep this sound until the next picture came; once
    // no picture before some time can come any more, the video pad is told so, by a thread of its own
    // (LiveTime.SendGapAside): this thread must never wait for the video pad, the muxer waits for its sound.
    // The muxer writes a picture only once its sound pad holds something that starts after it: a picture
    // made within a block's time waited for the next block, 20 ms of sound later (bench/results/
    // 2026-12-02-0945-vm-latency-au-sound-gap.md). Right behind each block, an empty GAP buffer at its end says
    // that no sound starts before there, so the pictures within the block go with it. Pushed by this thread
    // through the pad the block took, once the block is in, it waits for nothing the block would not; it
    // passes here again (empty, let through) and the muxer writes nothing for it.
    private ProbeReturn OnSoundToMux(ProbeInfo info)
    {
        if (info.DataSize == 0) return ProbeReturn.Ok;
        if (info.BufferRunningTime(Sound.Output) is not { } runningTime || _graph.Pipeline.RunningTimeNow() is not { } now) return ProbeReturn.Ok;
        var duration = info.BufferDurationNs ?? 0;
        if (!Sound.Takes((long)runningTime, duration)) return ProbeReturn.Drop;
        if (!Guard.AtAudio(runningTime, now, duration))
        {
            if (RunQueueWait.WaitedInLastNs((long)(now - runningTime)) is { } waited) Guard.DroppedWhileStarved(runningTime, now, duration, waited);
            // The muxer is told where the dropped block ended all the same. Told nothing, it held every picture
            // of that time until a later block got through: a starved chain's blocks come late in runs, and
            // pictures waited there for hundreds of ms (bench/results/2026-12-03-1955-vm-starved-muxer-hold.md);
            // with every block late, none was written. Within what the muxer may hold, as a block let in is.
            if (duration > 0 && info.BufferPts is { } droppedPts && Sound.MayHold((long)runningTime, duration))
                Sound.Through.SendGapAfterThisPush(droppedPts + (ulong)duration, 0);
            return ProbeReturn.Drop;
        }
        if (Guard.NoPictureBefore(now) is { } until)
            _encoderOutput.SendGapAside((ulong)((long)until + Interlocked.Read(ref _videoPtsOffset)), 0);
        if (!Sound.MayHold((long)runningTime, duration)) return ProbeReturn.Drop;
        // The chain's tee hands one block to every bus that hears it, and their muxers' threads, woken by it
        // together, each put its memory into a buffer of their own (the TS muxer's Opus framing) and let it go:
        // GStreamer guards a memory's list of owners with a spin lock, and a thread preempted while holding it
        // kept the others spinning for milliseconds (eight buses on a loaded machine: 1.2 % of a core). A copy
        // of the few hundred bytes per bus shares nothing.
        if (!info.HeldAlone) info.OwnCopy();
        if (duration > 0 && info.BufferPts is { } pts) Sound.Through.SendGapAfterThisPush(pts + (ulong)duration, 0);
        StageTrace.Note("sound.tomux", Name, runningTime, now, duration);
        return ProbeReturn.Ok;
    }

    /// <summary>
    /// Brings the picture and graphics to <paramref name="bus"/>: the picture through
    /// <paramref name="transition"/> (a cut when nothing animates it), the encoder bitrate live; its
    /// sound follows from the project (Engine.SharedSound). Format changes need a rebuild of the bus
    /// and are handled by the caller. Control thread.
    /// </summary>
    internal void Show(BusDefinition bus, TransitionSpec transition, TimeSpan fadeToBlack, IReadOnlyDictionary<string, InputBranch> inputs, Func<string, string> resolveGraphic)
    {
        if (Multiview is null) Director.Show(bus, transition, inputs);
        Director.SetGraphics(bus.Graphics, resolveGraphic);
        if (bus.FadedToBlack != Definition.FadedToBlack || _first) Director.FadeToBlack(bus.FadedToBlack, _first ? TimeSpan.Zero : fadeToBlack);
        if (bus.Format.VideoBitrateKbps != Definition.Format.VideoBitrateKbps) SetVideoBitrate(bus.Format.VideoBitrateKbps);
        Definition = bus;
        _first = false;
    }

    /// <summary>Starts taking a thumbnail of the mixed picture every <paramref name="interval"/>. Control thread.</summary>
    internal void TakeThumbnails(TimeSpan interval, int maxWidth) =>
        Thumbnail ??= new ThumbnailBranch(_graph, Name, RawTee, Definition.Format, interval, maxWidth);

    private void SetVideoBitrate(int kbps) => _encoder.FirstOrDefault(e => e.HasProperty("bitrate"))?.Set("bitrate", kbps);

    /// <summary>
    /// Stops a bus whose encoder failed or whose muxer stalled, downstream first, before it is taken
    /// down. Its compositor stopped with the encoder (or the muxer), so what feeds it (the background
    /// source, the boxes' queues, an input's allocation query) waits on it, and so does the audio mixer
    /// on the muxer that has no video; stopping a source first would wait for those pushes for ever. Stopping from the muxer
    /// back flushes each element before anything upstream of it is stopped, and lets every thread go.
    /// The boxes come off their inputs' shared scalers before anything stops: a box queue whose compositor stopped
    /// answers its scaler's next picture with FLUSHING, which the scaler's tee, its queue and then the input's tee pass
    /// upstream, so that the input's streaming thread stops for good, and every new connection's at its first picture
    /// (seen on a starved machine, whose control thread took 680 ms between the stop and the teardown).
    /// </summary>
    internal void StopDownstreamFirst()
    {
        Pacer.Stop();
        Director.DetachFromSources();
        Multiview?.DetachFromSources();
        Sound.Detach();
        foreach (var e in Enumerable.Reverse(_elements)) e.SetState(State.Null);
        Sound.Entry.SetState(State.Null);
    }

    public void Dispose()
    {
        Pacer.Dispose();
        Director.Dispose();
        Multiview?.Dispose();
        Thumbnail?.Dispose();
        Sound.Detach();
        _compositorOut.Dispose();
        _encoderIn.Dispose();
        _muxOut.Dispose();
        _toMux.Dispose();
        _soundToMux.Dispose();
        Sound.Dispose();
        _muxVideo.Dispose();
        _encoderOutput.Dispose();
        _compositorSrc.Dispose();
        _encoderInput.Dispose();
        foreach (var e in _elements) e.SetState(State.Null);
        _muxMessages.Dispose();
        foreach (var e in _elements) _graph.Remove(e);
        _backgroundPad.Dispose();
        foreach (var e in _elements) e.Dispose();
    }
}
