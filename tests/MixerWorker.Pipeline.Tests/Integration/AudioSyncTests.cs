using MixerWorker.Pipeline.Scene;
using MixerWorker.Testbed.Audio;
using MixerWorker.Testbed.Feeds;
using Xunit;
using Xunit.Abstractions;
using static MixerWorker.Pipeline.Tests.Integration.MixHarness;

namespace MixerWorker.Pipeline.Tests.Integration;

/// <summary>
/// Issue 9, what must not move: sound stays with its picture. A feed flashes white and beeps at the
/// same timestamp once a second; read from the bus's output (H.264 and Opus over SRT), each beep
/// starts within 40 ms of its flash, whatever lead the publisher muxed with.
/// </summary>
public sealed class AudioSyncTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Period = TimeSpan.FromSeconds(1);

    [Theory]
    [InlineData(0)]
    [InlineData(700)] // ffmpeg's default muxing
    public async Task A_flash_and_its_beep_leave_the_bus_within_40_ms_of_each_other(int muxDelayMs)
    {
        var feed = FeedSpec.Numbered(0) with { Width = 160, Height = 90, FlashEvery = Period, MuxDelay = TimeSpan.FromMilliseconds(muxDelayMs) };
        var bus = Bus("program", 160, 90, At(feed.Input, 0, 0, 160, 90)) with
        {
            Audio = new AudioMix { Mode = AudioMode.Fixed, Sources = [new AudioSource { Input = feed.Input }] },
        };
        var scene = new SceneDefinition { Project = Project, Inputs = [new InputDefinition { Name = feed.Input }], Buses = [bus] };
        await using var h = await StartShowAsync(output, scene, [feed]);
        var program = h.Read("program");
        await program.WaitForFrameAsync(TimeSpan.FromSeconds(20));
        await program.Audio.WaitForAsync(TimeSpan.FromSeconds(15), TimeSpan.FromMilliseconds(1500), w => w.RmsDb() > -40, "a beep");

        program.StartRecordingFrames();
        var from = DateTimeOffset.UtcNow;
        await Task.Delay(TimeSpan.FromSeconds(4.5));
        var flashes = AvSync.Flashes(program.RecordedFrames, f => f.ColorAt(80, 25) is var (r, g, b) && r > 200 && g > 200 && b > 200);
        var beeps = AvSync.Beeps(program.Audio.Since(from), program.Audio.Channels, program.Audio.Rate);
        var offsets = AvSync.OffsetsMs(flashes, beeps, Period);
        output.WriteLine($"{flashes.Count} flashes, {beeps.Count} beeps; beep minus flash: {string.Join(", ", offsets.Select(o => $"{o:F1} ms"))}");

        Assert.True(offsets.Count >= 3, $"only {offsets.Count} flash-and-beep pairs in 4.5 s ({flashes.Count} flashes, {beeps.Count} beeps)");
        Assert.All(offsets, o => Assert.InRange(o, -40, 40));
    }
}
