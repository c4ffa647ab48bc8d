using MixerWorker.Testbed.Feeds;
using Xunit;
using Xunit.Abstractions;

namespace MixerWorker.Pipeline.Tests.Integration;

/// <summary>
/// Issue 9: every input frame that arrives in time is shown, at its place in time. Moving feeds into
/// a 2x2 grid of a 30 fps bus, read back box by box: no repeat or skip beyond what the frame-rate
/// conversion needs (25 → 30 repeats one frame in six, 60 → 30 shows every other frame), with a frame
/// or two of tolerance for the start of the measurement.
/// </summary>
public sealed class LiveTimingTests(ITestOutputHelper output)
{
    private const int Tolerance = 2;

    [Theory]
    [InlineData(30, 700)] // muxed like ffmpeg's default, as encoders and OBS publish
    [InlineData(25, 700)]
    [InlineData(60, 700)]
    [InlineData(30, 0)]   // a zero-delay muxer
    [InlineData(25, 0)]
    [InlineData(60, 0)]
    [InlineData(60, 125)]
    [InlineData(30, 100)] // behind MediaMTX, which remuxes with PCR = DTS - 100 ms
    public async Task Every_input_frame_is_shown_once_on_a_30_fps_bus(int fps, int muxDelayMs)
    {
        var feeds = Enumerable.Range(0, 4).Select(i => MotionRig.Feed(i, fps, TimeSpan.FromMilliseconds(muxDelayMs))).ToList();
        await using var rig = await MotionRig.StartAsync(output, feeds, direct: fps == 60);
        var report = await rig.MeasureAsync(TimeSpan.FromSeconds(4));
        var status = await rig.Harness.Mixer!.GetStatusAsync();
        output.WriteLine("DEBUG status " + string.Join("; ", status.Buses.Select(b => $"{b.Key}: out {b.Value.FramesOut} {b.Value.Lateness}")));
        var pics = await rig.Harness.Mixer!.InspectBusAsync("program", b => b!.Director.Branches.Select(x => x.Pictures).ToList());
        output.WriteLine("DEBUG pictures " + string.Join("; ", pics));
        var traces = await rig.Harness.Mixer!.InspectBusAsync("program", b => b!.Director.Branches.Select(x => x.Trace is null ? "" : string.Join(" ", x.Trace.Skip(40).Take(150).Select((p, i) => i == 0 ? "" : ((long)(p - x.Trace[40 + i - 1]) / 1e6).ToString("F0")))).ToList());
        foreach (var t in traces) output.WriteLine("DEBUG trace " + t);
        foreach (var f in feeds) { var t = await rig.Harness.Mixer!.TimelineAsync(f.Input); output.WriteLine($"DEBUG timeline {f.Input}: jumps {t?.Jumps} corrections {t?.Corrections} held {t?.HeldBack} late {t?.LateFrames} windows {string.Join(" ", t!.History.Select(h => $"{h.Low / 1e6:F0}/{h.High / 1e6:F0}"))}"); }
        Assert.All(report.Boxes, b => Assert.True(b.IsSmooth(Tolerance), b.ToString()));
    }
}
