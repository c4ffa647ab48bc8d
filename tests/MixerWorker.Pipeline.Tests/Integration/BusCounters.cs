using MixerWorker.Pipeline.Engine;
using Xunit;
using Xunit.Abstractions;

namespace MixerWorker.Pipeline.Tests.Integration;

/// <summary>A bus's counters as its status tells them, sampled while a test changes the bus: none may ever fall.</summary>
internal static class BusCounters
{
    // What the bus sends first: these grow whenever it is on air.
    private static readonly (string Name, Func<BusStatus, double> Read)[] Counters =
    [
        ("pictures sent", b => b.Lateness?.PicturesSent ?? 0), ("frames out", b => b.FramesOut), ("bytes sent", b => b.BytesSent),
        ("pictures sent late", b => b.Lateness?.PicturesSentLate ?? 0), ("dropped frames", b => b.Lateness?.DroppedFrames ?? 0),
        ("drop episodes", b => b.Lateness?.Episodes ?? 0), ("dropped audio seconds", b => b.Lateness?.DroppedAudioSeconds ?? 0),
        ("output attempts", b => b.Attempts), ("stalls", b => b.Stalls), ("encoder fallbacks", b => b.EncoderFallbacks),
    ];

    /// <summary>The bus's status every 100 ms until <paramref name="stop"/>, with when it was asked for (Environment.TickCount64).</summary>
    internal static async Task<List<(long At, BusStatus Bus)>> SampleAsync(ProjectMixer mixer, string bus, CancellationToken stop)
    {
        var samples = new List<(long, BusStatus)>();
        while (!stop.IsCancellationRequested)
        {
            var at = Environment.TickCount64;
            samples.Add((at, (await mixer.GetStatusAsync()).Buses[bus]));
            try { await Task.Delay(100, stop); } catch (OperationCanceledException) { }
        }
        return samples;
    }

    /// <summary>
    /// No counter fell from one sample to the next, and what the bus sends grew after the sample
    /// <paramref name="rebuiltAt"/> (the first of its new branch) past where the old branch had left it.
    /// </summary>
    internal static void AssertNeverFellAndGrewAfter(ITestOutputHelper output, string bus, IReadOnlyList<BusStatus> samples, int rebuiltAt)
    {
        Assert.True(rebuiltAt > 0 && rebuiltAt < samples.Count - 1, $"sampled {bus}'s counters {rebuiltAt} times before the rebuild, {samples.Count - rebuiltAt} after");
        foreach (var (name, read) in Counters)
        {
            output.WriteLine($"{bus} {name}: {read(samples[0])} first, {read(samples[rebuiltAt - 1])} before the rebuild, {read(samples[^1])} at the end");
            for (var i = 1; i < samples.Count; i++)
                Assert.True(read(samples[i]) >= read(samples[i - 1]),
                    $"{bus}'s {name} fell from {read(samples[i - 1])} to {read(samples[i])} {(i == rebuiltAt ? "at" : i < rebuiltAt ? "before" : "after")} the rebuild");
        }
        foreach (var (name, read) in Counters.Take(3))
            Assert.True(read(samples[^1]) > read(samples[rebuiltAt - 1]), $"{bus}'s {name} did not grow after the rebuild");
    }
}
