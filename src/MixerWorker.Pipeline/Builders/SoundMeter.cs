using MixerWorker.Pipeline.Interop;

namespace MixerWorker.Pipeline.Builders;

/// <summary>
/// An input's or a bus's meter: peak and RMS of the loudest channel over each interval of its sound, read
/// in a probe on the streaming thread (an input's after its gain, a bus's in its limiter's probe, which
/// already holds every buffer mapped). It reports what a `level` element would post (the same sums per
/// channel, the same interval counted in samples, -inf as <see cref="LevelReading.FloorDb"/>), without an
/// element in the chain and without a bus message per reading: ten a second per meter, posted from
/// streaming threads onto the pipeline's bus, which every poster then contends for (a starved machine left
/// them spinning in the bus's queue), and which the bus reader and control thread woke up to read back.
/// </summary>
internal sealed class SoundMeter
{
    private readonly int _channels, _intervalFrames;
    private readonly double[] _peakSquares, _sumSquares;
    private readonly Action<LevelReading> _report;
    private int _frames;

    internal SoundMeter(int channels, int rate, TimeSpan interval, Action<LevelReading> report)
    {
        _channels = channels;
        _intervalFrames = Math.Max(1, (int)Math.Round(interval.TotalSeconds * rate));
        _peakSquares = new double[channels];
        _sumSquares = new double[channels];
        _report = report;
    }

    /// <summary>Adds interleaved samples (whole frames); reports once per full interval. Streaming thread only.</summary>
    internal void Process(ReadOnlySpan<float> interleaved)
    {
        while (!interleaved.IsEmpty)
        {
            var frames = Math.Min(interleaved.Length / _channels, _intervalFrames - _frames);
            if (frames <= 0) return;
            var part = interleaved[..(frames * _channels)];
            for (var i = 0; i < part.Length; i += _channels)
                for (var c = 0; c < _channels; c++)
                {
                    var square = (double)part[i + c] * part[i + c];
                    _sumSquares[c] += square;
                    if (square > _peakSquares[c]) _peakSquares[c] = square;
                }
            interleaved = interleaved[part.Length..];
            _frames += frames;
            if (_frames == _intervalFrames) Report();
        }
    }

    private void Report()
    {
        double peak = 0, meanSquare = 0;
        for (var c = 0; c < _channels; c++)
        {
            peak = Math.Max(peak, _peakSquares[c]);
            meanSquare = Math.Max(meanSquare, _sumSquares[c] / _frames);
        }
        Array.Clear(_peakSquares);
        Array.Clear(_sumSquares);
        _frames = 0;
        _report(new LevelReading(LevelReading.Floor(10 * Math.Log10(peak)), LevelReading.Floor(10 * Math.Log10(meanSquare))));
    }
}
