using MixerWorker.Pipeline.Engine;
using MixerWorker.Pipeline.Scene;
using MixerWorker.Testbed.Feeds;
using MixerWorker.Testbed.Imaging;
using MixerWorker.Testbed.StandIn;
using Xunit;
using Xunit.Abstractions;
using static MixerWorker.Pipeline.Tests.Integration.MixHarness;

namespace MixerWorker.Pipeline.Tests.Integration;

/// <summary>A camera that drops and comes back, with no one telling the engine (no MediaMTX events).</summary>
public sealed class ReturningFeedTests(ITestOutputHelper output)
{
    private static readonly FeedSpec A = FeedSpec.Numbered(0) with { Width = 160, Height = 90 };

    [Fact]
    public async Task An_empty_path_is_probed_quietly_and_the_returning_feed_is_back_long_before_the_backoff_would_allow()
    {
        await using var h = new MixHarness(output);
        var feed = h.StartFeed(A);
        await h.WaitForPublisherAsync($"ingest/{Project}/{A.Input}", TimeSpan.FromSeconds(10));
        // A 5 s backoff cap, as in production: without the probe the input would be back up to 5 s late.
        await h.StartMixerAsync(new SceneDefinition
        {
            Project = Project,
            Inputs = [new InputDefinition { Name = A.Input }],
            Buses = [Bus("program", 160, 90, At(A.Input, 0, 0, 160, 90))],
        }, h.Options() with { ReconnectMaxDelay = TimeSpan.FromSeconds(5), ReconnectProbeInterval = TimeSpan.FromMilliseconds(400) });
        var program = h.Read("program");
        await program.WaitForFrameAsync(TimeSpan.FromSeconds(15), f => Colors.Near(f.ColorAt(80, 45), A.Rgb));

        feed.Dispose();
        var gone = DateTimeOffset.UtcNow;
        await program.WaitForFrameAsync(TimeSpan.FromSeconds(10), f => Colors.Near(f.ColorAt(8, 8), Colors.NoSignalCard, 20));
        await Task.Delay(TimeSpan.FromSeconds(8)); // long enough for a backoff to reach its cap
        var path = $"ingest/{Project}/{A.Input}";
        var probes = h.StandIn.Attempts().Count(a => a.At > gone && a.Action == "read" && a.Path == path);

        var back = DateTimeOffset.UtcNow;
        h.StartFeed(A);
        var published = await h.StandIn.WaitForAttemptAsync(a => a.At >= back && a.Action == "publish" && a.Outcome == SrtAttemptOutcome.Accepted, TimeSpan.FromSeconds(10));
        var read = await h.StandIn.WaitForAttemptAsync(a => a.At >= published.At && a.Action == "read" && a.Path == path && a.Outcome == SrtAttemptOutcome.Accepted, TimeSpan.FromSeconds(10));
        var frame = await program.WaitForFrameAsync(TimeSpan.FromSeconds(10), f => Colors.Near(f.ColorAt(80, 45), A.Rgb));
        output.WriteLine($"{probes} reads of the empty path in the outage; read accepted {(read.At - published.At).TotalSeconds:F2} s and picture on the output {(frame.At - published.At).TotalSeconds:F2} s after the publisher came back");

        // Probed about every 400 ms (±20 %), not hammered, and said once rather than at every probe.
        Assert.InRange(probes, 12, 30);
        Assert.True(read.At - published.At < TimeSpan.FromSeconds(1.5), "the returning feed was read within the probe interval, not the backoff");
        Assert.Single(h.Log.Lines, l => l.Contains("Warning:") && l.Contains("no publisher on"));
        Assert.Equal(ConnectionState.Connected, (await h.Mixer!.GetStatusAsync()).Inputs[A.Input].State);
        Assert.True(program.Connections == 1, program.ConnectionReport);
    }
}
