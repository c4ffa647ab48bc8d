namespace MixerWorker.Pipeline.Sources;

/// <summary>
/// Keeps an input's decoder near the live edge when the machine cannot decode all its pictures in
/// time: once the decoded pictures have left the decoder more than <see cref="Behind"/> after their
/// due time (<see cref="InputTimeline"/>) for a while, the coded pictures up to the next keyframe
/// are dropped before the decoder, and decoding starts again from that keyframe.
/// </summary>
/// <remarks>
/// Without it a decoder that fell behind (a CPU-starved machine, a start-up spike) never came back:
/// the data still to decode piled up in front of it (the source's two megabytes, 10–20 s of a
/// 1–3 Mb/s feed), every box of the input showed its pictures ever later or froze (15 s in the
/// 720p + 7 AUX bench), and it spent the machine on pictures no bus could use in time. A predicted
/// picture cannot be decoded without the ones before it, so the skip runs to a keyframe; keyframes
/// always pass, so a publisher whose timestamps jump is re-anchored as before.
/// A lag a decoder catches up by decoding faster than real time (a scheduling hiccup, a busy second:
/// 80–180 ms were seen on a loaded test machine) skips nothing: the pictures, shown late meanwhile,
/// must be more than <see cref="Behind"/> late over <see cref="Persist"/> of the input's time.
/// Pure arithmetic; called from the input's streaming thread (the demuxer's, which also runs the
/// parser and the decoder), read for status from any thread.
/// </remarks>
internal sealed class DecoderCatchUp
{
    /// <summary>How long (of the input's own time) its pictures must stay late before the decoder skips.</summary>
    internal static readonly TimeSpan Persist = TimeSpan.FromMilliseconds(200);
    /// <summary>How late the pictures must leave the decoder for it to skip: the most an input lags for long.</summary>
    internal static readonly TimeSpan Behind = TimeSpan.FromMilliseconds(500);
    private const long Ms = 1_000_000;

    private readonly long _behindNs;
    private readonly long _persistNs = Persist.Ticks * 100;
    private ulong? _lateSince;
    // The keyframe a skip ended on was just admitted: if it comes out late too, the data still
    // waiting is older than the buses can use, and the next skip starts at once.
    private bool _afterSkip;
    private volatile bool _skipping;
    private long _skips, _skipped;

    /// <param name="behind">How late a picture may leave the decoder before the decoder skips (<see cref="Behind"/>; tests use others).</param>
    internal DecoderCatchUp(TimeSpan behind) => _behindNs = Math.Max(5 * Ms, behind.Ticks * 100);

    /// <summary>Whether coded pictures are being dropped until the next keyframe.</summary>
    internal bool Skipping => _skipping;
    /// <summary>How many times the decoder skipped to a keyframe.</summary>
    internal long Skips => Interlocked.Read(ref _skips);
    /// <summary>Coded pictures dropped before the decoder.</summary>
    internal long Skipped => Interlocked.Read(ref _skipped);

    /// <summary>
    /// A decoded picture of running time <paramref name="runningTime"/> (the input's own timeline)
    /// that left the decoder <paramref name="lateNs"/> after its due time. True when this starts a skip.
    /// </summary>
    internal bool Decoded(ulong runningTime, long lateNs)
    {
        var afterSkip = _afterSkip;
        _afterSkip = false;
        if (lateNs <= _behindNs || _skipping)
        {
            _lateSince = null;
            return false;
        }
        _lateSince ??= runningTime;
        if (!afterSkip && (runningTime < _lateSince.Value || (long)(runningTime - _lateSince.Value) < _persistNs)) return false;
        _lateSince = null;
        _skipping = true;
        Interlocked.Increment(ref _skips);
        return true;
    }

    /// <summary>A coded picture about to be decoded: false to drop it.</summary>
    internal bool Admit(bool keyframe)
    {
        if (!_skipping) return true;
        if (!keyframe)
        {
            Interlocked.Increment(ref _skipped);
            return false;
        }
        _skipping = false;
        _afterSkip = true;
        return true;
    }
}
