namespace MixerWorker.Pipeline.Interop;

/// <summary>GStreamer's clock time (unsigned nanoseconds) and its conversions from and to .NET's 100 ns ticks.</summary>
internal static class ClockTime
{
    internal const ulong Second = 1_000_000_000;

    /// <summary>Nanoseconds; a negative span is 0.</summary>
    internal static ulong FromTimeSpan(TimeSpan span) => (ulong)Math.Max(0, span.Ticks) * 100;

    internal static TimeSpan ToTimeSpan(long nanoseconds) => TimeSpan.FromTicks(nanoseconds / 100);

    /// <summary>The length of one frame at <paramref name="fps"/>.</summary>
    internal static ulong Frame(int fps) => Second / (ulong)fps;
}
