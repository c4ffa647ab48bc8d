using MixerWorker.Testbed.Reading;
using MixerWorker.Testbed.Stamps;
using Xunit;

namespace MixerWorker.Pipeline.Tests.Stamps;

/// <summary>The sound-arrival measure: PES starts read from hand-made TS packets, and the analysis on made-up arrivals whose answers are known.</summary>
public sealed class SoundAnalysisTests
{
    private const long T0Us = 1_700_000_000_000_000;
    private static readonly TimeSpan Per20s = TimeSpan.FromSeconds(20);

    /// <summary>One TS packet that starts a PES of <paramref name="streamId"/> with a PTS (90 kHz).</summary>
    internal static byte[] PesStart(byte streamId, long pts90k)
    {
        var p = new byte[188];
        p[0] = 0x47; p[1] = 0x40 | 0x01; p[2] = 0x00; p[3] = 0x10; // payload unit start, PID 0x100, payload only
        byte[] pes = [0, 0, 1, streamId, 0, 0, 0x80, 0x80, 5,
            (byte)(0x21 | ((pts90k >> 29) & 0x0E)), (byte)(pts90k >> 22), (byte)(0x01 | ((pts90k >> 14) & 0xFE)), (byte)(pts90k >> 7), (byte)(0x01 | ((pts90k << 1) & 0xFE))];
        pes.CopyTo(p, 4);
        return p;
    }

    [Fact]
    public void Sound_and_picture_pes_starts_are_told_apart_by_stream_id_and_their_pts_unwrapped()
    {
        var pes = new PesArrivals();
        // Opus rides in private stream 1 (mpegtsmux), MPEG audio ids are sound too; a packet that
        // continues a PES (no start indicator) and a padding stream are not starts of sound or pictures.
        var continuation = PesStart(0xBD, 0);
        continuation[1] = 0x01;
        byte[] chunk = [.. PesStart(0xE0, 90_000), .. PesStart(0xBD, 90_900), .. continuation, .. PesStart(0xC0, 91_800), .. PesStart(0xBE, 92_000)];
        pes.Note(chunk, 5_000_000);
        Assert.Equal(new PesArrival[] { new(false, 1_000_000_000, 5_000_000), new(true, 1_010_000_000, 5_000_000), new(true, 1_020_000_000, 5_000_000) }, pes.Seen);
        // The 33-bit clock wraps: the PTS after it goes on from 2^33.
        pes.Clear();
        pes.Note(PesStart(0xBD, (1L << 33) - 900), 1);
        pes.Note(PesStart(0xBD, 900), 2);
        Assert.Equal(((1L << 33) + 900) * 100_000 / 9, pes.Seen[^1].PtsNs);
    }

    [Fact]
    public void A_packet_that_does_not_follow_its_streams_previous_one_counts_as_lost()
    {
        var pes = new PesArrivals();
        byte[] Packet(int pid, int cc) { var p = PesStart(0xE0, 0); p[1] = (byte)(0x40 | pid >> 8); p[2] = (byte)pid; p[3] = (byte)(0x10 | cc); return p; }
        // PID 0x100 counts 14, 15, 0 (wraps), then skips to 3; PID 0x101 repeats 5 (a duplicate, allowed) and goes on.
        foreach (var p in new[] { Packet(0x100, 14), Packet(0x100, 15), Packet(0x101, 5), Packet(0x100, 0), Packet(0x101, 5), Packet(0x101, 6), Packet(0x100, 3) })
            pes.Note(p, 1);
        Assert.Equal(1, pes.Discontinuities);
    }

    /// <summary>40 s of a bus: pictures every <paramref name="pictureEveryMs"/>, sound every 20 ms, each arriving its stream's delay after its PTS.</summary>
    private static List<PesArrival> Bus(double pictureEveryMs, Func<double, double> pictureDelayMs, Func<double, double> soundDelayMs, double seconds = 40)
    {
        var all = new List<PesArrival>();
        for (var t = 0.0; t < seconds * 1000; t += 20)
            all.Add(new PesArrival(true, (long)(t * 1e6), T0Us + (long)((t + soundDelayMs(t)) * 1000)));
        for (var t = 0.0; t < seconds * 1000; t += pictureEveryMs)
            all.Add(new PesArrival(false, (long)(t * 1e6), T0Us + (long)((t + pictureDelayMs(t)) * 1000)));
        return [.. all.OrderBy(a => a.ArrivalUs)];
    }

    [Fact]
    public void Sound_that_keeps_pace_with_its_pictures_is_neither_behind_them_nor_growing()
    {
        var timing = SoundAnalysis.Analyse(Bus(1000 / 30.0, _ => 150, _ => 150));
        Assert.InRange(timing.TimelineGrowthPer(Per20s)!.Value, -1, 1);
        Assert.InRange(timing.PictureTimelineGrowthPer(Per20s)!.Value, -1, 1);
        Assert.InRange(timing.SoundAfterPictureP50!.Value, -1, 1);
        Assert.InRange(timing.SoundAfterPictureP95!.Value, -1, 1);
        Assert.Equal(2000, timing.SoundBehindMs.Count);
    }

    [Fact]
    public void Sound_held_behind_sparse_pictures_shows_as_an_offset_against_the_pictures_of_its_instant()
    {
        // A bus shed to 2 fps, its pictures 200 ms behind their PTS; its sound waits for the next
        // picture (a muxer interleaving by PTS), so sound of instant t leaves with the picture after t.
        static double NextPicture(double t) => Math.Ceiling(t / 500) * 500;
        var timing = SoundAnalysis.Analyse(Bus(500, _ => 200, t => NextPicture(t) - t + 200));
        Assert.InRange(timing.TimelineGrowthPer(Per20s)!.Value, -5, 5);
        // Sound PES of a 500 ms gap wait 480..0 ms: median 240, p95 460; one on a picture's PTS none.
        Assert.InRange(timing.SoundAfterPictureP50!.Value, 230, 250);
        Assert.InRange(timing.SoundAfterPictureP95!.Value, 450, 470);
        Assert.InRange(timing.SoundAfterPictureMax!.Value, 479, 481);
    }

    [Fact]
    public void Sound_whose_timeline_stretches_grows_while_its_pictures_stay_live()
    {
        // Sound arriving 10 ms later every second: 200 ms per 20 s; its offset to the pictures grows to 400 ms.
        var timing = SoundAnalysis.Analyse(Bus(100, _ => 100, t => 100 + t / 100));
        Assert.InRange(timing.TimelineGrowthPer(Per20s)!.Value, 195, 205);
        Assert.InRange(timing.PictureTimelineGrowthPer(Per20s)!.Value, -1, 1);
        Assert.InRange(timing.SoundAfterPictureMax!.Value, 395, 401);
    }

    [Fact]
    public void A_reconnection_keeps_the_longest_run_and_sound_far_from_any_picture_is_not_compared()
    {
        // 10 s, then a new connection whose PTS restart at 0, 30 s long: the second run counts.
        var first = Bus(1000 / 30.0, _ => 100, _ => 100, seconds: 10);
        var second = Bus(1000 / 30.0, _ => 100, _ => 130, seconds: 30).Select(a => a with { ArrivalUs = a.ArrivalUs + 20_000_000 });
        var timing = SoundAnalysis.Analyse([.. first, .. second]);
        Assert.Equal(1500, timing.SoundBehindMs.Count);
        Assert.InRange(timing.SoundAfterPictureP50!.Value, 29, 31);
        // Pictures only in the first 5 s and the last 5 of 40: the sound between has none to be held against.
        var gap = Bus(1000 / 30.0, _ => 100, _ => 100).Where(a => a.Sound || a.PtsNs is < 5_000_000_000 or > 35_000_000_000).ToList();
        Assert.InRange(SoundAnalysis.Analyse(gap).SoundAfterPictureMs.Count, 490, 510);
    }
}
