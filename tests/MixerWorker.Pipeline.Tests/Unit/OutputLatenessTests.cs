using MixerWorker.Pipeline.Builders;
using Xunit;

namespace MixerWorker.Pipeline.Tests.Unit;

/// <summary>
/// A bus measures how late its pictures leave it from the TS it hands to SRT: each video PES is paired
/// with its picture by PTS, whatever order and company (sound, tables) the packets come in. The TS
/// packets are written here as mpegtsmux writes them (PTS = running time in 90 kHz + one hour); that
/// the real muxer's pictures pair is checked by the worker tests that read the status
/// (ObservabilityTests).
/// </summary>
public sealed class OutputLatenessTests
{
    private const ulong Ms = 1_000_000, Frame = 33_333_333;
    private static readonly TimeSpan Latency = TimeSpan.FromMilliseconds(90);

    // A TS packet starting a PES of stream id <paramref name="streamId"/> with this PTS (adaptation field when asked).
    private static byte[] PesStart(byte streamId, long pts, bool adaptation = false)
    {
        var p = new byte[188];
        p[0] = 0x47;
        p[1] = 0x40; // payload unit start, PID 0x41
        p[2] = 0x41;
        var o = 4;
        if (adaptation)
        {
            p[3] = 0x30;
            p[4] = 7; // adaptation field length (a PCR's worth)
            o = 4 + 1 + 7;
        }
        else p[3] = 0x10;
        ReadOnlySpan<byte> header = [0, 0, 1, streamId, 0, 0, 0x80, 0x80, 5];
        header.CopyTo(p.AsSpan(o));
        var t = pts;
        p[o + 9] = (byte)(0x21 | (t >> 29 & 0x0E));
        p[o + 10] = (byte)(t >> 22);
        p[o + 11] = (byte)(0x01 | (t >> 14 & 0xFE));
        p[o + 12] = (byte)(t >> 7);
        p[o + 13] = (byte)(0x01 | (t << 1 & 0xFE));
        return p;
    }

    private static long MuxPts(ulong runningTime) => (long)(runningTime * 9 / 100_000) + OutputLateness.MuxClockBase;

    private static byte[] Continuation()
    {
        var p = new byte[188];
        p[0] = 0x47;
        p[2] = 0x41;
        p[3] = 0x10;
        return p;
    }

    [Fact]
    public void The_pts_of_a_video_pes_is_read_and_nothing_else_counts()
    {
        Assert.Equal(8_589_934_591L, OutputLateness.VideoPesPts(PesStart(0xE0, 8_589_934_591L)));
        Assert.Equal(324_002_999L, OutputLateness.VideoPesPts(PesStart(0xE0, 324_002_999L, adaptation: true)));
        Assert.Null(OutputLateness.VideoPesPts(PesStart(0xC0, 324_002_999L))); // sound
        Assert.Null(OutputLateness.VideoPesPts(PesStart(0xBD, 324_002_999L))); // Opus (private stream 1)
        Assert.Null(OutputLateness.VideoPesPts(Continuation()));
    }

    [Fact]
    public void Each_picture_is_paired_by_its_pts_whatever_the_order_and_counted_late_past_two_frame_intervals()
    {
        var guard = new LatenessGuard("program", 30, Latency);
        var lateness = new OutputLateness(guard);
        var latency = (ulong)Latency.Ticks * 100;
        ulong start = 10_000 * Frame;
        for (var i = 0UL; i < 10; i++) lateness.ToMux(start + i * Frame);

        // Pictures 0..9 leave out of order, between sound and continuation packets. Picture i leaves
        // i * 10 ms past its deadline: 7, 8 and 9 are past two frame intervals (66.7 ms).
        int[] order = [1, 0, 3, 2, 4, 6, 5, 9, 7, 8];
        foreach (var i in order)
        {
            var rt = start + (ulong)i * Frame;
            byte[] ts = [.. PesStart(0xBD, MuxPts(rt - 20 * Ms)), .. PesStart(0xE0, MuxPts(rt), adaptation: i % 2 == 0), .. Continuation()];
            lateness.Leaving(ts, rt + latency + (ulong)i * 10 * Ms);
        }

        Assert.Equal(10, lateness.Sent);
        Assert.Equal(3, lateness.Late);
        Assert.Equal(0, lateness.Unpaired);
        // Nearest rank: the 10th of 10.
        Assert.Equal(90, lateness.P95Ms()!.Value, 3);

        // A picture the muxer never got (or one long gone) is not counted as another picture.
        lateness.Leaving(PesStart(0xE0, MuxPts(start + 50 * Frame)), start + 50 * Frame + latency);
        Assert.Equal(10, lateness.Sent);
        Assert.Equal(1, lateness.Unpaired);
    }

    [Fact]
    public void The_95th_percentile_reads_the_last_five_seconds_only()
    {
        var guard = new LatenessGuard("aux1", 30, Latency);
        var lateness = new OutputLateness(guard);
        var latency = (ulong)Latency.Ticks * 100;
        Assert.Null(lateness.P95Ms());
        ulong rt = 1_000 * Frame;
        // 3 s of pictures 200 ms late, then 6 s of pictures 10 ms ahead.
        for (var i = 0; i < 270; i++, rt += Frame)
        {
            lateness.ToMux(rt);
            lateness.Leaving(PesStart(0xE0, MuxPts(rt)), rt + latency + (i < 90 ? 200 * Ms : 0) - (i < 90 ? 0 : 10 * Ms));
        }
        Assert.Equal(-10, lateness.P95Ms()!.Value, 3);
        Assert.Equal(90, lateness.Late);
        Assert.Equal(270, lateness.Sent);
    }
}
