using MixerWorker.Testbed.Feeds;
using Xunit;
using Xunit.Abstractions;

namespace MixerWorker.Pipeline.Tests.Integration;

/// <summary>
/// Issue 9: every input frame that arrives in time is shown, at its place in time. Moving feeds into
/// a 2x2 grid of a 30 fps bus, read back box by box: no repeat or skip beyond what the frame-rate
/// conversion needs (25 → 30 repeats one frame in six), with a frame or two of tolerance for the
/// start of the measurement.
/// </summary>
public sealed class LiveTimingTests(ITestOutputHelper output)
{
    private const int Tolerance = 2;

    [Theory]
    [InlineData(30, 700)] // muxed like ffmpeg's default, as encoders and OBS publish
    [InlineData(25, 700)]
    [InlineData(30, 0)]   // a zero-delay muxer
    [InlineData(25, 0)]
    [InlineData(30, 100)] // behind MediaMTX, which remuxes with PCR = DTS - 100 ms
    [InlineData(60, 0)]   // a 60 fps input shows every other frame
    [InlineData(60, 700)]
    public async Task Every_input_frame_is_shown_once_on_a_30_fps_bus(int fps, int muxDelayMs)
    {
        var feeds = Enumerable.Range(0, 4).Select(i => MotionRig.Feed(i, fps, TimeSpan.FromMilliseconds(muxDelayMs))).ToList();
        await using var rig = await MotionRig.StartAsync(output, feeds, direct: false);
        var report = await rig.MeasureAsync(TimeSpan.FromSeconds(4));
        Assert.All(report.Boxes, b => Assert.True(b.IsSmooth(Tolerance), b.ToString()));
    }

    [Fact]
    public async Task A_feed_whose_timestamps_jump_keeps_moving_within_a_frame_or_two_of_the_jump()
    {
        // cam-a's publisher "restarts" halfway through: PTS, DTS and PCR go back 20 s, the pictures run on.
        // Zero-delay muxing, so that only the jump is tested (the 700 ms case is the test above).
        var feeds = Enumerable.Range(0, 4).Select(i => MotionRig.Feed(i, 30, TimeSpan.Zero)).ToList();
        await using var rig = await MotionRig.StartAsync(output, feeds, direct: false);
        var report = await rig.MeasureAsync(TimeSpan.FromSeconds(6), midway: () => rig.Harness.Feed("cam-a").JumpTimestamps(TimeSpan.FromSeconds(-20)));
        Assert.All(report.Boxes, b => Assert.True(b.IsSmooth(Tolerance), b.ToString()));
    }
}
