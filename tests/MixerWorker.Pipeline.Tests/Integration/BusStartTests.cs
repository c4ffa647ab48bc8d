using MixerWorker.Pipeline.Scene;
using Xunit;
using Xunit.Abstractions;
using static MixerWorker.Pipeline.Tests.Integration.MixHarness;

namespace MixerWorker.Pipeline.Tests.Integration;

/// <summary>
/// A bus must produce frames from its first moment whatever its inputs do. Building a bus used to start
/// its live background source before the compositor it feeds; about one bus in four then published
/// nothing for good. It is a race, so it is tried several times.
/// </summary>
public sealed class BusStartTests(ITestOutputHelper output)
{
    [Fact]
    public async Task A_bus_whose_inputs_never_connect_produces_frames_every_time_it_is_started()
    {
        var scene = new SceneDefinition
        {
            Project = Project,
            Inputs = [new InputDefinition { Name = "cam-a" }],
            Buses = [Bus("program", 160, 90, At("cam-a", 0, 0, 160, 90))],
        };
        for (var round = 1; round <= 8; round++)
        {
            await using var h = new MixHarness();
            var mixer = await h.StartMixerAsync(scene);
            var deadline = DateTime.UtcNow.AddSeconds(5);
            long frames;
            do
            {
                await Task.Delay(100);
                frames = (await mixer.GetStatusAsync()).Buses["program"].FramesOut;
            } while (frames == 0 && DateTime.UtcNow < deadline);
            output.WriteLine($"start {round}: {frames} frames");
            Assert.True(frames > 0, $"start {round}: the bus produced no frame in 5 s");
        }
    }
}
