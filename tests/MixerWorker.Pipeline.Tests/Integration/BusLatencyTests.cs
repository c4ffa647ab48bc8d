using MixerWorker.Pipeline.Scene;
using MixerWorker.Testbed.Feeds;
using MixerWorker.Testbed.Imaging;
using Xunit;
using Xunit.Abstractions;
using static MixerWorker.Pipeline.Tests.Integration.MixHarness;

namespace MixerWorker.Pipeline.Tests.Integration;

/// <summary>
/// A bus waits as long for an input whose camera has not come yet as for a live one: every input declares its jitter
/// allowance as its latency, connected or not (Builders.InputBranch).
/// </summary>
public sealed class BusLatencyTests(ITestOutputHelper output)
{
    private static readonly FeedSpec A = FeedSpec.Numbered(0), B = FeedSpec.Numbered(1);

    [Fact]
    public async Task A_bus_showing_an_input_that_never_connected_keeps_its_deadline_and_its_muxer_runs_on_the_clock()
    {
        // Unanswered, a latency query failed at the input's deinterlacer (it asks its missing source itself): every bus
        // showing the input made its frames 60 ms sooner than with the camera there, and its muxer, which is no live
        // aggregator unless upstream says so, waited for every stream whatever its latency and held only that much of each.
        var scene = new SceneDefinition
        {
            Project = Project,
            Inputs = [new InputDefinition { Name = A.Input }, new InputDefinition { Name = B.Input }],
            Buses = [Bus("program", 320, 180, At(A.Input, 0, 0, 160, 180), At(B.Input, 160, 0, 160, 180)), Bus("aux1", 160, 90, At(A.Input, 0, 0, 160, 90))],
        };
        await using var h = await StartShowAsync(output, scene, [B]); // cam-a not published yet
        var program = h.Read("program");
        await program.WaitForFrameAsync(TimeSpan.FromSeconds(15), f => Colors.Near(f.ColorAt(240, 90), B.Rgb));
        var before = await h.Mixer!.GetBusLatenciesAsync();

        h.StartFeed(A);
        await program.WaitForFrameAsync(TimeSpan.FromSeconds(15), f => Colors.Near(f.ColorAt(80, 90), A.Rgb) && Colors.Near(f.ColorAt(240, 90), B.Rgb));
        await Task.Delay(TimeSpan.FromSeconds(1));
        var after = await h.Mixer!.GetBusLatenciesAsync();

        Assert.Equal(["aux1", "program"], before.Keys.Order());
        foreach (var bus in before.Keys)
        {
            output.WriteLine($"{bus}: compositor {before[bus].Compositor?.TotalMilliseconds} ms before cam-a, {after[bus].Compositor?.TotalMilliseconds} ms with it; " +
                $"muxer {before[bus].Muxer?.TotalMilliseconds} / {after[bus].Muxer?.TotalMilliseconds} ms");
            Assert.NotNull(after[bus].Compositor);
            Assert.True(after[bus].Compositor >= h.Options().InputJitter, $"bus {bus}'s compositor waits {after[bus].Compositor} with every camera there");
            Assert.Equal(after[bus], before[bus]);
        }
    }
}
