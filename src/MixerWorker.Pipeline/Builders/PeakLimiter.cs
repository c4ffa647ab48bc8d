namespace MixerWorker.Pipeline.Builders;

/// <summary>
/// A look-ahead peak limiter for interleaved float audio: it rides the gain down ahead of a peak and
/// back up slowly afterwards, so an overloaded mix comes out quieter with its waveform intact. A hard
/// clip at the same ceiling keeps the sample peaks too, but squares the waveform off, and a lossy
/// codec then overshoots the ceiling when it rebuilds those edges: measured through Opus at 64 kb/s,
/// three full-scale tones at +6 dB clipped at -1 dBFS decode to 0 dBFS with hundreds of clipped
/// samples a second, and still reach -0.6 dBFS when clipped at -3 dBFS.
///
/// Never above the ceiling, by construction: with L frames of look-ahead, frame n leaves at the gain
/// s(n) = mean over j = 0..L of e(n-j), where e(k) ≤ min over [k-L, k] of the gain each frame needs.
/// Every window in that mean contains frame n-L, the one leaving, so s(n) is at most the gain it needs.
/// The release only ever lowers e, which keeps the bound. The audio is delayed by L frames (2 ms).
/// </summary>
internal sealed class PeakLimiter
{
    private readonly int _channels, _window; // window = look-ahead + 1 frames
    private readonly double _ceiling, _release;
    private readonly float[] _delay;         // the last `window` frames, interleaved
    private readonly double[] _envelope;     // e over the last `window` frames
    private readonly long[] _minFrames;      // monotonic deque for the sliding minimum of the needed gain
    private readonly double[] _minGains;
    private int _minHead, _minCount;
    private double _released = 1;
    private long _frame;

    /// <param name="ceiling">Largest absolute sample value that may leave, e.g. 0.891 for -1 dBFS.</param>
    internal PeakLimiter(int channels, int rate, double ceiling, TimeSpan lookAhead, TimeSpan release)
    {
        _channels = channels;
        _ceiling = ceiling;
        _window = Math.Max(1, (int)Math.Round(lookAhead.TotalSeconds * rate)) + 1;
        // Exponential approach to unity gain with the given time constant.
        _release = 1 - Math.Exp(-1 / Math.Max(1, release.TotalSeconds * rate));
        _delay = new float[_window * channels];
        _envelope = new double[_window];
        Array.Fill(_envelope, 1.0);
        _minFrames = new long[_window];
        _minGains = new double[_window];
    }

    /// <summary>Samples held back by the look-ahead.</summary>
    internal int LatencyFrames => _window - 1;

    /// <summary>Limits <paramref name="interleaved"/> in place (whole frames); called on the streaming thread only.</summary>
    internal void Process(Span<float> interleaved)
    {
        var frames = interleaved.Length / _channels;
        var sum = 0.0;
        foreach (var e in _envelope) sum += e; // re-summed per buffer, so rounding never drifts
        for (var i = 0; i < frames; i++, _frame++)
        {
            var frame = interleaved.Slice(i * _channels, _channels);
            var peak = 0.0;
            foreach (var s in frame) peak = Math.Max(peak, Math.Abs((double)s));
            var needed = peak <= _ceiling ? 1.0 : double.IsFinite(peak) ? _ceiling / peak : 0.0;

            // Sliding minimum of the needed gain over the last `window` frames (a monotonic deque:
            // drop the frame leaving the window, then every later frame that needs no less than this one).
            if (_minCount > 0 && _minFrames[_minHead] <= _frame - _window) { _minHead = (_minHead + 1) % _window; _minCount--; }
            while (_minCount > 0 && _minGains[(_minHead + _minCount - 1) % _window] >= needed) _minCount--;
            _minFrames[(_minHead + _minCount) % _window] = _frame;
            _minGains[(_minHead + _minCount) % _window] = needed;
            _minCount++;
            var minimum = _minGains[_minHead];

            _released = Math.Min(minimum, _released + (1 - _released) * _release);
            var slot = (int)(_frame % _window);
            sum += _released - _envelope[slot];
            _envelope[slot] = _released;
            var gain = Math.Min(1.0, sum / _window);

            // Swap the frame with the one that came in `window - 1` frames ago, at this gain.
            var oldest = (int)((_frame + 1) % _window) * _channels;
            var incoming = slot * _channels;
            for (var c = 0; c < _channels; c++)
            {
                _delay[incoming + c] = frame[c];
                frame[c] = (float)(_delay[oldest + c] * gain);
            }
        }
    }
}
