namespace MixerWorker.Testbed.Audio;

/// <summary>A stretch of interleaved float audio and the measurements the tests make on it.</summary>
public sealed record AudioWindow(float[] Interleaved, int Channels, int Rate)
{
    public const double FloorDb = -120;

    public TimeSpan Duration => TimeSpan.FromSeconds((double)Interleaved.Length / Channels / Rate);

    public float[] Channel(int channel)
    {
        var n = Interleaved.Length / Channels;
        var samples = new float[n];
        for (var i = 0; i < n; i++) samples[i] = Interleaved[i * Channels + channel];
        return samples;
    }

    /// <summary>All channels, or one.</summary>
    public double PeakDb(int? channel = null) => ToDb(Select(channel).Select(s => Math.Abs((double)s)).DefaultIfEmpty(0).Max());

    public double RmsDb(int? channel = null)
    {
        var samples = Select(channel).ToArray();
        if (samples.Length == 0) return FloorDb;
        var sum = 0.0;
        foreach (var s in samples) sum += (double)s * s;
        return ToDb(Math.Sqrt(sum / samples.Length));
    }

    /// <summary>Samples at or beyond full scale, as a 16-bit decoder leaves clipped audio.</summary>
    public int ClippedSamples(double fullScale = 32767.0 / 32768) => Interleaved.Count(s => Math.Abs(s) >= fullScale);

    /// <summary>The level of one frequency in a channel (Goertzel), in dB relative to a full-scale sine.</summary>
    public double ToneDb(double hz, int channel = 0) => Goertzel.AmplitudeDb(Channel(channel), Rate, hz);

    /// <summary>The strongest frequency in a channel between 50 Hz and 4 kHz, to about 1 Hz.</summary>
    public double DominantHz(int channel = 0) => Goertzel.Dominant(Channel(channel), Rate, 50, 4000);

    /// <summary>Consecutive stretches of <paramref name="length"/>; a shorter remainder is left out.</summary>
    public IEnumerable<AudioWindow> Blocks(TimeSpan length)
    {
        var size = (int)(length.TotalSeconds * Rate) * Channels;
        for (var at = 0; size > 0 && at + size <= Interleaved.Length; at += size) yield return new AudioWindow(Interleaved[at..(at + size)], Channels, Rate);
    }

    /// <summary>
    /// The median of <paramref name="measure"/> over blocks of <paramref name="block"/> (100 ms unless
    /// given; longer ones resolve nearby tones further down): the level of the steady signal. On a
    /// loaded machine a live stream can lose a few tens of milliseconds (a packet later than the SRT
    /// latency, an aggregator that timed out and filled silence); over a whole window that gap lowers the
    /// RMS and splatters a pure tone across the spectrum, while the median of short blocks is unmoved
    /// unless most of the window is wrong.
    /// </summary>
    public double Steady(Func<AudioWindow, double> measure, TimeSpan? block = null)
    {
        var values = Blocks(block ?? TimeSpan.FromMilliseconds(100)).Select(measure).Order().ToArray();
        return values.Length == 0 ? FloorDb : values[values.Length / 2];
    }

    /// <summary>
    /// Where a tone falls more than <paramref name="belowDb"/> under its median level: its level (<see cref="ToneDb"/>) in
    /// stretches of <paramref name="block"/> taken every half block, a dip as short as half a block showing in one of them.
    /// A tone that is there throughout has none; sound lost on its way (a frame dropped, a block mixed without it) does.
    /// Returns the dips' starts and levels below the median.
    /// </summary>
    public IReadOnlyList<(TimeSpan At, double BelowDb)> ToneDips(double hz, TimeSpan block, double belowDb, int channel = 0)
    {
        var samples = Channel(channel);
        var size = (int)(block.TotalSeconds * Rate);
        if (size <= 0) return [];
        var levels = new List<(TimeSpan At, double Db)>();
        for (var at = 0; at + size <= samples.Length; at += size / 2)
            levels.Add((TimeSpan.FromSeconds((double)at / Rate), Goertzel.AmplitudeDb(samples[at..(at + size)], Rate, hz)));
        if (levels.Count == 0) return [];
        var median = levels.Select(l => l.Db).Order().ElementAt(levels.Count / 2);
        return [.. levels.Where(l => l.Db < median - belowDb).Select(l => (l.At, median - l.Db))];
    }

    private IEnumerable<float> Select(int? channel) => channel is { } c ? Channel(c) : Interleaved;

    private static double ToDb(double amplitude) => amplitude <= 0 ? FloorDb : Math.Max(FloorDb, 20 * Math.Log10(amplitude));

    public override string ToString() =>
        $"{Duration.TotalMilliseconds:F0} ms, peak {PeakDb():F1} dBFS, RMS L {RmsDb(0):F1} / R {(Channels > 1 ? RmsDb(1) : RmsDb(0)):F1} dBFS, dominant {DominantHz():F0} Hz";
}

/// <summary>Single-frequency DFT (the Goertzel algorithm), windowed so a tone between bins still reads at its level.</summary>
public static class Goertzel
{
    /// <summary>The amplitude of <paramref name="hz"/> in dB: a full-scale sine reads 0 dB.</summary>
    public static double AmplitudeDb(float[] samples, int rate, double hz)
    {
        if (samples.Length == 0) return AudioWindow.FloorDb;
        var n = samples.Length;
        var w = 2 * Math.PI * hz / rate;
        var coeff = 2 * Math.Cos(w);
        double s1 = 0, s2 = 0, windowSum = 0;
        for (var i = 0; i < n; i++)
        {
            var hann = 0.5 - 0.5 * Math.Cos(2 * Math.PI * i / (n - 1));
            windowSum += hann;
            var s0 = samples[i] * hann + coeff * s1 - s2;
            s2 = s1;
            s1 = s0;
        }
        var power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
        var amplitude = 2 * Math.Sqrt(Math.Max(0, power)) / windowSum;
        return amplitude <= 0 ? AudioWindow.FloorDb : Math.Max(AudioWindow.FloorDb, 20 * Math.Log10(amplitude));
    }

    /// <summary>
    /// A scan in 10 Hz steps over 100 ms (whose frequency resolution is about that coarse, so a tone
    /// between two steps still shows), then 1 Hz steps around the best over up to a second.
    /// </summary>
    public static double Dominant(float[] samples, int rate, double fromHz, double toHz)
    {
        if (samples.Length > rate) samples = samples[^rate..];
        var shortWindow = samples.Length > rate / 10 ? samples[^(rate / 10)..] : samples;
        var coarse = Best(shortWindow, fromHz, toHz, 10);
        return Best(samples, coarse - 10, coarse + 10, 1);

        double Best(float[] window, double from, double to, double step)
        {
            var best = from;
            var bestDb = double.MinValue;
            for (var hz = from; hz <= to; hz += step)
            {
                var db = AmplitudeDb(window, rate, hz);
                if (db > bestDb) (best, bestDb) = (hz, db);
            }
            return best;
        }
    }
}
