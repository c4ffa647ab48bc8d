using MixerWorker.Testbed.Imaging;
using MixerWorker.Pipeline.Scene;
using MixerWorker.Testbed.Feeds;
using MixerWorker.Testbed.Reading;
using MixerWorker.Testbed.StandIn;
using Xunit;
using Xunit.Abstractions;
using static MixerWorker.Pipeline.Tests.Integration.MixHarness;

namespace MixerWorker.Pipeline.Tests.Integration;

/// <summary>Three feeds into Program (2x2 + PiP) and AUX1 (one source), read back through the stand-in.</summary>
public sealed class MixTests(ITestOutputHelper output)
{
    private static readonly FeedSpec A = FeedSpec.Numbered(0), B = FeedSpec.Numbered(1), C = FeedSpec.Numbered(2);

    internal static SceneDefinition ThreeInputScene(params BusDefinition[] buses) => new()
    {
        Project = Project,
        Inputs = [new InputDefinition { Name = A.Input }, new InputDefinition { Name = B.Input }, new InputDefinition { Name = C.Input }],
        Buses = buses,
    };

    internal static BusDefinition GridWithPip => Bus("program", 320, 180,
        At(A.Input, 0, 0, 160, 90), At(B.Input, 160, 0, 160, 90), At(C.Input, 0, 90, 160, 90), At(A.Input, 160, 90, 160, 90),
        At(C.Input, 240, 10, 64, 36, z: 1));

    internal static BusDefinition Aux1Single => Bus("aux1", 160, 90, At(B.Input, 0, 0, 160, 90));

    internal static Task<MixHarness> StartThreeInputShow(ITestOutputHelper output, params BusDefinition[] buses) =>
        MixHarness.StartShowAsync(output, ThreeInputScene(buses), [A, B, C]);

    [Fact]
    public async Task Program_and_aux1_carry_the_right_sources_in_a_browser_playable_format()
    {
        await using var h = await StartThreeInputShow(output, GridWithPip, Aux1Single);
        var program = h.Read("program");
        var aux1 = h.Read("aux1");

        var frame = await program.WaitForFrameAsync(TimeSpan.FromSeconds(15), f =>
            Colors.Near(f.ColorAt(60, 50), A.Rgb) && Colors.Near(f.ColorAt(200, 60), B.Rgb) && Colors.Near(f.ColorAt(60, 140), C.Rgb)
            && Colors.Near(f.ColorAt(220, 140), A.Rgb) && Colors.Near(f.ColorAt(272, 28), C.Rgb));
        Assert.Equal((320, 180), (frame.Width, frame.Height));
        var auxFrame = await aux1.WaitForFrameAsync(TimeSpan.FromSeconds(10), f => Colors.Near(f.ColorAt(80, 45), B.Rgb));
        Assert.Equal((160, 90), (auxFrame.Width, auxFrame.Height));

        await Task.Delay(2500); // a few GOPs for the stream checks
        foreach (var (reader, width, height) in new[] { (program, 320, 180), (aux1, 160, 90) })
        {
            var s = reader.Stats;
            output.WriteLine(s.ToString());
            Assert.NotNull(s.VideoCaps);
            Assert.Contains("profile=(string)constrained-baseline", s.VideoCaps);
            Assert.Contains("chroma-format=(string)4:2:0", s.VideoCaps);
            Assert.Contains("bit-depth-luma=(uint)8", s.VideoCaps);
            Assert.Contains($"width=(int){width}", s.VideoCaps);
            Assert.Contains($"height=(int){height}", s.VideoCaps);
            Assert.Contains("framerate=(fraction)30/1", s.VideoCaps);
            Assert.Equal(0, s.ReorderedFrames);              // no B-frames
            Assert.InRange(s.MaxKeyframeIntervalFrames, 1, 30); // GOP <= 1 s at 30 fps
            Assert.True(s.Keyframes >= 2, $"only {s.Keyframes} keyframes seen");
            Assert.NotNull(s.AudioCaps);
            Assert.Contains("audio/x-opus", s.AudioCaps);
            Assert.Contains("rate=(int)48000", s.AudioCaps);
            Assert.Contains("channels=(int)2", s.AudioCaps);
        }
    }

    [Fact]
    public async Task A_live_layout_change_shows_the_new_arrangement_without_reopening_the_output()
    {
        await using var h = await StartThreeInputShow(output, GridWithPip);
        var program = h.Read("program");
        await program.WaitForFrameAsync(TimeSpan.FromSeconds(15), f => Colors.Near(f.ColorAt(60, 50), A.Rgb));

        var sideBySide = ThreeInputScene(Bus("program", 320, 180, At(C.Input, 0, 0, 160, 180), At(B.Input, 160, 0, 160, 180)));
        await h.Mixer!.ApplyAsync(sideBySide);
        await program.WaitForFrameAsync(TimeSpan.FromSeconds(5), f =>
            Colors.Near(f.ColorAt(80, 90), C.Rgb) && Colors.Near(f.ColorAt(240, 90), B.Rgb) && Colors.Near(f.ColorAt(80, 20), C.Rgb));

        foreach (var a in h.StandIn.Attempts()) output.WriteLine(a.ToString());
        var publishes = h.StandIn.Attempts().Where(a => a.Action == "publish" && a.Path == $"out/{Project}/program").ToList();
        Assert.Single(publishes);
        Assert.Equal(SrtAttemptOutcome.Accepted, publishes[0].Outcome);
        Assert.Null(publishes[0].ClosedAt);
        Assert.True(program.Connections == 1, program.ConnectionReport);
    }

    [Fact]
    public async Task A_scene_with_pipeline_syntax_in_a_name_is_refused_and_nothing_on_air_changes()
    {
        await using var h = await StartThreeInputShow(output, Aux1Single);
        var aux1 = h.Read("aux1");
        await aux1.WaitForFrameAsync(TimeSpan.FromSeconds(15), f => Colors.Near(f.ColorAt(80, 45), B.Rgb));

        var hostile = ThreeInputScene(Bus("aux1", 160, 90, At("cam-b ! fakesink", 0, 0, 160, 90))) with
        {
            Inputs = [new InputDefinition { Name = "cam-b ! fakesink" }],
        };
        var e = await Assert.ThrowsAsync<SceneException>(() => h.Mixer!.ApplyAsync(hostile));
        Assert.Contains(e.Errors, m => m.Contains("'cam-b ! fakesink' is invalid"));

        await Task.Delay(500);
        await aux1.WaitForFrameAsync(TimeSpan.FromSeconds(5), f => Colors.Near(f.ColorAt(80, 45), B.Rgb));
        var status = await h.Mixer!.GetStatusAsync();
        Assert.Equal(["cam-a", "cam-b", "cam-c"], status.Inputs.Keys.Order());
        Assert.True(aux1.Connections == 1, aux1.ConnectionReport);
    }
}
