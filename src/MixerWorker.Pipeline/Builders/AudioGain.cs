namespace MixerWorker.Pipeline.Builders;

/// <summary>Gain conversions for the `volume` element and audiomixer pads, whose volume is linear 0–10.</summary>
internal static class AudioGain
{
    internal const double MinDb = -90, MaxDb = 20; // 20 dB is volume=10, the elements' ceiling

    /// <summary>Linear gain for a level in dB, clamped to what the elements accept; -90 dB and below is silence.</summary>
    internal static double ToLinear(double db) =>
        double.IsNaN(db) || db <= MinDb ? 0 : Math.Min(10, Math.Pow(10, Math.Min(db, MaxDb) / 20));

    /// <summary>A linear gain clamped to what a volume property accepts (NaN is silence).</summary>
    internal static double Clamp(double linear) => double.IsNaN(linear) ? 0 : Math.Clamp(linear, 0, 10);
}
