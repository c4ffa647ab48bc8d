using MixerWorker.Pipeline.Builders;
using MixerWorker.Testbed.Audio;
using Xunit;

namespace MixerWorker.Pipeline.Tests.Unit;

public sealed class PeakLimiterTests
{
    private const int Rate = 48000;
    private const double Ceiling = 0.891;

    private static PeakLimiter NewLimiter() => new(2, Rate, Ceiling, TimeSpan.FromMilliseconds(2), TimeSpan.FromMilliseconds(150));

    // Stereo tones summed, processed in 10 ms buffers as the mixer delivers them.
    private static float[] Run(PeakLimiter limiter, int frames, Func<int, int, double> sample)
    {
        var audio = new float[frames * 2];
        for (var i = 0; i < frames; i++)
            for (var c = 0; c < 2; c++) audio[i * 2 + c] = (float)sample(i, c);
        for (var at = 0; at < audio.Length; at += 960) limiter.Process(audio.AsSpan(at, Math.Min(960, audio.Length - at)));
        return audio;
    }

    private static double Tone(double hz, int i) => Math.Sin(2 * Math.PI * hz * i / Rate);

    [Fact]
    public void Audio_below_the_ceiling_passes_unchanged_two_milliseconds_later()
    {
        var limiter = NewLimiter();
        var output = Run(limiter, Rate, (i, _) => 0.8 * Tone(440, i));
        var delay = limiter.LatencyFrames;
        Assert.Equal(96, delay);
        for (var i = delay; i < Rate; i++) Assert.Equal((float)(0.8 * Tone(440, i - delay)), output[i * 2], 6);
    }

    [Fact]
    public void A_sum_far_above_full_scale_never_leaves_above_the_ceiling_and_keeps_its_tones()
    {
        var limiter = NewLimiter();
        // Four full-scale tones at +6 dB (peak 8.0), then silence, then a sudden full-scale burst.
        var output = Run(limiter, 3 * Rate, (i, c) => i switch
        {
            < Rate => 2 * (Tone(330, i) + Tone(440, i) + Tone(550, i) + Tone(770 + c, i)),
            < 2 * Rate => 0,
            _ => 4 * Tone(1000, i),
        });
        Assert.All(output, s => Assert.True(Math.Abs(s) <= Ceiling + 1e-6, $"sample {s} above the ceiling"));

        // Gain riding, not clipping: the tones keep their relative levels (a hard clip at 0.891 puts
        // strong odd harmonics around them).
        var loud = new AudioWindow(output[(Rate / 2 * 2)..(Rate * 2)], 2, Rate);
        var tones = new[] { 330.0, 440, 550 }.Select(hz => loud.ToneDb(hz)).ToList();
        Assert.InRange(tones.Max() - tones.Min(), 0, 0.5);
        Assert.True(loud.ToneDb(990) < tones.Max() - 30, $"third harmonic of 330 Hz at {loud.ToneDb(990):F1} dB against {tones.Max():F1} dB");

        var burst = new AudioWindow(output[((Rate * 2 + Rate / 2) * 2)..], 2, Rate);
        Assert.InRange(burst.PeakDb(), 20 * Math.Log10(Ceiling) - 0.5, 20 * Math.Log10(Ceiling));
    }

    [Fact]
    public void After_a_peak_the_gain_comes_back_to_unity()
    {
        var limiter = NewLimiter();
        var output = Run(limiter, 2 * Rate, (i, _) => i < Rate / 10 ? 4 * Tone(500, i) : 0.5 * Tone(500, i));
        var tail = new AudioWindow(output[((int)(1.5 * Rate) * 2)..], 2, Rate);
        Assert.InRange(tail.PeakDb(), 20 * Math.Log10(0.5) - 0.05, 20 * Math.Log10(0.5) + 0.05);
    }
}
