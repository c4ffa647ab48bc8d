using MixerWorker.Testbed.Feeds;

namespace MixerWorker.Testbed.Reading;

/// <summary>
/// When each video frame's first TS packet reached a reader. tsdemux hands a video frame on (a PES of
/// unbounded length, as muxers write video) only when the next frame's first packet arrives, so the
/// time a frame leaves the demuxer includes the gap to the next one: a frame interval at 30 fps, up to
/// a second and a half on a bus shedding to two frames a second. A bus's delay is measured to its
/// frames' first packets instead. One per connection; called from the reader's streaming thread, which
/// also runs the demuxer (the pairing relies on it).
/// </summary>
internal sealed class FirstPackets
{
    private const int Kept = 256;
    private readonly Queue<(long PtsNs, long ArrivalUs)> _starts = new();
    // tsdemux's timeline is the stream's PTS less an offset of its own choosing, found on the first frame.
    private long? _offsetNs;

    /// <summary>Notes the video PES that begin in <paramref name="ts"/>, which arrived at <paramref name="arrivalUs"/>.</summary>
    internal void Note(ReadOnlySpan<byte> ts, long arrivalUs)
    {
        for (var i = 0; i + TsPacket.Size <= ts.Length; i += TsPacket.Size)
        {
            var p = ts.Slice(i, TsPacket.Size);
            if (p[0] != TsPacket.Sync || !TsPacket.IsVideoPes(p) || TsPacket.PesTimestampOffsets(p) is not { Pts: >= 0 and var at }) continue;
            _starts.Enqueue((TsPacket.ReadTimestamp(p[at..]) * 100_000 / 9, arrivalUs));
            while (_starts.Count > Kept) _starts.Dequeue();
        }
    }

    /// <summary>When the first packet of the frame the demuxer handed on with <paramref name="pts"/> arrived, if known.</summary>
    internal long? Of(ulong pts)
    {
        if (_offsetNs is null)
        {
            // The first frame handed on is the one before the newest start seen.
            if (_starts.Count < 2) return null;
            _offsetNs = _starts.ElementAt(_starts.Count - 2).PtsNs - (long)pts;
        }
        foreach (var (startNs, arrivalUs) in _starts)
            if (Math.Abs(startNs - (long)pts - _offsetNs.Value) < 1_000_000) return arrivalUs;
        return null;
    }
}
