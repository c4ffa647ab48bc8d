namespace MixerWorker.Pipeline.Sources;

/// <summary>
/// Maps one input connection's timestamps onto the mixer's running time: running time = the
/// input's own timestamp + one offset, shared by its picture and its sound. The offset is found on
/// the first picture (that picture is due the moment it leaves its decoder), found again when the
/// input's timestamps jump (a publisher restarting its clock, a file looping, a PTS wrap), and
/// corrected when, over a whole window, even the input's earliest frames come out too early or too
/// late. Between those moments frames keep the spacing their publisher gave them, so each one lands
/// at the position in time it was captured. See docs/architecture.md, "Live timing".
/// </summary>
/// <remarks>
/// Pure arithmetic, no GStreamer: the caller (<see cref="SrtSource"/>) gives each decoded buffer's
/// running time and the pipeline's running time now, and applies the offset it gets back. Called
/// from the input's streaming thread(s); thread-safe.
/// </remarks>
internal sealed class InputTimeline
{
    internal enum Track { Video, Audio }

    internal enum ChangeKind { Anchored, Jumped, Corrected }

    /// <summary>A change of the offset: why, and by how much (ns; for an anchor, the offset itself).</summary>
    internal readonly record struct Change(ChangeKind Kind, long ByNs);

    /// <summary>What to do with a buffer: drop it, or let it through with this running-time offset.</summary>
    internal readonly record struct Placement(bool Keep, long OffsetNs, Change? Change = null);

    private const long Ms = 1_000_000;
    // Decoded pictures never go back in time, and a publisher never leaves a second without one:
    // beyond these, the timestamps belong to a new timeline.
    internal const long JumpBackNs = 500 * Ms, JumpForwardNs = 1000 * Ms;
    // Sound and picture of one timeline are never this far apart.
    internal const long SameTimelineNs = 1000 * Ms;
    // An input that has sent sound but no picture for this long is taken as sound only.
    internal const long SoundOnlyAfterNs = 1000 * Ms;
    // The windows after an anchor (settling) are short so that a badly placed anchor is corrected within a few frames.
    internal const long FirstWindowNs = 500 * Ms, WindowNs = 2000 * Ms;
    // The most short windows an anchor settles in, so that an input whose pictures stay irregular still
    // gets the long windows that ignore a stalled second.
    internal const int MaxSettlingWindows = 4;

    private readonly long _bandNs, _maxLaterNs;
    // How far corrections have moved the timeline later since it was anchored, less what corrections
    // earlier took back, never below nothing: a timeline placed too late and moved earlier gains no room
    // to move later than the bound from there.
    private long _laterNs;
    private readonly Lock _lock = new();
    private readonly long[] _low = [long.MaxValue, long.MaxValue];
    private long? _offset;
    private Track _master = Track.Video;
    private ulong _masterLast, _masterLastAt;
    private ulong? _firstSoundAt;
    private ulong _windowStart;
    private long _windowLength;
    private enum Phase { Settling, Confirming, Settled }
    // Settling: from an anchor until a short window ends without a correction (or MaxSettlingWindows
    // have passed), each window is a short one, so that an anchor placed late (the first pictures left
    // their decoder in a start-up backlog) is corrected within a second rather than one window later.
    // Confirming: then one whole window, whose earliest frames are due exactly as they come out (see EndWindow).
    private Phase _phase;
    private int _settlingWindows;
    // Once settled, the lateness of the window before: a correction needs two windows in a row that
    // stray the same way (see EndWindow).
    private long? _previousLatest;

    // Sound its publisher packed several frames to a PES (ffmpeg's and OBS's default MPEG-TS muxing: up
    // to 2.9 kB or half the mux delay of AAC, 8 frames or 171 ms) leaves the decoder in runs: the PES went
    // out once its last frame was made, so its first frame is late by the run's span before anything of
    // ours. Every frame of a run must be heard, so a run of PackedRunBlocks or more counts as late as its
    // first block, and the least span of a window's runs (what every run of the window waited for its
    // publisher) may move the timeline later beyond the bound: it is the publisher's packing, not a
    // decoder falling behind, which also makes runs (catching up), but not in every run of a window.
    // A run's first block is late by what its packing adds, its span, and what the rest of the way adds;
    // the span is taken as the window's median run span, not the run's own. ffmpeg puts 7 frames in a PES
    // now and then (when 8 would pass the 2.9 kB), and placed by each run's own span, a window that had
    // such a run found its earliest sound a frame earlier than one that had none: a settled timeline moved
    // ~20 ms earlier and later again mid-show (sound dropped as late, then a hole). The median is the
    // publisher's packing; where 7 and 8 frames are about as common it still changes by a frame from one
    // window to the next, so a settled timeline of packed sound moves only for a stray of a frame more than
    // the band (the jitter allowance has room for a frame's difference in packing).
    // Shorter runs count by their least late block, as single blocks do: two blocks a PES keep within the
    // jitter allowance, and a block that comes right after a delayed one is the network's jitter, whose
    // least late blocks are where the timeline belongs.
    internal const int PackedRunBlocks = 3;
    private bool _inSoundRun;
    private int _soundRunBlocks;
    private ulong _soundRunFirst, _soundRunFirstAt, _soundLast, _soundLastAt;
    // Of the run being read: the least (left the decoder − stamp) of its blocks, before the offset.
    private long _soundRunLeastBehind;
    private long _leastSoundRunNs;
    // Of the window's packed runs: the least lateness of their first blocks less their spans, on the timeline, and their spans.
    private long _packedRunsLow = long.MaxValue;
    private readonly List<long> _packedRunSpans = [];
    // The stamp spacing of the last packed run's frames.
    private long _packedFrameNs;
    // The longest PTS step two frames of one run are apart (an AAC frame at 16 kHz is 64 ms, an Opus
    // packet at most 120 ms); a longer one is a jump, never a run.
    internal const long MostSoundFrameNs = 150 * Ms;

    // The offset is corrected only when the earliest frames of a whole window stray further than this
    // from their due time. Frames that come out early wait in their box's queue for that long, so it
    // is latency, and it is kept small: what moves the earliest frame of a two-second window (the
    // decode time of the quickest picture) varies by a few milliseconds, and ordinary jitter only
    // makes the other frames later, never the earliest one earlier.
    internal const long MaxBandNs = 10 * Ms;

    /// <param name="jitter">
    /// How much later than its due time a frame may leave its decoder and still be shown (what the
    /// buses' deadlines allow for). The offset is corrected only when the earliest frames of a window
    /// stray more than <see cref="MaxBandNs"/> (at most half the allowance) from their due time.
    /// </param>
    internal InputTimeline(TimeSpan jitter)
    {
        _bandNs = Math.Max(5 * Ms, Math.Min(MaxBandNs, jitter.Ticks * 100 / 2));
        _maxLaterNs = Math.Max(2 * _bandNs, jitter.Ticks * 100);
    }

    internal long Jumps { get; private set; }
    internal long Corrections { get; private set; }
    /// <summary>How far corrections have moved the timeline, earlier and later added up (ns).</summary>
    internal long MovedNs { get; private set; }
    /// <summary>Buffers dropped because they belong to no timeline yet (sound before the first picture) or to an old one.</summary>
    internal long HeldBack { get; private set; }
    internal long? OffsetNs { get { lock (_lock) return _offset; } }
    /// <summary>Anchored, and the windows that settle the anchor are over: from now on the offset moves only for a lasting drift.</summary>
    internal bool Settled { get { lock (_lock) return _offset is not null && _phase == Phase.Settled; } }

    /// <summary>
    /// Places one decoded buffer whose running time before any offset is <paramref name="runningTime"/>;
    /// <paramref name="now"/> is the pipeline's running time as the buffer leaves its decoder.
    /// </summary>
    internal Placement Place(Track track, ulong runningTime, ulong now)
    {
        lock (_lock)
        {
            Change? change = null;
            if (_offset is null)
            {
                if (track == Track.Audio) _firstSoundAt ??= now;
                if (track == Track.Audio && now - _firstSoundAt!.Value < SoundOnlyAfterNs)
                {
                    HeldBack++; // its picture will set the timeline
                    return new Placement(false, 0);
                }
                _master = track;
                change = new Change(ChangeKind.Anchored, Anchor(runningTime, now));
            }
            else if (track == _master)
            {
                if (runningTime + JumpBackNs < _masterLast || runningTime > _masterLast + JumpForwardNs)
                {
                    var before = _offset.Value;
                    Jumps++;
                    change = new Change(ChangeKind.Jumped, Anchor(runningTime, now) - before);
                }
                _masterLast = runningTime;
                _masterLastAt = now;
            }
            else if (Math.Abs((long)runningTime - ExpectedMasterAt(now)) > SameTimelineNs)
            {
                HeldBack++; // sound of the old timeline after a jump, or of the new one before it
                return new Placement(false, _offset.Value);
            }

            var offset = _offset!.Value;
            if (track == Track.Audio) NoteSound(runningTime, now);
            else _low[(int)track] = Math.Min(_low[(int)track], (long)now - ((long)runningTime + offset));
            if ((long)(now - _windowStart) >= _windowLength && EndWindow(now) is { } correction) change ??= correction;
            return new Placement(true, offset, change);
        }
    }

    // A block of sound that left the decoder sooner after the one before than half the time between
    // their stamps came with it. A run is counted in the window's lateness once it is over (the next block
    // starts another), so that its length is known.
    private void NoteSound(ulong runningTime, ulong now)
    {
        var step = (long)runningTime - (long)_soundLast;
        var withLast = _inSoundRun && step > 0 && step <= MostSoundFrameNs && (long)(now - _soundLastAt) * 2 < step;
        if (!withLast)
        {
            if (_inSoundRun)
            {
                var span = (long)(_soundLast - _soundRunFirst);
                if (_soundRunBlocks >= PackedRunBlocks)
                {
                    _packedRunsLow = Math.Min(_packedRunsLow, (long)_soundRunFirstAt - (long)_soundRunFirst - span - _offset!.Value);
                    _packedRunSpans.Add(span);
                    _packedFrameNs = span / (_soundRunBlocks - 1);
                }
                else _low[(int)Track.Audio] = Math.Min(_low[(int)Track.Audio], _soundRunLeastBehind - _offset!.Value);
                _leastSoundRunNs = Math.Min(_leastSoundRunNs, span);
            }
            (_soundRunFirst, _soundRunFirstAt, _soundRunBlocks, _soundRunLeastBehind, _inSoundRun) = (runningTime, now, 0, long.MaxValue, true);
        }
        _soundRunBlocks++;
        _soundRunLeastBehind = Math.Min(_soundRunLeastBehind, (long)now - (long)runningTime);
        (_soundLast, _soundLastAt) = (runningTime, now);
    }

    // Where the master track's timeline is now, carried forward by the clock while it pauses.
    private long ExpectedMasterAt(ulong now) => (long)_masterLast + (long)(now - _masterLastAt);

    private long Anchor(ulong runningTime, ulong now)
    {
        _offset = (long)now - (long)runningTime;
        _laterNs = 0;
        _masterLast = runningTime;
        _masterLastAt = now;
        (_phase, _settlingWindows, _previousLatest) = (Phase.Settling, 0, null);
        _inSoundRun = false;
        StartWindow(now, FirstWindowNs);
        return _offset.Value;
    }

    // The latest track sets the pace: the earliest frame of the latest track should be due right as
    // it comes out. The correction applies from the next buffer on. While settling, a short window that
    // strays is corrected at once. Then one whole window confirms: if even its earliest frames came out
    // early, by any amount, the timeline moves earlier by that much at once. The short windows leave the
    // timeline a little late: their pictures leave the decoder while the process is still busy starting
    // (the encoders, the other inputs), and the earliest of 15 pictures is later than the earliest of
    // 60 anyway (20-45 ms later than the whole windows after them, on an idle machine); settled there,
    // the timeline moved earlier a few seconds into the show, which a box showed as a skip. No stall
    // makes a frame early, so that correction needs no second window; a window that came out late is
    // left to the settled rule. Once settled, only a lasting stray moves the timeline: two windows in a
    // row beyond the band the same way, by the smaller of the two. What moves a timeline for good is
    // clock drift (well under a millisecond a window) or a backlog that never drains, both lasting; a
    // machine that stalls for a second makes one window's pictures all late, and a timeline moved later
    // for that would freeze every box of the input for as long, then skip as much when its pictures came
    // on time again and the timeline moved back. Moving later is bounded: a decoder that falls ever
    // further behind (a starved machine) must not drag the buses' timeline with it; its frames come too
    // late and are left out instead. A step is followed in full, whatever the bound: two windows whose
    // earliest frames are late by the same amount mean the timeline sits too early while the decoder keeps
    // pace (nothing of the feed waiting), and a bound there would leave every picture of the input late
    // for good, the box starved and its buses shedding, with no way back.
    private Change? EndWindow(ulong now)
    {
        if (_packedRunSpans.Count > 0)
        {
            _packedRunSpans.Sort();
            _low[(int)Track.Audio] = Math.Min(_low[(int)Track.Audio], _packedRunsLow + _packedRunSpans[_packedRunSpans.Count / 2]);
        }
        var latest = _low.Where(l => l != long.MaxValue).DefaultIfEmpty(0).Max();
        var packing = _leastSoundRunNs == long.MaxValue ? 0 : _leastSoundRunNs;
        var phase = _phase;
        var previous = _previousLatest;
        _previousLatest = phase == Phase.Settling ? null : latest;
        // Settled, packed sound moves the timeline only beyond a frame more than the band (see PackedRunBlocks).
        var settledBand = _bandNs + (_packedRunSpans.Count > 0 ? _packedFrameNs : 0);
        long by = 0;
        if (phase == Phase.Confirming && latest < 0) by = latest;
        else if (Math.Abs(latest) > _bandNs)
        {
            if (phase == Phase.Settling) by = latest;
            else if (Math.Abs(latest) > settledBand && previous is { } p && Math.Abs(p) > settledBand && Math.Sign(p) == Math.Sign(latest))
                by = Math.Sign(latest) * Math.Min(Math.Abs(p), Math.Abs(latest));
        }
        // Two settled windows late by the same amount (within the band) are a step, not a decoder falling
        // behind: its lateness would grow from one window to the next.
        var step = by > 0 && phase == Phase.Settled && previous is { } q && Math.Abs(latest - q) <= _bandNs;
        if (phase == Phase.Settling && (by == 0 || ++_settlingWindows >= MaxSettlingWindows)) _phase = Phase.Confirming;
        else if (phase == Phase.Confirming) _phase = Phase.Settled;
        StartWindow(now, _phase == Phase.Settling ? FirstWindowNs : WindowNs);
        if (by > 0 && !step) by = Math.Min(by, Math.Max(0, _maxLaterNs + packing - _laterNs));
        if (by == 0) return null;
        _offset += by;
        _laterNs = step ? 0 : Math.Max(0, _laterNs + by);
        if (phase != Phase.Settling) _previousLatest = null;
        Corrections++;
        MovedNs += Math.Abs(by);
        return new Change(ChangeKind.Corrected, by);
    }

    private void StartWindow(ulong now, long length)
    {
        _windowStart = now;
        _windowLength = length;
        Array.Fill(_low, long.MaxValue);
        _leastSoundRunNs = long.MaxValue;
        _packedRunsLow = long.MaxValue;
        _packedRunSpans.Clear();
    }
}
