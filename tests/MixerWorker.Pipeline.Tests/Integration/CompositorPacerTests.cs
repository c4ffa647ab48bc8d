using System.Globalization;
using MixerWorker.Pipeline.Builders;
using MixerWorker.Pipeline.Scene;
using MixerWorker.Testbed.Feeds;
using MixerWorker.Testbed.Imaging;
using Xunit;
using Xunit.Abstractions;
using static MixerWorker.Pipeline.Tests.Integration.MixHarness;

namespace MixerWorker.Pipeline.Tests.Integration;

/// <summary>
/// A bus's compositor sleeps about once a frame, until the frame's inputs are in (<see cref="CompositorPacer"/>), not
/// once per picture and background buffer reaching its pads: a live aggregator waiting on the clock is woken by each
/// of them. Counted from the kernel (the compositor's thread's voluntary context switches against the frames the bus
/// made), not timed.
/// </summary>
public sealed class CompositorPacerTests(ITestOutputHelper output)
{
    private static readonly FeedSpec A = FeedSpec.Numbered(0), B = FeedSpec.Numbered(1), C = FeedSpec.Numbered(2);
    private static bool Near((byte, byte, byte) c, FeedSpec f) => Colors.Near(c, f.Rgb);

    [Fact]
    public async Task A_bus_with_four_boxes_sleeps_about_once_a_frame_not_once_per_picture()
    {
        // Four boxes from three feeds (A twice, from one shared scaler: two box queues), and the background: five
        // buffers reach the compositor's pads per frame.
        var program = Bus("program", 320, 180,
            At(A.Input, 0, 0, 160, 90), At(B.Input, 160, 0, 160, 90), At(C.Input, 0, 90, 160, 90), At(A.Input, 160, 90, 160, 90));
        var scene = new SceneDefinition
        {
            Project = Project, Inputs = [.. new[] { A, B, C }.Select(f => new InputDefinition { Name = f.Input })], Buses = [program],
        };
        await using var h = await MixHarness.StartShowAsync(output, scene, [A, B, C], h => h.Options() with { ThumbnailInterval = TimeSpan.Zero });
        var reader = h.Read("program");
        await reader.WaitForFrameAsync(TimeSpan.FromSeconds(20), f =>
            Near(f.ColorAt(80, 45), A) && Near(f.ColorAt(240, 45), B) && Near(f.ColorAt(80, 135), C) && Near(f.ColorAt(240, 135), A));
        await Task.Delay(1000);

        var thread = CompositorThread("program");
        var (sleeps, frames) = (Sleeps(thread), await FramesOutAsync(h));
        await Task.Delay(3000);
        (sleeps, frames) = (Sleeps(thread) - sleeps, await FramesOutAsync(h) - frames);
        var perFrame = (double)sleeps / Math.Max(1, frames);
        output.WriteLine($"compositor thread {thread}: {sleeps} sleeps over {frames} frames, {perFrame:F2} a frame");
        Assert.True(frames >= 45, $"the bus made {frames} frames in 3 s");
        // Woken by each buffer, it slept about 6 times a frame here; waiting for the inputs, 1.4 (its wait once a frame,
        // more where an input came after the deadline or a lock was contended).
        Assert.True(perFrame < 2.5, $"the compositor's thread slept {perFrame:F2} times a frame");
    }

    private static async Task<long> FramesOutAsync(MixHarness h) => (await h.Mixer!.GetStatusAsync()).Buses["program"].FramesOut;

    // The compositor's streaming thread: GStreamer names a pad's task "element:pad", which the kernel cuts to 15 bytes.
    private static string CompositorThread(string bus)
    {
        var name = ((string)ElementName.Bus(bus).Child(BusBranch.CompositorPart) + ":src")[..15];
        var found = Directory.EnumerateDirectories("/proc/self/task").Where(t => Comm(t) == name).ToList();
        return Assert.Single(found);
    }

    private static string? Comm(string task)
    {
        try { return File.ReadAllText(Path.Combine(task, "comm")).TrimEnd('\n'); }
        catch (IOException) { return null; } // the thread ended meanwhile
    }

    // How often the thread went to sleep (blocked) of its own accord; preemptions are counted apart by the kernel.
    private static long Sleeps(string task) =>
        long.Parse(File.ReadLines(Path.Combine(task, "status")).Single(l => l.StartsWith("voluntary_ctxt_switches:", StringComparison.Ordinal))
            .Split(':')[1].Trim(), CultureInfo.InvariantCulture);
}
