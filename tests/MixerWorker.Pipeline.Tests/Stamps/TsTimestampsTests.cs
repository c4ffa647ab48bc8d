using MixerWorker.Testbed.Feeds;
using Xunit;

namespace MixerWorker.Pipeline.Tests.Stamps;

/// <summary>The TS clock rewriting on hand-made packets: a video PES start carrying a PCR, PTS and DTS.</summary>
public sealed class TsTimestampsTests
{
    private const long Second = 90_000;

    /// <summary>One 188-byte packet: adaptation field with a PCR, then the start of a video PES with PTS and DTS.</summary>
    private static byte[] Packet(long pcr90k, long pts, long dts)
    {
        var p = new byte[188];
        Array.Fill(p, (byte)0xFF);
        p[0] = 0x47; p[1] = 0x40 | 0x01; p[2] = 0x00; p[3] = 0x30; // PUSI, PID 0x100, adaptation + payload
        p[4] = 7; p[5] = 0x10;                                         // adaptation length, PCR flag
        TsPacket.WritePcr(p.AsSpan(6), pcr90k * 300 + 123);
        var s = 12;
        p[s] = 0; p[s + 1] = 0; p[s + 2] = 1; p[s + 3] = 0xE0;         // video stream id
        p[s + 4] = 0; p[s + 5] = 0; p[s + 6] = 0x80; p[s + 7] = 0xC0; p[s + 8] = 10;
        p[s + 9] = 0x30; TsPacket.WriteTimestamp(p.AsSpan(s + 9), pts);
        p[s + 14] = 0x10; TsPacket.WriteTimestamp(p.AsSpan(s + 14), dts);
        return p;
    }

    private static (long Pcr27M, long Pts, long Dts) Fields(byte[] p) =>
        (TsPacket.ReadPcr(p.AsSpan(6)), TsPacket.ReadTimestamp(p.AsSpan(21)), TsPacket.ReadTimestamp(p.AsSpan(26)));

    [Fact]
    public void A_longer_lead_moves_only_the_pcr_back()
    {
        var p = Packet(10 * Second, 10 * Second + Second / 8, 10 * Second + Second / 8);
        new TsRetimer(TimeSpan.FromMilliseconds(700), null).Process(p, TimeSpan.Zero);
        var (pcr, pts, dts) = Fields(p);
        Assert.Equal((10 * Second - 575 * 90) * 300 + 123, pcr);
        Assert.Equal((10 * Second + Second / 8, 10 * Second + Second / 8), (pts, dts));
        Assert.Equal(0x30, p[21] & 0xF0); // the PTS prefix and marker bits are kept
        Assert.Equal(1, p[21] & 1);

        var meter = new TsLeadMeter();
        meter.Add(p);
        Assert.Equal(700, meter.LeadMsEstimate!.Value, 3);
    }

    [Fact]
    public void A_jump_moves_pcr_pts_and_dts_together_after_its_time_and_on_demand_and_wraps_at_33_bits()
    {
        var retimer = new TsRetimer(TsRetimer.MpegTsMuxLead, new TimestampJump(TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(-2)));
        var before = Packet(100 * Second, 100 * Second + Second / 8, 100 * Second + Second / 8);
        retimer.Process(before, TimeSpan.FromSeconds(4));
        Assert.Equal((100 * Second * 300 + 123, 100 * Second + Second / 8, 100 * Second + Second / 8), Fields(before));
        Assert.False(retimer.Jumped);

        var after = Packet(100 * Second, 100 * Second + Second / 8, 100 * Second);
        retimer.Process(after, TimeSpan.FromSeconds(5));
        Assert.True(retimer.Jumped);
        Assert.Equal((98 * Second * 300 + 123, 98 * Second + Second / 8, 98 * Second), Fields(after));

        // A jump asked for at run time adds to the first, and the clocks wrap at 2^33 like real ones.
        retimer.JumpNow(TimeSpan.FromSeconds(3));
        const long max = 1L << 33;
        var wrapped = Packet(max - Second, max - Second / 2, max - Second / 2);
        retimer.Process(wrapped, TimeSpan.FromSeconds(6));
        Assert.Equal(((max - Second + Second) % max * 300 + 123, Second / 2, Second / 2), Fields(wrapped));

        var meter = new TsLeadMeter();
        meter.Add(before);
        meter.Add(after);
        Assert.Equal(-2000.0, Assert.Single(meter.PtsJumpsMs), 1);
    }
}
