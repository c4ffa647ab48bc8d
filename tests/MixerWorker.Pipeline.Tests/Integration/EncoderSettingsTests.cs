using MixerWorker.Pipeline.Scene;
using MixerWorker.Testbed.Feeds;
using MixerWorker.Testbed.Reading;
using Xunit;
using Xunit.Abstractions;
using static MixerWorker.Pipeline.Tests.Integration.MixHarness;

namespace MixerWorker.Pipeline.Tests.Integration;

/// <summary>What the software encoder really did, read from the published stream rather than from its properties.</summary>
public sealed class EncoderSettingsTests(ITestOutputHelper output)
{
    private static readonly FeedSpec A = FeedSpec.Numbered(0), B = FeedSpec.Numbered(1);

    [Fact]
    public async Task The_published_stream_carries_ultrafast_zerolatency_settings_with_trellis_off_and_one_thread()
    {
        var scene = new SceneDefinition
        {
            Project = Project, Inputs = [new InputDefinition { Name = A.Input }, new InputDefinition { Name = B.Input }],
            Buses = [Bus("program", 320, 180, At(A.Input, 0, 0, 160, 180), At(B.Input, 160, 0, 160, 180))],
        };
        await using var h = await MixHarness.StartShowAsync(output, scene, [A, B]);
        // x264 writes its options once, with the first picture: the stand-in keeps the start of what
        // the worker published, as a reader connected from the first byte would have received it.
        await h.Read("program").WaitForFrameAsync(TimeSpan.FromSeconds(15));
        var options = X264Options.FromTransportStream(h.StandIn.PublishedHead($"out/{Project}/program"));
        Assert.NotNull(options);
        output.WriteLine(string.Join(" ", options.Select(o => $"{o.Key}={o.Value}")));

        // ultrafast as x264 defines it: nothing x264enc's own defaults could have switched back on.
        Assert.Equal("0", options["trellis"]);
        Assert.Equal("0", options["cabac"]);
        Assert.Equal("1", options["ref"]);
        Assert.Equal("dia", options["me"]);
        Assert.Equal("0", options["subme"]);
        Assert.Equal("0", options["8x8dct"]);
        Assert.Equal("0", options["mbtree"]);
        Assert.Equal("0", options["weightp"]);
        Assert.Equal("0:0:0", options["deblock"]);
        // zerolatency and the product's stream: no B-frames, no look-ahead, a keyframe every second.
        Assert.Equal("0", options["bframes"]);
        Assert.Equal("0", options["rc_lookahead"]);
        Assert.Equal("30", options["keyint"]);
        Assert.Equal("cbr", options["rc"]);
        Assert.Equal("600", options["bitrate"]);
        // One encoding thread for a small bus (SoftwareX264Backend.Threads).
        Assert.Equal("1", options["threads"]);
        Assert.Equal("0", options["sliced_threads"]);
    }
}
