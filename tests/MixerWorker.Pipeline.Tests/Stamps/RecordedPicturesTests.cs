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
        var bounded = SoundAnalysisTests.PesStart(0xE0, 900_000);
        (bounded[8], bounded[9]) = (0x01, 0x6A); // 3 + 5 header bytes + 170 + 184 payload = 362
        byte[] ts = [.. bounded, .. More(1), .. SoundAnalysisTests.PesStart(0xE0, 945_000), .. More(1), .. SoundAnalysisTests.PesStart(0xE0, 990_000), .. More(1)];
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

    // A packet continuing the video PES on PID 0x100, with continuity counter cc (the start has 0).
    private static byte[] More(int cc)
    {
        var p = new byte[188];
        (p[0], p[1], p[2], p[3]) = (0x47, 0x01, 0x00, (byte)(0x10 | cc));
        return p;
    }
}
