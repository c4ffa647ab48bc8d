namespace MixerWorker.Pipeline.Builders;

/// <summary>
/// Keeps one bus live when the machine cannot make all its frames: a frame more than two frame
/// intervals past its deadline is dropped before it is encoded, so the output's
/// frame rate drops and its timeline never stretches. A compositor that has fallen behind is told to
/// skip ahead (QoS), and a bus asked to shed load (<see cref="ShedEvery"/>, an AUX bus while Program
/// is short of time) makes only every n-th frame. Drops come in episodes, which
/// <see cref="Tick"/> opens and closes for the report. See docs/architecture.md, "Live timing".
/// </summary>
/// <remarks>
/// <see cref="AtCompositor"/> runs on the compositor's streaming thread, <see cref="AtEncoder"/> on
/// the encoder's, <see cref="Tick"/> on the control thread; counters are lock-free.
/// </remarks>
internal sealed class LatenessGuard(string bus, int fps, TimeSpan latency)
{
    /// <summary>What the compositor's output probe does with a frame.</summary>
    /// <param name="SkipUntilNs">When set, the compositor should make no frame before this running time (QoS).</param>
    internal readonly record struct Verdict(bool Keep, ulong? SkipUntilNs = null);

    /// <summary>
    /// An episode to report: <see cref="First"/> once it has lasted a second (or at its end if it is
    /// shorter), <see cref="Ended"/> when it ends; both for a blip. Counts and rates are since it began.
    /// </summary>
    internal readonly record struct Episode(bool First, bool Ended, TimeSpan Length, long Dropped, double DeliveredFps, TimeSpan AudioDropped = default);

    // An episode ends after this long without a drop; the delivered rate is averaged over the same span.
    internal static readonly TimeSpan QuietToEnd = TimeSpan.FromSeconds(2);

    private readonly long _frameNs = 1_000_000_000L / fps;
    private long _latencyNs = latency.Ticks * 100, _audioLatencyNs = latency.Ticks * 100;
    private volatile bool _armed;
    private long _dropped, _delivered, _episodes, _audioDroppedNs, _audioStarvedNs, _lateDrops;
    // The latest running time the muxer's video pad was given (a picture or a gap), and the latest
    // picture handed to the encoder; -1 before the first.
    private long _toMuxNs = -1, _encodingNs = -1;
    private long _missed;
    // The latest frame offered to the encoder; encoder streaming thread only.
    private long _offeredNs = -1;
    private volatile int _shedEvery = 1;

    // Tick state (control thread).
    private readonly Queue<(TimeSpan At, long Delivered)> _history = new();
    private (TimeSpan At, long Dropped, long Delivered, long AudioNs) _lastTick, _episodeStart;
    private TimeSpan _lastDropAt;
    private bool _inEpisode, _reported;
    private double _deliveredFps;

    internal string Bus { get; } = bus;
    internal int Fps { get; } = fps;
    /// <summary>The most a bus is asked to shed: it then makes one frame in this many.</summary>
    internal const int MostShed = 15;

    /// <summary>The longest a bus at <paramref name="fps"/> goes without a frame while it sheds, and two frames to spare.</summary>
    internal static TimeSpan LongestGap(int fps) => TimeSpan.FromSeconds((MostShed + 2) / (double)fps);

    /// <summary>
    /// The most a frame may be late (past the bus's deadline) when it leaves the compositor or reaches
    /// the encoder: two frame intervals, the bound. One would be tighter, but a bus whose
    /// inputs have gone (every frame then made right at its deadline) would drop frames at every
    /// scheduling hiccup of a loaded machine.
    /// </summary>
    internal long MaxLateNs => 2 * _frameNs;
    internal long Dropped => Interlocked.Read(ref _dropped);
    /// <summary>
    /// Pictures and blocks of sound dropped for coming too late (shed frames not counted): the bus's threads run, starved,
    /// so a bus whose pictures stop while this grows is short of CPU, not stuck (Engine.BusStallWatch).
    /// </summary>
    internal long LateDrops => Interlocked.Read(ref _lateDrops);
    /// <summary>
    /// Frames the bus owed its encoder and did not hand it in time: frames more than a frame interval
    /// late there (dropped or not), and the frame slots between two frames offered to it (made by no
    /// compositor, dropped before the encoder, thrown away by its queue), counted while the bus makes
    /// every frame. Unlike <see cref="Dropped"/> this counts what the compositor skipped (QoS), so it
    /// measures how short of time the bus is, frame for frame.
    /// </summary>
    internal long Missed => Interlocked.Read(ref _missed);
    internal long Delivered => Interlocked.Read(ref _delivered);
    internal long Episodes => Interlocked.Read(ref _episodes);
    /// <summary>Sound thrown away because it was late, in nanoseconds of sound.</summary>
    internal long AudioDroppedNs => Interlocked.Read(ref _audioDroppedNs);
    /// <summary>Of <see cref="AudioDroppedNs"/>, what was dropped only because its chain's thread waited for a CPU (<see cref="DroppedWhileStarved"/>).</summary>
    internal long AudioStarvedNs => Interlocked.Read(ref _audioStarvedNs);
    internal bool Dropping => _inEpisode;
    internal double DeliveredFps => _deliveredFps;

    /// <summary>
    /// How long the compositor waits past a frame's running time before it makes it (what it told
    /// the latency query); a frame is late when it is past that. Set from the control thread.
    /// </summary>
    internal TimeSpan Latency
    {
        get => TimeSpan.FromTicks(Interlocked.Read(ref _latencyNs) / 100);
        set => Interlocked.Exchange(ref _latencyNs, value.Ticks * 100);
    }

    /// <summary>How long the bus's audio mixer waits past a buffer's running time (what it told the latency query). Set from the control thread.</summary>
    internal TimeSpan AudioLatency
    {
        get => TimeSpan.FromTicks(Interlocked.Read(ref _audioLatencyNs) / 100);
        set => Interlocked.Exchange(ref _audioLatencyNs, value.Ticks * 100);
    }

    /// <summary>
    /// Whether frames are being judged yet: not during the bus's first second, while the encoder
    /// opens on its first frame and the mixers settle their latency.
    /// </summary>
    internal bool Armed => _armed;

    /// <summary>Make only every n-th frame (1: every frame). Set from the control thread.</summary>
    internal int ShedEvery { get => _shedEvery; set => _shedEvery = Math.Max(1, value); }

    /// <summary>How late a frame of running time <paramref name="runningTime"/> is at pipeline running time <paramref name="now"/>.</summary>
    internal long LateNs(ulong runningTime, ulong now) => Late(runningTime, now, Interlocked.Read(ref _latencyNs));

    private static long Late(ulong runningTime, ulong now, long latencyNs) => (long)now - ((long)runningTime + latencyNs);

    /// <summary>A frame the compositor just made. Compositor streaming thread.</summary>
    internal Verdict AtCompositor(ulong runningTime, ulong now)
    {
        if (!_armed) return new Verdict(true);
        var late = LateNs(runningTime, now);
        if (late > MaxLateNs)
        {
            // Behind the clock: this frame could not leave in time, and the ones until now are as
            // late, so the compositor skips straight to the frame due now.
            Interlocked.Increment(ref _dropped);
            Interlocked.Increment(ref _lateDrops);
            return new Verdict(false, runningTime + (ulong)late + (ulong)_frameNs / 2);
        }
        var every = _shedEvery;
        if (every <= 1) return new Verdict(true);
        if (!Makes(runningTime))
        {
            Interlocked.Increment(ref _dropped);
            return new Verdict(false);
        }
        // Kept; the compositor need not make the frames in between at all.
        return new Verdict(true, runningTime + (ulong)(_frameNs * (every - 1)) - (ulong)_frameNs / 2);
    }

    /// <summary>
    /// Whether the bus makes its frame of running time <paramref name="runningTime"/> while it sheds
    /// (every frame when it does not), so that what feeds only shedding buses can skip the rest
    /// before working on them (<see cref="ScaledFeed"/>). Any thread.
    /// </summary>
    internal bool Makes(ulong runningTime) => _shedEvery is var every && (every <= 1 || (long)(runningTime / (ulong)_frameNs) % every == 0);

    /// <summary>How many frame slots before a frame the bus makes (while it sheds) a late picture may stand in for that frame's own.</summary>
    internal const int FallbackFrames = 2;

    /// <summary>
    /// Whether a picture for the frame of <paramref name="runningTime"/>, which the bus does not make while it
    /// sheds, is to reach the bus anyway, arriving at <paramref name="now"/>: it is for one of the
    /// <see cref="FallbackFrames"/> frames just before one the bus makes, and it comes so late (less than a
    /// frame interval before its own deadline, or after it) that the picture of that frame is likely to miss
    /// its deadline too; the bus then shows the newest picture that came in time instead of keeping the one
    /// before for a whole shed period. A picture in time comes within the inputs' jitter allowance, well
    /// before that, so an input that keeps time costs no extra scaling. Without it, one input's boxes held one
    /// picture 1–3 s on all seven AUX buses of a 720p + 7 AUX job, where Program's held ≤ 1 s. Any thread.
    /// </summary>
    internal bool Fallback(ulong runningTime, ulong now)
    {
        if (_shedEvery <= 1 || (long)now - (long)runningTime < Interlocked.Read(ref _latencyNs) - _frameNs) return false;
        for (var k = 1; k <= FallbackFrames; k++)
            if (Makes(runningTime + (ulong)(k * _frameNs))) return true;
        return false;
    }

    /// <summary>
    /// Where the bus is sure to make no frame after the frame of <paramref name="runningTime"/>, which it
    /// made while shedding (null when it does not shed, or did not make that frame under the current
    /// share): the last frame slot before the next frame it makes, as an offset from this frame. Nothing
    /// earlier can follow: the compositor was told to make nothing before half a slot ahead of that
    /// (<see cref="AtCompositor"/>), and a bus shedding more makes even fewer. The muxer lets the bus's
    /// sound through up to the start of the gap, so the gap is the last slot, not the whole span: a gap
    /// that starts earlier lets the sound wait for the next picture again once the muxer has passed it.
    /// Any thread.
    /// </summary>
    internal (ulong FromNs, ulong DurationNs)? NothingAfter(ulong runningTime) =>
        _shedEvery is var every && every > 1 && Makes(runningTime) ? ((ulong)(_frameNs * (every - 1)), (ulong)_frameNs) : null;

    /// <summary>
    /// The muxer's video pad got a picture of, or a gap up to, <paramref name="runningTime"/>. Encoder
    /// streaming thread (and the audio thread, for the gaps of <see cref="NoPictureBefore"/>).
    /// </summary>
    internal void ToMux(ulong runningTime) => Max(ref _toMuxNs, (long)runningTime);

    /// <summary>
    /// Where the muxer may be told the bus has no picture (the running time to give its video pad a
    /// gap at), because none before it can come any more: null while it needs no telling, or cannot
    /// be told yet. A picture more than <see cref="MaxLateNs"/> past its deadline is dropped before
    /// the encoder (<see cref="AtEncoder"/>), so at <paramref name="now"/> none older than now minus
    /// the latency and those two frame intervals can still reach the muxer, unless one is being
    /// encoded: that one goes first.
    /// GStreamer 1.22's mpegtsmux writes nothing until every stream has data, so without this the
    /// bus's sound waits for the next picture whenever pictures go missing (a shedding bus's picture
    /// dropped late, Program dropping frames: up to a second), and with it sound waits no longer than
    /// a picture may be late. Claims the gap, so that the next call tells only what is new.
    /// Audio streaming thread.
    /// </summary>
    internal ulong? NoPictureBefore(ulong now)
    {
        if (!_armed) return null;
        var until = (long)now - Interlocked.Read(ref _latencyNs) - MaxLateNs;
        var toMux = Interlocked.Read(ref _toMuxNs);
        if (toMux < 0 || Interlocked.Read(ref _encodingNs) > toMux || until <= toMux) return null;
        return Interlocked.CompareExchange(ref _toMuxNs, until, toMux) == toMux ? (ulong)until : null;
    }

    private static void Max(ref long field, long value)
    {
        long seen;
        do seen = Interlocked.Read(ref field);
        while (value > seen && Interlocked.CompareExchange(ref field, value, seen) != seen);
    }

    /// <summary>A frame about to be encoded: false to drop it. Encoder streaming thread.</summary>
    internal bool AtEncoder(ulong runningTime, ulong now)
    {
        var previous = _offeredNs;
        _offeredNs = (long)runningTime;
        if (!_armed)
        {
            Max(ref _encodingNs, (long)runningTime);
            _armed = Interlocked.Increment(ref _delivered) >= Fps;
            return true;
        }
        var late = LateNs(runningTime, now);
        var missed = late > _frameNs ? 1L : 0;
        if (previous >= 0 && _shedEvery <= 1) missed += Math.Max(0, ((long)runningTime - previous + _frameNs / 2) / _frameNs - 1);
        if (missed > 0) Interlocked.Add(ref _missed, missed);
        if (late > MaxLateNs)
        {
            Interlocked.Increment(ref _dropped);
            Interlocked.Increment(ref _lateDrops);
            return false;
        }
        Interlocked.Increment(ref _delivered);
        Max(ref _encodingNs, (long)runningTime);
        return true;
    }

    /// <summary>
    /// A block of the bus's encoded sound, <paramref name="durationNs"/> long, about to enter its muxer:
    /// false to drop it. The bus's muxer writes nothing until every stream has data, so sound that
    /// falls behind holds the pictures back with it; sound as late as a frame may be is dropped
    /// instead (a gap, not a delay). Per bus, after the mix chain, which buses may share
    /// (<see cref="SoundFeed"/>). The mix chain's streaming thread.
    /// </summary>
    internal bool AtAudio(ulong runningTime, ulong now, long durationNs)
    {
        if (!_armed) return true;
        if (Late(runningTime, now, Interlocked.Read(ref _audioLatencyNs)) <= MaxLateNs) return true;
        Interlocked.Add(ref _audioDroppedNs, durationNs);
        Interlocked.Increment(ref _lateDrops);
        return false;
    }

    /// <summary>
    /// Of a block <see cref="AtAudio"/> just dropped, whose chain's thread waited <paramref name="waitedNs"/>
    /// on the run queue since the block's start: counts it as dropped for want of CPU where it would
    /// have come in time without that wait. A block held back by what its thread waited on (a muxer, a
    /// move between chains) is not: a thread that waits on something sleeps and waits on no run queue.
    /// The mix chain's streaming thread.
    /// </summary>
    internal void DroppedWhileStarved(ulong runningTime, ulong now, long durationNs, long waitedNs)
    {
        if (Late(runningTime, now, Interlocked.Read(ref _audioLatencyNs)) - waitedNs <= MaxLateNs) Interlocked.Add(ref _audioStarvedNs, durationNs);
    }

    /// <summary>Frames the encoder's queue threw away because the encoder was still busy.</summary>
    internal void QueueDropped(long frames) => Interlocked.Add(ref _dropped, frames);

    /// <summary>Updates the delivered rate and opens or closes an episode. Control thread, a few times a second.</summary>
    internal Episode? Tick(TimeSpan now)
    {
        var (delivered, dropped, audioNs) = (Delivered, Dropped, AudioDroppedNs);
        _history.Enqueue((now, delivered));
        while (_history.Count > 1 && now - _history.Peek().At > QuietToEnd) _history.Dequeue();
        var (since, deliveredThen) = _history.Peek();
        _deliveredFps = now > since ? Math.Min(Fps, (delivered - deliveredThen) / (now - since).TotalSeconds) : Fps;

        var previous = _lastTick;
        _lastTick = (now, dropped, delivered, audioNs);
        if (previous.At == default) return null;
        // Dropped sound opens or prolongs an episode as dropped frames do.
        if (dropped > previous.Dropped || audioNs > previous.AudioNs)
        {
            _lastDropAt = now;
            if (!_inEpisode)
            {
                (_inEpisode, _reported, _episodeStart) = (true, false, previous);
                Interlocked.Increment(ref _episodes);
            }
        }
        if (!_inEpisode) return null;
        var ended = now - _lastDropAt >= QuietToEnd;
        if (ended) _inEpisode = false;
        if (_reported && !ended) return null;
        if (!_reported && !ended && now - _episodeStart.At < TimeSpan.FromSeconds(1)) return null;
        var first = !_reported;
        _reported = true;
        var length = (ended ? _lastDropAt : now) - _episodeStart.At;
        var rate = Math.Min(Fps, (delivered - _episodeStart.Delivered) / Math.Max(1e-3, (now - _episodeStart.At).TotalSeconds));
        return new Episode(first, ended, length, dropped - _episodeStart.Dropped, rate, TimeSpan.FromTicks((audioNs - _episodeStart.AudioNs) / 100));
    }
}
