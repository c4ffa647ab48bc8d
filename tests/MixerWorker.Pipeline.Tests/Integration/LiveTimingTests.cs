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
    public async Task Every_input_frame_is_shown_once_on_a_30_fps_bus(int fps, int muxDelayMs)
    {
        var feeds = Enumerable.Range(0, 4).Select(i => MotionRig.Feed(i, fps, TimeSpan.FromMilliseconds(muxDelayMs))).ToList();
        await using var rig = await MotionRig.StartAsync(output, feeds, direct: false);
        var report = await rig.MeasureAsync(TimeSpan.FromSeconds(4));
        Assert.All(report.Boxes, b => Assert.True(b.IsSmooth(Tolerance), b.ToString()));
    }
}
