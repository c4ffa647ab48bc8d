using MixerWorker.Pipeline.Scene;
using MixerWorker.Testbed.Feeds;
using MixerWorker.Testbed.Imaging;
using Xunit;
using Xunit.Abstractions;
using static MixerWorker.Pipeline.Tests.Integration.MixHarness;

namespace MixerWorker.Pipeline.Tests.Integration;

/// <summary>
/// A bus's counters are the bus's, not its branch's. Rebuilt in place (a stall: BusStallTests) or for
/// a new format, it gets a new branch whose own counts start at zero; the bus's go on.
/// </summary>
public sealed class BusCountTests(ITestOutputHelper output)
{
    private static readonly FeedSpec A = FeedSpec.Numbered(0) with { Width = 160, Height = 90 };

    [Fact]
    public async Task A_bus_rebuilt_for_a_new_format_counts_on_from_where_it_was()
    {
        var scene = new SceneDefinition
        {
            Project = Project,
            Inputs = [new InputDefinition { Name = A.Input }],
            Buses = [.. new[] { "program", "aux1" }.Select(b => Bus(b, 160, 90, At(A.Input, 0, 0, 160, 90)))],
        };
        await using var h = await StartShowAsync(output, scene, [A]);
        var aux1 = h.Read("aux1");
        await aux1.WaitForFrameAsync(TimeSpan.FromSeconds(20), f => Colors.Near(f.ColorAt(80, 45), A.Rgb));

        using var watching = new CancellationTokenSource();
        var counts = BusCounters.SampleAsync(h.Mixer!, "aux1", watching.Token);
        await Task.Delay(500);
        // A new size: the bus is taken down and built again, with a new output connection.
        await h.Mixer!.ApplyAsync(scene with { Buses = [scene.Buses[0], Bus("aux1", 192, 108, At(A.Input, 0, 0, 192, 108))] });
        var applied = Environment.TickCount64;
        await aux1.WaitForFrameAsync(TimeSpan.FromSeconds(20), f => f.Width == 192 && Colors.Near(f.ColorAt(96, 54), A.Rgb));
        await Task.Delay(1000);
        await watching.CancelAsync();

        var samples = await counts;
        BusCounters.AssertNeverFellAndGrewAfter(output, "aux1", [.. samples.Select(s => s.Bus)], samples.FindIndex(s => s.At >= applied));
        // The first connection's attempt and the new one's.
        Assert.Equal(2, samples[^1].Bus.Attempts);
    }
}
