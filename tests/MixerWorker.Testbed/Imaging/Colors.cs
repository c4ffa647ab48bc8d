namespace MixerWorker.Testbed.Imaging;

public static class Colors
{
    /// <summary>True when two colours differ by at most <paramref name="tolerance"/> per channel
    /// (compression and 4:2:0 chroma move solid colours by a few steps).</summary>
    public static bool Near((byte R, byte G, byte B) a, (byte R, byte G, byte B) b, int tolerance = 45) =>
        Math.Abs(a.R - b.R) <= tolerance && Math.Abs(a.G - b.G) <= tolerance && Math.Abs(a.B - b.B) <= tolerance;

    /// <summary>The background of the engine's "no signal" card (NoSignalCard): dark slate, not black.</summary>
    public static readonly (byte R, byte G, byte B) NoSignalCard = (56, 60, 72);

    public static bool IsBlack((byte R, byte G, byte B) c) => c.R < 40 && c.G < 40 && c.B < 40;
}
