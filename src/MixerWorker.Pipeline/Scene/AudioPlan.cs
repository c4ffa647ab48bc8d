namespace MixerWorker.Pipeline.Scene;

/// <summary>
/// The level of each input in a bus's mix. Only the bus's own choice is here: the input's gain and
/// mute (applied once where the input is decoded), the bus master gain, the limiter and fade to
/// black are applied by the engine elsewhere, so they are deliberately not part of these numbers.
/// </summary>
public static class AudioPlan
{
    /// <summary>
    /// Linear gain per heard input on a bus (fixed mix levels or follow-video crossfade), before the
    /// master gain. Following video during an animation, inputs on both sides stay at 1, inputs
    /// leaving fade with cos and inputs arriving with sin of p·π/2, so the summed power stays
    /// constant; an arriving input is listed at 0 from the start so its mixer pad can be ready.
    /// </summary>
    public static IReadOnlyDictionary<string, double> Gains(BusDefinition bus, BusAnimation? animation, double progress)
    {
        var gains = new Dictionary<string, double>(StringComparer.Ordinal);
        if (bus.Audio is { Mode: AudioMode.Fixed } mix)
        {
            foreach (var source in mix.Sources ?? [])
                gains[source.Input] = DbToLinear(source.GainDb);
            return gains;
        }

        if (animation is null)
        {
            foreach (var input in Visible(bus)) gains[input] = 1.0;
            return gains;
        }

        var p = double.IsNaN(progress) ? 0 : Math.Clamp(progress, 0, 1);
        var from = Visible(animation.From);
        var to = Visible(animation.To);
        // Exact ends, so the last frame of a crossfade is bit-identical to the steady mix.
        var fadeOut = p >= 1 ? 0 : Math.Cos(p * Math.PI / 2);
        var fadeIn = p <= 0 ? 0 : p >= 1 ? 1 : Math.Sin(p * Math.PI / 2);
        foreach (var input in from) gains[input] = to.Contains(input) ? 1.0 : fadeOut;
        foreach (var input in to) gains.TryAdd(input, fadeIn);
        return gains;
    }

    public static double DbToLinear(double db) => Math.Pow(10, db / 20);

    // In box order, so the dictionary lists inputs the same way every time.
    private static List<string> Visible(BusDefinition bus) =>
        bus.ProgramBoxes().Where(b => b.Alpha > 0).Select(b => b.Source).Distinct().ToList();
}
