using System.Buffers.Binary;

namespace MixerWorker.Pipeline.Builders;

/// <summary>
/// How late a bus's pictures leave it: at the SRT sink's input, the pipeline's running time minus
/// the picture's running time minus the bus's latency (<see cref="LatenessGuard.LateNs"/>), the
/// quantity issue 9 bounds by two frame intervals. The guard only sees a picture before it is
/// encoded; the encoder, the muxer and the output take more after it, and under CPU starvation
/// each thread hand-off waits for the quota (docs/architecture.md, "Live timing").
/// A TS buffer is paired with the picture it carries by the PTS of the video PES that starts in it,
/// never by order: the muxer interleaves sound, and order pairing was off by two pictures in a third
/// of the starved runs that tried it.
/// </summary>
/// <remarks>
/// <see cref="ToMux"/> runs on the encoder's streaming thread, <see cref="Leaving"/> on the thread
/// that pushes into the SRT sink, the readers on the control thread.
/// </remarks>
internal sealed class OutputLateness(LatenessGuard guard)
{
    // mpegtsmux writes each PES's PTS as the buffer's running time in 90 kHz ticks plus one hour
    // (TS_MUX_CLOCK_BASE in GStreamer 1.22's gstbasetsmux.c; checked: running time 0 → 324000000).
    internal const long MuxClockBase = 90_000L * 3600;
    private const long PtsWrap = 1L << 33;
    private const int TsPacket = 188;

    /// <summary>The window <see cref="P95Ms"/> reads.</summary>
    internal static readonly TimeSpan Window = TimeSpan.FromSeconds(5);

    // Pictures handed to the muxer, by their PTS ticks; a few seconds' worth at 60 fps.
    private readonly (long Ticks, ulong RunningTime)[] _toMux = new (long, ulong)[256];
    private int _toMuxNext;
    private readonly Lock _lock = new();
    // Pictures that left: how late (ns) and when (pipeline running time, ns).
    private readonly (long LateNs, long AtNs)[] _left = new (long, long)[512];
    private int _leftNext, _leftCount;
    private long _sent, _late, _unpaired;

    /// <summary>Pictures that left the bus, paired with their running time.</summary>
    internal long Sent => Interlocked.Read(ref _sent);
    /// <summary>Of those, the pictures that left more than two frame intervals past their deadline.</summary>
    internal long Late => Interlocked.Read(ref _late);
    /// <summary>Video PES starts that matched no picture handed to the muxer (0 when pairing works).</summary>
    internal long Unpaired => Interlocked.Read(ref _unpaired);

    /// <summary>The picture of <paramref name="runningTime"/> goes into the muxer. Encoder streaming thread.</summary>
    internal void ToMux(ulong runningTime)
    {
        lock (_lock)
        {
            _toMux[_toMuxNext] = (Ticks(runningTime), runningTime);
            _toMuxNext = (_toMuxNext + 1) % _toMux.Length;
        }
    }

    /// <summary>
    /// TS packets on their way into the SRT sink at pipeline running time <paramref name="now"/>:
    /// every picture whose PES starts in them is counted. Output streaming thread.
    /// </summary>
    internal void Leaving(ReadOnlySpan<byte> ts, ulong now)
    {
        for (var i = 0; i + TsPacket <= ts.Length; i += TsPacket)
        {
            if (VideoPesPts(ts.Slice(i, TsPacket)) is not { } pts) continue;
            var ticks = ((pts - MuxClockBase) % PtsWrap + PtsWrap) % PtsWrap;
            ulong? runningTime = null;
            lock (_lock)
            {
                foreach (var (t, rt) in _toMux)
                    if (t == ticks && rt != 0) { runningTime = rt; break; }
            }
            if (runningTime is not { } r)
            {
                Interlocked.Increment(ref _unpaired);
                continue;
            }
            StageTrace.Note("leave", guard.Bus, r, now);
            var late = guard.LateNs(r, now);
            Interlocked.Increment(ref _sent);
            if (late > guard.MaxLateNs) Interlocked.Increment(ref _late);
            lock (_lock)
            {
                _left[_leftNext] = (late, (long)now);
                _leftNext = (_leftNext + 1) % _left.Length;
                _leftCount = Math.Min(_leftCount + 1, _left.Length);
            }
        }
    }

    /// <summary>The 95th percentile of the lateness of the pictures that left in the last <see cref="Window"/> (ms); null without any. Any thread.</summary>
    internal double? P95Ms()
    {
        List<long> recent;
        lock (_lock)
        {
            if (_leftCount == 0) return null;
            var newest = _left[(_leftNext + _left.Length - 1) % _left.Length].AtNs;
            recent = [.. _left.Take(_leftCount).Where(l => newest - l.AtNs <= Window.Ticks * 100).Select(l => l.LateNs)];
        }
        recent.Sort();
        return recent[(int)Math.Ceiling(0.95 * recent.Count) - 1] / 1e6;
    }

    private static long Ticks(ulong runningTime) => (long)(runningTime / 100_000 * 9 + runningTime % 100_000 * 9 / 100_000) % PtsWrap;

    /// <summary>The PTS (90 kHz) of a video PES that starts in this TS packet; null for anything else.</summary>
    internal static long? VideoPesPts(ReadOnlySpan<byte> packet)
    {
        if (packet.Length < TsPacket || packet[0] != 0x47 || (packet[1] & 0x40) == 0) return null;
        var payload = 4;
        switch ((packet[3] >> 4) & 3)
        {
            case 1: break;
            case 3: payload += 1 + packet[4]; break;
            default: return null;
        }
        var pes = packet[payload..];
        // 00 00 01, a video stream id (0xE0-0xEF), the length, two flag bytes (PTS present), header length, PTS.
        if (pes.Length < 14 || pes[0] != 0 || pes[1] != 0 || pes[2] != 1 || (pes[3] & 0xF0) != 0xE0 || (pes[7] & 0x80) == 0) return null;
        var p = pes[9..14];
        return ((long)(p[0] >> 1) & 7) << 30 | (long)BinaryPrimitives.ReadUInt16BigEndian(p[1..]) >> 1 << 15 | (long)BinaryPrimitives.ReadUInt16BigEndian(p[3..]) >> 1;
    }
}
