using MixerWorker.Testbed.Reading;
using Xunit;

namespace MixerWorker.Pipeline.Tests.Stamps;

/// <summary>The pictures taken out of a recording, with the arrivals a live demuxer would have handed them on at.</summary>
public sealed class RecordedPicturesTests
{
    [Fact]
    public void A_picture_is_handed_on_with_its_last_packet_where_its_pes_has_a_length_else_with_the_next_ones_first()
    {
        // 10.0 s: a PES with a length, in two packets that arrive at 1 and 2 s. 10.5 s: one without, which begins at 2 s
        // and is known to have ended when 11.0 s begins, at 3 s. 11.0 s: ended by the recording's end, at 4 s.
        byte[] ts = [.. Bounded(900_000, 0), .. More(1), .. Start(945_000, 2), .. More(3), .. Start(990_000, 4), .. More(5)];
        List<(long, long)> chunks = [(188, 1_000_000), (3 * 188, 2_000_000), (5 * 188, 3_000_000), (6 * 188, 4_000_000)];
        var pes = new PesArrivals();

        var pictures = RecordedPictures.Read(ts, chunks, pes);

        Assert.Equal([10_000_000_000UL, 10_500_000_000, 11_000_000_000], pictures.Select(p => p.PtsNs));
        Assert.Equal([354, 354, 354], pictures.Select(p => p.H264.Length));
        Assert.Equal([1_000_000L, 2_000_000, 3_000_000], pictures.Select(p => p.FirstPacketUs));
        Assert.Equal([2_000_000L, 3_000_000, 4_000_000], pictures.Select(p => p.HandedOnUs));
        Assert.Equal(3, pes.Seen.Count);
    }

    [Fact]
    public void A_picture_that_lost_a_packet_is_left_out()
    {
        byte[] ts = [.. SoundAnalysisTests.PesStart(0xE0, 900_000), .. More(2), .. SoundAnalysisTests.PesStart(0xE0, 945_000), .. More(1)];
        var pictures = RecordedPictures.Read(ts, [(ts.Length, 1_000_000)], new PesArrivals());
        Assert.Equal([10_500_000_000UL], pictures.Select(p => p.PtsNs));
    }

    [Fact]
    public void A_picture_short_of_its_length_or_whose_last_packet_was_lost_is_left_out()
    {
        // 10.0 s lost its second packet; 10.5 s, without a length, its last; 11.0 s and 11.5 s are whole; 12.0 s was cut
        // by the end of the recording, as a recorder stopped within a picture leaves it.
        byte[] ts = [.. Bounded(900_000, 0), .. Start(945_000, 2), .. More(3), .. Start(990_000, 5), .. More(6),
            .. Bounded(1_035_000, 7), .. More(8), .. Bounded(1_080_000, 9)];
        var pictures = RecordedPictures.Read(ts, [(ts.Length, 1_000_000)], new PesArrivals());
        Assert.Equal([11_000_000_000UL, 11_500_000_000], pictures.Select(p => p.PtsNs));
    }

    // The start of a video PES on PID 0x100 without a length, with continuity counter cc.
    private static byte[] Start(long pts90k, int cc)
    {
        var p = SoundAnalysisTests.PesStart(0xE0, pts90k);
        p[3] = (byte)(0x10 | cc);
        return p;
    }

    // The start of one whose length is that of two packets: 3 + 5 header bytes + 170 + 184 payload = 362.
    private static byte[] Bounded(long pts90k, int cc)
    {
        var p = Start(pts90k, cc);
        (p[8], p[9]) = (0x01, 0x6A);
        return p;
    }

    // A packet continuing the video PES on PID 0x100, with continuity counter cc.
    private static byte[] More(int cc)
    {
        var p = new byte[188];
        (p[0], p[1], p[2], p[3]) = (0x47, 0x01, 0x00, (byte)(0x10 | cc));
        return p;
    }
}
