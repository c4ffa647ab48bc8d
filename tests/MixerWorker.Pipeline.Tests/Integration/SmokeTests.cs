using MixerWorker.Pipeline.Scene;
using MixerWorker.Testbed.Feeds;
using Xunit;
using Xunit.Abstractions;
using static MixerWorker.Pipeline.Tests.Integration.MixHarness;

namespace MixerWorker.Pipeline.Tests.Integration;

public sealed class SmokeTests(ITestOutputHelper output)
{
    [Fact]
    public async Task One_input_to_program()
    {
        await using var h = new MixHarness(output);
        var cam = h.StartFeed(FeedSpec.Numbered(0));
        await h.WaitForPublisherAsync($"ingest/{Project}/cam-a", TimeSpan.FromSeconds(10));
        var scene = new SceneDefinition
        {
            Project = Project,
            Inputs = [new InputDefinition { Name = "cam-a" }],
            Buses = [Bus("program", 320, 180, At("cam-a", 0, 0, 320, 180))],
        };
        await h.StartMixerAsync(scene);
        var reader = h.Read("program");
        await Task.Delay(3000);
        foreach (var a in h.StandIn.Attempts()) output.WriteLine(a.ToString());
        output.WriteLine(h.StandIn.GetPathStats($"ingest/{Project}/cam-a")?.ToString());
        var frame = await reader.WaitForFrameAsync(TimeSpan.FromSeconds(15), f => f.ColorAt(160, 120).R > 150);
        output.WriteLine($"{reader.Stats}");
        output.WriteLine($"{frame.ColorAt(160, 120)}");
        output.WriteLine(string.Join("\n", (await h.Mixer!.GetStatusAsync()).Inputs.Select(i => $"{i.Key}: {i.Value}")));
    }
}
