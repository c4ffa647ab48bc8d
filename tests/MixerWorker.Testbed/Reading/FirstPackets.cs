using MixerWorker.Testbed.Feeds;

namespace MixerWorker.Testbed.Reading;

/// <summary>
/// When each video frame's first TS packet reached a reader. tsdemux hands a video frame on (a PES of
/// unbounded length, as muxers write video) only when the next frame's first packet arrives, so the
/// time a frame leaves the demuxer includes the gap to the next one: a frame interval at 30 fps, up to
/// a second and a half on a bus shedding to two frames a second. A bus's delay is measured to its
/// frames' first packets instead. One per connection; called from the reader's streaming thread, which
/// also runs the demuxer (the pairing relies on it). Reading a recording (<paramref name="fromFileStart"/>), the
/// demuxer may hold frames back for a while (a source that is not live): its timeline is then found on the first
/// frame it hands to the parser (<see cref="Calibrate"/>: the first that starts in the file; the parser may drop
/// frames until a keyframe), and a frame "arrives" when the next one's first packet did (<see cref="NextOf"/>), which
/// is when a live demuxer would have handed it on.
/// </summary>
internal sealed class FirstPackets(bool fromFileStart = false)
{
    private const int Kept = 256;
    private readonly Queue<(long PtsNs, long ArrivalUs)> _starts = new();
    // tsdemux's timeline is the stream's PTS less an offset of its own choosing, found on the first frame.
    private long? _offsetNs, _firstStartNs;

    /// <summary>Notes the video PES that begin in <paramref name="ts"/>, which arrived at <paramref name="arrivalUs"/>.</summary>
    internal void Note(ReadOnlySpan<byte> ts, long arrivalUs)
    {
        for (var i = 0; i + TsPacket.Size <= ts.Length; i += TsPacket.Size)
        {
            var p = ts.Slice(i, TsPacket.Size);
            if (p[0] != TsPacket.Sync || !TsPacket.IsVideoPes(p) || TsPacket.PesTimestampOffsets(p) is not { Pts: >= 0 and var at }) continue;
            _starts.Enqueue((TsPacket.ReadTimestamp(p[at..]) * 100_000 / 9, arrivalUs));
            _firstStartNs ??= _starts.Peek().PtsNs;
            while (_starts.Count > Kept) _starts.Dequeue();
        }
    }

    /// <summary>When the first packet of the frame the demuxer handed on with <paramref name="pts"/> arrived, if known.</summary>
    internal long? Of(ulong pts)
    {
        var (at, _) = Find(pts);
        return at;
    }

    /// <summary>When the first packet of the frame after the one handed on with <paramref name="pts"/> arrived, if known.</summary>
    internal long? NextOf(ulong pts)
    {
        var (_, next) = Find(pts);
        return next;
    }

    /// <summary>Reading a recording: the demuxer handed its first frame, with <paramref name="pts"/>, to the parser.</summary>
    internal void Calibrate(ulong pts)
    {
        if (fromFileStart && _offsetNs is null && _firstStartNs is { } first) _offsetNs = first - (long)pts;
    }

    private (long? At, long? Next) Find(ulong pts)
    {
        if (_offsetNs is null)
        {
            // The first frame handed on is the one before the newest start seen.
            if (fromFileStart || _starts.Count < 2) return (null, null);
            _offsetNs = _starts.ElementAt(_starts.Count - 2).PtsNs - (long)pts;
        }
        long? found = null;
        foreach (var (startNs, arrivalUs) in _starts)
        {
            if (found is not null) return (found, arrivalUs);
            if (Math.Abs(startNs - (long)pts - _offsetNs.Value) < 1_000_000) found = arrivalUs;
        }
        return (found, null);
    }
}
