using MixerWorker.Testbed.Audio;
using MixerWorker.Testbed.Reading;
using Xunit;

namespace MixerWorker.Pipeline.Tests.Unit;

/// <summary>
/// The lip-sync reader places a marker only where the recording shows where it began: a beep or a flash right after
/// sound or pictures missing from the recording (lost on the way) may have begun inside the hole.
/// </summary>
public sealed class AvSyncTests
{
    private const int Rate = 48000;
    private const ulong Block = 20_000_000; // 20 ms, an Opus frame

    // Blocks of 20 ms from 0 to 1 s, silent but for a beep that starts 9 ms into the block at 500 ms.
    private static List<PcmChunk> Sound(params ulong[] lost)
    {
        var chunks = new List<PcmChunk>();
        for (ulong pts = 0; pts < 1_000_000_000; pts += Block)
        {
            if (lost.Contains(pts)) continue;
            var samples = new float[Rate / 50];
            for (var i = 0; i < samples.Length; i++)
            {
                var t = pts + (ulong)(i * 1e9 / Rate);
                if (t >= 509_000_000 && t < 609_000_000) samples[i] = 0.5f;
            }
            chunks.Add(new PcmChunk(DateTimeOffset.UnixEpoch, pts, samples));
        }
        return chunks;
    }

    [Fact]
    public void A_beep_is_placed_at_its_first_loud_sample()
    {
        var beep = Assert.Single(AvSync.Beeps(Sound(), 1, Rate));
        Assert.InRange(beep, 509_000_000UL, 509_000_000UL + 21_000);
    }

    [Fact]
    public void A_beep_whose_start_was_lost_is_not_placed_at_the_next_block()
    {
        Assert.Empty(AvSync.Beeps(Sound(lost: 500_000_000), 1, Rate));
        // A hole well before the beep leaves time to hear the quiet again.
        Assert.Single(AvSync.Beeps(Sound(lost: 300_000_000), 1, Rate));
    }

    private static List<RgbFrame> Pictures(params int[] lost)
    {
        var frames = new List<RgbFrame>();
        for (var n = 0; n < 30; n++)
        {
            if (lost.Contains(n)) continue;
            var white = n is 15 or 16;
            frames.Add(new RgbFrame(1, 1, white ? [255, 255, 255] : [0, 0, 0], DateTimeOffset.UnixEpoch) { Pts = (ulong)(n * 33_333_333L) });
        }
        return frames;
    }

    private static bool White(RgbFrame f) => f.Pixels[0] > 200;

    [Fact]
    public void A_flash_whose_first_picture_was_lost_is_not_placed_at_its_second()
    {
        Assert.Equal([15 * 33_333_333UL], AvSync.Flashes(Pictures(), White));
        Assert.Empty(AvSync.Flashes(Pictures(lost: 15), White));
        Assert.Equal([15 * 33_333_333UL], AvSync.Flashes(Pictures(lost: 10), White));
    }
}
