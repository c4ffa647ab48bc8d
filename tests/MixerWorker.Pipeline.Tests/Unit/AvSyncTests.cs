using MixerWorker.Testbed.Audio;
using MixerWorker.Testbed.Reading;
using Xunit;

namespace MixerWorker.Pipeline.Tests.Unit;

/// <summary>
/// The lip-sync reader places a marker only where the recording shows where it began: a beep or a flash right after
/// sound or pictures missing from the recording (lost on the way) may have begun inside the hole, and one the recording
/// starts inside began before it.
/// </summary>
public sealed class AvSyncTests
{
    private const int Rate = 48000;
    private const ulong Block = 20_000_000; // 20 ms, an Opus frame

    // Blocks of 20 ms from `from` to 1 s, silent but for a 1 kHz beep that starts 9 ms into the block at 500 ms.
    private static List<PcmChunk> Sound(ulong from = 0, params ulong[] lost)
    {
        var chunks = new List<PcmChunk>();
        for (var pts = from; pts < 1_000_000_000; pts += Block)
        {
            if (lost.Contains(pts)) continue;
            var samples = new float[Rate / 50];
            for (var i = 0; i < samples.Length; i++)
            {
                var t = pts + (ulong)(i * 1e9 / Rate);
                if (t >= 509_000_000 && t < 609_000_000) samples[i] = 0.5f * MathF.Sin(2 * MathF.PI * 1000 * (t - 509_000_000) / 1e9f + 0.5f);
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

    [Fact]
    public void A_recording_that_starts_inside_a_beep_does_not_place_it()
    {
        // Recorded from a zero crossing of the tone, 10.9 ms into it: the reader once took that first quiet sample for
        // the quiet before a beep, and placed one at the next loud sample.
        Assert.Empty(AvSync.Beeps(Sound(from: 519_920_400), 1, Rate));
        Assert.Empty(AvSync.Beeps(Sound(from: 520_000_000), 1, Rate));
        // Recorded from 50 ms of quiet before it, it is.
        Assert.Single(AvSync.Beeps(Sound(from: 440_000_000), 1, Rate));
    }

    private static List<RgbFrame> Pictures(int from = 0, params int[] lost)
    {
        var frames = new List<RgbFrame>();
        for (var n = from; n < 30; n++)
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

    [Fact]
    public void A_recording_that_starts_inside_a_flash_does_not_place_it()
    {
        Assert.Empty(AvSync.Flashes(Pictures(from: 16), White));
        Assert.Equal([15 * 33_333_333UL], AvSync.Flashes(Pictures(from: 14), White));
    }
}
