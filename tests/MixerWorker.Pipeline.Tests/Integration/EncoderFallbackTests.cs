using MixerWorker.Pipeline.Encoding;
using MixerWorker.Pipeline.Engine;
using MixerWorker.Pipeline.Scene;
using MixerWorker.Testbed.Feeds;
using MixerWorker.Testbed.Imaging;
using MixerWorker.Testbed.StandIn;
using Xunit;
using Xunit.Abstractions;
using static MixerWorker.Pipeline.Tests.Integration.MixHarness;

namespace MixerWorker.Pipeline.Tests.Integration;

/// <summary>A bus whose encoder refuses to open moves to the next backend; the other buses never notice.</summary>
public sealed class EncoderFallbackTests(ITestOutputHelper output)
{
    private static readonly FeedSpec A = FeedSpec.Numbered(0) with { Width = 160, Height = 90 };

    /// <summary>
    /// Stands first in line like a hardware backend, is found through the probe like one, and fails the
    /// way one that cannot open does (no session left, a driver without the preset): refuses its first
    /// caps. It is x264 given an option libx264 does not know, which every GStreamer the worker runs on
    /// has, and whose failure inside a live bus once took the whole process down (AllocationGuard).
    /// </summary>
    internal sealed class RefusingBackend(string name) : IVideoEncoderBackend
    {
        public string Name => name;
        public bool IsAvailable(IElementProbe probe) => probe.Has("x264enc");
        public IReadOnlyList<FrameState> Accepts(IElementProbe probe) => [new(FrameLocation.System, "I420")];

        public ElementSpec Encoder(IElementProbe probe, VideoEncodeSettings s)
        {
            var x264 = new SoftwareX264Backend().Encoder(probe, s);
            return x264 with { Properties = [.. x264.Properties, new PropertySpec("option-string", "no-such-option=1")] };
        }
    }

    [Fact]
    public async Task A_bus_whose_hardware_encoder_refuses_to_open_goes_on_air_with_the_next_backend_and_the_others_are_untouched()
    {
        await using var h = new MixHarness(output);
        h.StartFeed(A);
        await h.WaitForPublisherAsync($"ingest/{Project}/{A.Input}", TimeSpan.FromSeconds(10));
        // "nvenc" and "va" both refuse; software is last.
        var encoders = new EncoderChainBuilder(new GstElementProbe(), [new RefusingBackend("nvenc"), new RefusingBackend("va"), new SoftwareX264Backend()]);
        var scene = new SceneDefinition
        {
            Project = Project,
            Inputs = [new InputDefinition { Name = A.Input }],
            Buses = [Bus("program", 160, 90, At(A.Input, 0, 0, 160, 90)), Bus("aux1", 160, 90, At(A.Input, 0, 0, 80, 90))],
        };
        var started = DateTimeOffset.UtcNow;
        var mixer = await ProjectMixer.StartAsync(scene, h.Options(), h.Log, encoders);
        await using var _ = mixer;
        var program = h.Read("program");
        var aux1 = h.Read("aux1");
        var first = await program.WaitForFrameAsync(TimeSpan.FromSeconds(15), f => Colors.Near(f.ColorAt(80, 45), A.Rgb));
        await aux1.WaitForFrameAsync(TimeSpan.FromSeconds(15), f => Colors.Near(f.ColorAt(40, 45), A.Rgb));
        output.WriteLine($"first program picture {(first.At - started).TotalSeconds:F2} s after the start");

        var status = await mixer.GetStatusAsync();
        foreach (var (name, bus) in status.Buses) output.WriteLine($"{name}: {bus}");
        foreach (var name in new[] { "program", "aux1" })
        {
            Assert.Equal("software", status.Buses[name].Encoder);
            Assert.Equal(2, status.Buses[name].EncoderFallbacks);
            Assert.Contains("encoder va failed", status.Buses[name].Error);
            Assert.Contains("now encodes with software", status.Buses[name].Error);
        }
        var fallbacks = h.Log.Lines.Where(l => l.Contains("Error: bus ") && l.Contains("refused to open")).ToList();
        Assert.Equal(4, fallbacks.Count); // nvenc → va → software, on each bus
        Assert.Contains(fallbacks, l => l.Contains("bus program: encoder nvenc refused to open") && l.Contains("built on va instead"));
        Assert.Contains(fallbacks, l => l.Contains("bus program: encoder va refused to open") && l.Contains("built on software instead"));
        // The refusing encoders never stood in a live bus: no pipeline error, no stalled compositor.
        Assert.DoesNotContain(h.Log.Lines, l => l.Contains("pipeline error"));

        // One publish per bus: the output connection was made once, on the encoder that works.
        Assert.Equal(1, h.StandIn.Attempts().Count(a => a.Action == "publish" && a.Path == $"out/{Project}/program" && a.Outcome == SrtAttemptOutcome.Accepted));
        program.ResetCounters();
        await Task.Delay(1500);
        Assert.True(program.Stats.Frames >= 30, $"the program bus publishes at its rate: {program.Stats}");
        Assert.True(program.Connections == 1, program.ConnectionReport);
        Assert.Equal(0, mixer.CallbackFaults);
    }

    [Fact]
    public async Task An_encoder_that_fails_inside_a_live_bus_is_replaced_in_place_and_the_output_connection_is_kept()
    {
        await using var h = new MixHarness(output);
        h.StartFeed(A);
        await h.WaitForPublisherAsync($"ingest/{Project}/{A.Input}", TimeSpan.FromSeconds(10));
        // No trial run: the refusing encoder goes into the live bus and fails there, as one failing mid-show does;
        // behind the bus's raw tee, where the process died of a failed x264 before.
        var encoders = new EncoderChainBuilder(new GstElementProbe(), [new RefusingBackend("nvenc"), new SoftwareX264Backend()]) { TrialRuns = false };
        var scene = new SceneDefinition
        {
            Project = Project,
            Inputs = [new InputDefinition { Name = A.Input }],
            Buses = [Bus("program", 160, 90, At(A.Input, 0, 0, 160, 90)), Bus("aux1", 160, 90, At(A.Input, 0, 0, 80, 90))],
        };
        var mixer = await ProjectMixer.StartAsync(scene, h.Options(), h.Log, encoders);
        await using var _ = mixer;
        var program = h.Read("program");
        await program.WaitForFrameAsync(TimeSpan.FromSeconds(20), f => Colors.Near(f.ColorAt(80, 45), A.Rgb));
        var status = await mixer.GetStatusAsync();
        foreach (var (name, bus) in status.Buses) output.WriteLine($"{name}: {bus}");
        var rebuilt = h.Log.Lines.Where(l => l.Contains("Error: bus ") && l.Contains("rebuilt on software")).ToList();
        foreach (var l in rebuilt) output.WriteLine(l);
        Assert.Contains(rebuilt, l => l.Contains("bus program: encoder nvenc failed"));
        Assert.Equal("software", status.Buses["program"].Encoder);
        Assert.Equal(1, status.Buses["program"].EncoderFallbacks);
        Assert.Equal(1, h.StandIn.Attempts().Count(a => a.Action == "publish" && a.Path == $"out/{Project}/program" && a.Outcome == SrtAttemptOutcome.Accepted));
        program.ResetCounters();
        await Task.Delay(1500);
        Assert.True(program.Stats.Frames >= 30, $"the program bus publishes at its rate: {program.Stats}");
        Assert.True(program.Connections == 1, program.ConnectionReport);
    }
}
