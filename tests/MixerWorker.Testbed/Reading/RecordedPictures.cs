using MixerWorker.Testbed.Feeds;

namespace MixerWorker.Testbed.Reading;

/// <summary>
/// One picture of a recording: the H.264 of its video PES, its PTS (the stream's own, ns, unwrapped), when its first TS
/// packet arrived, and when a live demuxer would have handed it on (<see cref="FirstPackets"/>): with its last packet
/// where the PES has a length, else with the next picture's first packet (the last picture: the recording's last piece).
/// </summary>
internal sealed record RecordedPicture(byte[] H264, ulong PtsNs, long FirstPacketUs, long HandedOnUs);

/// <summary>
/// Takes the pictures out of a <see cref="OutputReader.Recorder"/>'s TS here rather than with tsdemux. Read after the
/// fact, tsdemux is no longer live: it holds pictures back for a while, so its output time says nothing of the
/// arrival, and it moves the PTS onto a timeline of its own, so its pictures can only be matched to the recorded
/// arrivals by guessing that timeline (which was off by frames, or found no pairs at all). Here each picture keeps the
/// stream's PTS, so the decoder's output is matched to its arrival exactly.
/// </summary>
internal static class RecordedPictures
{
    private const long Wrap90k = 1L << 33;

    /// <param name="ts">The recording: whole TS packets, every connection appended.</param>
    /// <param name="chunks">Where each piece received ends in <paramref name="ts"/>, and when it arrived.</param>
    /// <param name="pes">Also told of every sound and picture PES start, as a live reader's would be.</param>
    internal static List<RecordedPicture> Read(byte[] ts, IReadOnlyList<(long End, long ArrivalUs)> chunks, PesArrivals pes)
    {
        var pictures = new List<RecordedPicture>();
        var videoPids = new HashSet<int>();
        var continuity = new Dictionary<int, int>();
        List<byte>? data = null;
        (ulong PtsNs, long FirstUs) current = default;
        // The payload the header of the PES under way announces (0: none, it ends where the next begins).
        var announced = 0;
        long? last90k = null;
        long wraps = 0, arrival = 0;
        var chunk = 0;
        for (var i = 0; i + TsPacket.Size <= ts.Length; i += TsPacket.Size)
        {
            // A packet arrived with the piece that holds its last byte.
            while (chunk < chunks.Count - 1 && chunks[chunk].End < i + TsPacket.Size) chunk++;
            if (chunks.Count > 0) arrival = chunks[chunk].ArrivalUs;
            var p = ts.AsSpan(i, TsPacket.Size);
            if (p[0] != TsPacket.Sync) continue;
            pes.Note(p, arrival);
            if (!TsPacket.HasPayload(p)) continue;
            var pid = TsPacket.Pid(p);
            var cc = p[3] & 0x0F;
            var lost = continuity.TryGetValue(pid, out var lastCc) && cc != ((lastCc + 1) & 0x0F) && cc != lastCc;
            continuity[pid] = cc;
            var start = TsPacket.Pusi(p) && TsPacket.IsVideoPes(p) && TsPacket.PesTimestampOffsets(p) is { Pts: >= 0 };
            if (start) videoPids.Add(pid);
            if (!videoPids.Contains(pid)) continue;
            if (start)
            {
                // The PES under way ends here. One with a length still under way was cut short (it is added once whole);
                // one without is whole unless a packet before this one was lost.
                if (data is not null && announced == 0 && !lost) pictures.Add(new RecordedPicture([.. data], current.PtsNs, current.FirstUs, arrival));
                var s = TsPacket.PayloadStart(p);
                var pts90k = TsPacket.ReadTimestamp(p[TsPacket.PesTimestampOffsets(p)!.Value.Pts..]);
                if (last90k is { } l && l - pts90k > Wrap90k / 2) wraps++;
                last90k = pts90k;
                current = ((ulong)((pts90k + wraps * Wrap90k) * 100_000 / 9), arrival);
                data = [.. p[Math.Min(s + 9 + p[s + 8], TsPacket.Size)..]];
                var length = (p[s + 4] << 8) | p[s + 5];
                announced = length == 0 ? 0 : length - 3 - p[s + 8];
            }
            // A picture missing a packet (lost, or cut where connections were appended) is dropped, not decoded broken.
            else if (lost) data = null;
            else data?.AddRange(p[Math.Min(TsPacket.PayloadStart(p), TsPacket.Size)..]);
            if (data is not null && announced > 0 && data.Count >= announced)
            {
                pictures.Add(new RecordedPicture([.. data.Take(announced)], current.PtsNs, current.FirstUs, arrival));
                data = null;
            }
        }
        // The recording stopped where the connection did, often within a picture: one with a length still short of it is
        // left out (decoded, the part missing would show the picture before).
        if (data is not null && announced == 0) pictures.Add(new RecordedPicture([.. data], current.PtsNs, current.FirstUs, arrival));
        return pictures;
    }
}
