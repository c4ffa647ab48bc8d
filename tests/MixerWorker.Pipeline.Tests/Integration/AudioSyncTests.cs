using MixerWorker.Pipeline.Scene;
using MixerWorker.Testbed.Audio;
using MixerWorker.Testbed.Feeds;
using MixerWorker.Testbed.Reading;
using Xunit;
using Xunit.Abstractions;
using static MixerWorker.Pipeline.Tests.Integration.MixHarness;

namespace MixerWorker.Pipeline.Tests.Integration;

/// <summary>
/// Issue 9, what must not move: sound stays with its picture. A feed flashes white and beeps at the
/// same timestamp once a second. Read straight from the hub, the feed itself is in sync (a marker that
/// is not could prove nothing about the mixer); read from the bus's output (H.264 and Opus over SRT),
/// each beep starts within 40 ms of its flash, whatever lead the publisher muxed with and whichever
/// codec it sent.
/// </summary>
public sealed class AudioSyncTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Period = TimeSpan.FromSeconds(1);

    [Theory]
    [InlineData("aac", 0)]
    [InlineData("aac", 700)] // ffmpeg's default muxing
    [InlineData("opus", 700)]
    // ffmpeg's default muxing in full: also 8 AAC frames (171 ms) a PES, sent after their pictures.
    [InlineData("aac", 700, SoundPacking.FfmpegDefault)]
    public async Task A_flash_and_its_beep_leave_the_bus_within_40_ms_of_each_other(string codec, int muxDelayMs, SoundPacking packing = SoundPacking.FramePerPes)
    {
        var feed = FeedSpec.Numbered(0) with
        {
            Width = 160, Height = 90, FlashEvery = Period, AudioCodec = codec, MuxDelay = TimeSpan.FromMilliseconds(muxDelayMs), SoundPacking = packing,
        };
        var bus = Bus("program", 160, 90, At(feed.Input, 0, 0, 160, 90)) with
        {
            Audio = new AudioMix { Mode = AudioMode.Fixed, Sources = [new AudioSource { Input = feed.Input }] },
        };
        var scene = new SceneDefinition { Project = Project, Inputs = [new InputDefinition { Name = feed.Input }], Buses = [bus] };
        await using var h = await StartShowAsync(output, scene, [feed]);
        var readers = new Dictionary<string, OutputReader> { ["feed"] = h.ReadFeed(feed, stamps: false), ["bus"] = h.Read("program") };
        foreach (var r in readers.Values)
        {
            await r.WaitForFrameAsync(TimeSpan.FromSeconds(20));
            await r.Audio.WaitForAsync(TimeSpan.FromSeconds(15), TimeSpan.FromMilliseconds(1500), w => w.RmsDb() > -40, "a beep");
        }

        foreach (var r in readers.Values) r.StartRecordingFrames();
        var droppedBefore = (await h.Mixer!.GetSoundDroppedLateAsync())["program"];
        var from = DateTimeOffset.UtcNow;
        await Task.Delay(TimeSpan.FromSeconds(4.5));
        var droppedAfter = (await h.Mixer.GetSoundDroppedLateAsync())["program"];
        var offsets = readers.ToDictionary(r => r.Key, r => BeepMinusFlashMs(r.Value, from));
        foreach (var (where, o) in offsets)
            output.WriteLine($"{where}: beep minus flash {string.Join(", ", o.Select(ms => $"{ms:F1}"))} ms");
        var (dropped, starved) = ((droppedAfter.Dropped - droppedBefore.Dropped).TotalMilliseconds, (droppedAfter.Starved - droppedBefore.Starved).TotalMilliseconds);
        output.WriteLine($"the bus dropped {dropped:F0} ms of its sound late ({starved:F0} ms for want of CPU)");

        foreach (var (where, o) in offsets) Assert.True(o.Count >= 3, $"{where}: only {o.Count} flash-and-beep pairs in 4.5 s");
        // The feed as any reader gets it: picture and sound agree to within a few samples.
        Assert.All(offsets["feed"], o => Assert.InRange(o, -5, 5));
        Assert.All(offsets["bus"], o => Assert.InRange(o, -40, 40));
        // Sound that comes late in bursts is still mixed, not thrown away (a beep cut short would also move its start).
        Assert.Equal(0, dropped - starved);
    }

    private static IReadOnlyList<double> BeepMinusFlashMs(OutputReader reader, DateTimeOffset from)
    {
        var flashes = AvSync.Flashes(reader.RecordedFrames, f => f.ColorAt(80, 25) is var (r, g, b) && r > 200 && g > 200 && b > 200);
        var beeps = AvSync.Beeps(reader.Audio.Since(from), reader.Audio.Channels, reader.Audio.Rate);
        return AvSync.OffsetsMs(flashes, beeps, Period);
    }
}
