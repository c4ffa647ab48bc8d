using MixerWorker.Testbed.Feeds;
using Xunit;
using Xunit.Abstractions;

namespace MixerWorker.Pipeline.Tests.Integration;

/// <summary>The frame-by-frame rig on the worker's real output: what it can read and measure.</summary>
public sealed class MotionRigTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Every_box_of_a_2x2_bus_is_read_and_its_latency_measured_against_the_direct_path()
    {
        await using var rig = await MotionRig.StartAsync(output, [MotionRig.Feed(0), MotionRig.Feed(1, fps: 25), MotionRig.Feed(2, fps: 60), MotionRig.Feed(3, muxDelay: TimeSpan.Zero)]);
        // A measurement taken on a machine that did not deliver is taken again on the same show (MotionRig.MeasureUntilAsync).
        await rig.MeasureUntilAsync(TimeSpan.FromSeconds(3), report =>
        {
            Assert.Equal(["program/0:cam-a", "program/1:cam-b", "program/2:cam-c", "program/3:cam-d"], report.Boxes.Select(b => b.Box));
            Assert.True(report.Disruptions.Count == 0, string.Join("; ", report.Disruptions));
            Assert.InRange(report.DeliveredFps, 25, 35);
            Assert.All(report.Boxes, b =>
            {
                Assert.True(b.Frames >= 0.9 * report.OutputFrames, $"{b.Box}: stamp read in {b.Frames} of {report.OutputFrames} pictures");
                Assert.Equal(0, b.Backwards);
                Assert.True(b.Intervals > 60, b.ToString());
                // The worker adds its own time on top of the direct path, and less than its configured latencies could explain.
                Assert.True(b.WorkerAddedMs.Count > 20, $"{b.Box}: {b.WorkerAddedMs.Count} frames matched with the direct reader");
                Assert.InRange(b.WorkerAddedP50!.Value, 1, 2000);
                Assert.True(b.LatencyP50 > b.WorkerAddedP50, b.ToString());
            });
        });
    }
}
