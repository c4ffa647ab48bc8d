using MixerWorker.Pipeline.Builders;
using MixerWorker.Pipeline.Interop;
using Xunit;

namespace MixerWorker.Pipeline.Tests.Unit;

public sealed class SoundMeterTests
{
    private const int Rate = 48000;

    private static (SoundMeter Meter, List<LevelReading> Readings) NewMeter()
    {
        var readings = new List<LevelReading>();
        return (new SoundMeter(2, Rate, TimeSpan.FromMilliseconds(100), readings.Add), readings);
    }

    // Interleaved stereo, fed in blocks of an awkward size so that intervals end inside a block.
    private static void Feed(SoundMeter meter, int frames, Func<int, int, double> sample, int block = 700)
    {
        var audio = new float[frames * 2];
        for (var i = 0; i < frames; i++)
            for (var c = 0; c < 2; c++) audio[i * 2 + c] = (float)sample(i, c);
        for (var at = 0; at < audio.Length; at += block * 2) meter.Process(audio.AsSpan(at, Math.Min(block * 2, audio.Length - at)));
    }

    private static double Tone(double amplitude, double hz, int i) => amplitude * Math.Sin(2 * Math.PI * hz * i / Rate);

    [Fact]
    public void A_sine_reads_its_peak_and_3_dB_less_RMS_on_the_loudest_channel_ten_times_a_second()
    {
        var (meter, readings) = NewMeter();
        // Left at 0.5 (-6.02 dBFS), right 12 dB quieter: the reading is the left channel's.
        Feed(meter, Rate, (i, c) => Tone(c == 0 ? 0.5 : 0.125, 1000, i));
        Assert.Equal(10, readings.Count);
        Assert.All(readings, r => Assert.InRange(r.PeakDb, -6.03, -6.01));
        Assert.All(readings, r => Assert.InRange(r.RmsDb, -9.04, -9.02));
    }

    [Fact]
    public void Readings_cover_whole_intervals_whatever_the_block_size_and_silence_reads_as_the_floor()
    {
        var (meter, readings) = NewMeter();
        // 150 ms of a tone, then 250 ms of silence: the second interval is half tone, half silence.
        Feed(meter, Rate * 4 / 10, (i, _) => i < Rate * 15 / 100 ? Tone(0.5, 1000, i) : 0, block: 960);
        Assert.Equal(4, readings.Count);
        Assert.InRange(readings[1].PeakDb, -6.03, -6.01);
        Assert.InRange(readings[1].RmsDb, -12.05, -12.03); // half the energy of the first interval
        Assert.Equal(LevelReading.FloorDb, readings[2].PeakDb);
        Assert.Equal(LevelReading.FloorDb, readings[3].RmsDb);
        // A partial interval is held until it is complete.
        Feed(meter, Rate / 20, (_, _) => 0.25);
        Assert.Equal(4, readings.Count);
        Feed(meter, Rate / 20, (_, _) => 0.25);
        Assert.Equal(5, readings.Count);
        Assert.InRange(readings[4].PeakDb, -12.05, -12.03);
        Assert.InRange(readings[4].RmsDb, -12.05, -12.03);
    }
}
