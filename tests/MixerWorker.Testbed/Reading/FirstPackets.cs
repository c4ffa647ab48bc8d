using MixerWorker.Testbed.Feeds;

namespace MixerWorker.Testbed.Reading;

/// <summary>
/// When each video frame's first TS packet reached a reader. tsdemux hands a video frame on once it is complete: where
/// the PES has a length (GStreamer's mpegtsmux writes one when the picture fits), with its last packet; where it has
/// none (ffmpeg, and any picture over 64 KB), only when the next frame's first packet arrives. The time a frame leaves
/// the demuxer can so include the gap to the next one: a frame interval at 30 fps, up to a second and a half on a bus
/// shedding to two frames a second. A bus's delay is measured to its frames' first packets instead. One per
/// connection; called from the reader's streaming thread, which also runs the demuxer: each piece received is noted
/// before the demuxer takes it, and what the demuxer hands on is told (<see cref="Handed"/>) while it demuxes it.
/// </summary>
internal sealed class FirstPackets
{
    private const int Kept = 256;
    private readonly Queue<Start> _starts = new();
    // Per PID, the video PES being received, to count its bytes.
    private readonly Dictionary<int, Start> _open = [];
    // tsdemux's timeline is the stream's PTS less an offset of its own choosing, found on a frame it hands on.
    private long? _offsetNs;

    private sealed class Start(long ptsNs, long arrivalUs, int bytes)
    {
        public long PtsNs { get; } = ptsNs;
        public long ArrivalUs { get; } = arrivalUs;
        /// <summary>The PES payload received so far: what the demuxer hands on, once complete.</summary>
        public int Bytes { get; set; } = bytes;
    }

    /// <summary>Notes the video PES that begin in <paramref name="ts"/>, which arrived at <paramref name="arrivalUs"/>.</summary>
    internal void Note(ReadOnlySpan<byte> ts, long arrivalUs)
    {
        for (var i = 0; i + TsPacket.Size <= ts.Length; i += TsPacket.Size)
        {
            var p = ts.Slice(i, TsPacket.Size);
            if (p[0] != TsPacket.Sync || !TsPacket.HasPayload(p)) continue;
            var pid = TsPacket.Pid(p);
            if (TsPacket.Pusi(p) && TsPacket.IsVideoPes(p) && TsPacket.PesTimestampOffsets(p) is { Pts: >= 0 and var at })
            {
                var s = TsPacket.PayloadStart(p);
                var start = new Start(TsPacket.ReadTimestamp(p[at..]) * 100_000 / 9, arrivalUs, Math.Max(0, TsPacket.Size - (s + 9 + p[s + 8])));
                _starts.Enqueue(start);
                _open[pid] = start;
                while (_starts.Count > Kept) _starts.Dequeue();
            }
            else if (_open.TryGetValue(pid, out var open)) open.Bytes += Math.Max(0, TsPacket.Size - TsPacket.PayloadStart(p));
        }
    }

    /// <summary>
    /// The demuxer handed on a frame of <paramref name="bytes"/> with <paramref name="pts"/> (its timeline). Until the
    /// offset is known, the frame is found by its size among the PES received: which start ends it depends on whether
    /// the PES has a length, and a piece may hold several starts (a reader catching up), so neither the newest start
    /// nor the one before it is sure to be it. A size seen twice waits for the next frame.
    /// </summary>
    internal void Handed(ulong? pts, long bytes)
    {
        if (_offsetNs is not null || pts is null) return;
        Start? found = null;
        foreach (var s in _starts)
        {
            if (s.Bytes != bytes) continue;
            if (found is not null) return;
            found = s;
        }
        if (found is not null) _offsetNs = found.PtsNs - (long)pts.Value;
    }

    /// <summary>When the first packet of the frame the demuxer handed on with <paramref name="pts"/> arrived, if known.</summary>
    internal long? Of(ulong pts)
    {
        if (_offsetNs is null) return null;
        foreach (var s in _starts)
            if (Math.Abs(s.PtsNs - (long)pts - _offsetNs.Value) < 1_000_000) return s.ArrivalUs;
        return null;
    }
}
