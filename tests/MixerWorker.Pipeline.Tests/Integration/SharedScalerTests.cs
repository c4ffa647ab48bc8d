using MixerWorker.Pipeline.Builders;
using MixerWorker.Pipeline.Scene;
using MixerWorker.Testbed.Feeds;
using MixerWorker.Testbed.Imaging;
using Xunit;
using Xunit.Abstractions;
using static MixerWorker.Pipeline.Tests.Integration.MixHarness;

namespace MixerWorker.Pipeline.Tests.Integration;

/// <summary>
/// An input is scaled once per size, crop and fit, whatever the number of boxes and buses that show
/// it so: boxes share one scaler, a box that changes size moves to another, and the last box to
/// leave a scaler takes it down. Counted from the pipeline itself (its `videoscale` elements).
/// </summary>
public sealed class SharedScalerTests(ITestOutputHelper output)
{
    private static readonly FeedSpec A = FeedSpec.Numbered(0), B = FeedSpec.Numbered(1);
    private static bool Near((byte, byte, byte) c, FeedSpec f) => Colors.Near(c, f.Rgb);

    [Fact]
    public async Task Two_buses_showing_an_input_at_the_same_size_share_one_scaler_and_a_resized_box_moves_to_another()
    {
        // A at 160x90 on both buses (one scaler); B at 160x90 on Program and full frame on AUX1 (two).
        var program = Bus("program", 320, 180, At(A.Input, 0, 0, 160, 90), At(B.Input, 160, 0, 160, 90));
        var aux = Bus("aux1", 320, 180, At(B.Input, 0, 0, 320, 180), At(A.Input, 160, 90, 160, 90, z: 1));
        var scene = new SceneDefinition
        {
            Project = Project, Inputs = [new InputDefinition { Name = A.Input }, new InputDefinition { Name = B.Input }], Buses = [program, aux],
        };
        // No thumbnails: their scalers would be counted too.
        await using var h = await MixHarness.StartShowAsync(output, scene, [A, B], h => h.Options() with { ThumbnailInterval = TimeSpan.Zero });
        var onProgram = h.Read("program");
        var onAux = h.Read("aux1");
        await onProgram.WaitForFrameAsync(TimeSpan.FromSeconds(20), f => Near(f.ColorAt(80, 45), A) && Near(f.ColorAt(240, 45), B));
        await onAux.WaitForFrameAsync(TimeSpan.FromSeconds(20), f => Near(f.ColorAt(80, 45), B) && Near(f.ColorAt(240, 135), A));

        var scalers = await h.Mixer!.GetScalersAsync();
        Print("four boxes", scalers);
        Assert.Equal(3, scalers.ScalingElements);
        Assert.Equal(2, Assert.Single(scalers.Feeds, f => f.Source == A.Input).Boxes);
        Assert.Equal(1, Assert.Single(scalers.Feeds, f => f.Source == B.Input && f.Width == 160).Boxes);
        Assert.Equal(1, Assert.Single(scalers.Feeds, f => f.Source == B.Input && f.Width == 320).Boxes);
        await AssertEveryBoxI420AtItsSizeAsync(h, scene.Buses);

        // A cut on AUX1 to B alone at 160x90: its full-frame box is kept and resized, so it moves to the
        // scaler Program's B already uses, and the full-frame scaler goes with its last box; A's shared
        // scaler stays for Program.
        var small = At(B.Input, 160, 90, 160, 90);
        onProgram.StartRecordingFrames();
        await h.Mixer.ExecuteAsync(new SetLayoutCommand { Bus = "aux1", Shot = new Shot { Boxes = [small] } });
        await onAux.WaitForFrameAsync(TimeSpan.FromSeconds(10), f =>
            Near(f.ColorAt(240, 135), B) && Colors.IsBlack(f.ColorAt(80, 45)) && Colors.IsBlack(f.ColorAt(240, 45)));
        scalers = await h.Mixer.GetScalersAsync();
        Print("after the cut", scalers);
        Assert.Equal(2, scalers.ScalingElements);
        Assert.Equal(1, Assert.Single(scalers.Feeds, f => f.Source == A.Input).Boxes);
        var b = Assert.Single(scalers.Feeds, f => f.Source == B.Input);
        Assert.Equal((160, 90, 2), (b.Width, b.Height, b.Boxes));
        // Program never stopped showing both inputs while AUX1's boxes moved and a scaler went.
        Assert.NotEmpty(onProgram.RecordedFrames);
        Assert.All(onProgram.RecordedFrames, f => Assert.True(Near(f.ColorAt(80, 45), A) && Near(f.ColorAt(240, 45), B), "Program lost a picture"));
        await AssertEveryBoxI420AtItsSizeAsync(h, [program, aux with { Layout = [small] }]);
    }

    [Fact]
    public async Task A_bus_running_behind_holds_no_more_of_a_shared_scalers_pictures_than_its_queue_and_compositor_wait_for()
    {
        // cam-a at 160x90 on both buses: one shared scaler, whose pool keeps as many pictures as it ever had out at once.
        var a = MotionRig.Feed(0, 30, TimeSpan.Zero);
        var program = Bus("program", 320, 180, At(a.Input, 0, 0, 160, 90));
        var aux = Bus("aux1", 320, 180, At(a.Input, 0, 0, 160, 90));
        var scene = new SceneDefinition { Project = Project, Inputs = [new InputDefinition { Name = a.Input }], Buses = [program, aux] };
        await using var h = new MixHarness(output);
        var options = h.Options() with { ThumbnailInterval = TimeSpan.Zero };
        var mixer = await h.StartMixerAsync(scene, options);
        // AUX1 runs behind from the start: its compositor is held on every frame, so its box's queue and compositor pad
        // stay full. Meanwhile the input goes live, off air and live again: each time its pictures come in a new segment,
        // across which a queue misreads how long it is.
        using var stall = await mixer.StallBusAsync("aux1", Held);
        var (count, pictures) = await mixer.CountScaledPicturesAsync(a.Input, 160, 90);
        using var counting = count;
        var feed = h.StartFeed(a);
        await h.Log.WaitForAsync($"input {a.Input} is live");
        await Task.Delay(TimeSpan.FromSeconds(2));
        feed.Dispose();
        await h.Log.WaitForAsync($"input {a.Input} is off air");
        h.StartFeed(a);
        await h.Log.WaitForAsync($"input {a.Input} is live", 2);
        await Task.Delay(TimeSpan.FromSeconds(3));

        // Each bus holds at most what its box's queue waits for (BoxBranch.QueuedPictures) and what its compositor pad
        // takes (the compositor's wait, two more, and the one it draws), Program ahead and AUX1 behind. Counted by the
        // buffers the pool hands out, which also counts a picture the pool threw away and made again.
        var frameNs = 1e9 / program.Format.Fps;
        var waitNs = (options.InputJitter + options.MixerLatency).TotalNanoseconds;
        var perBus = BoxBranch.QueuedPictures((ulong)waitNs + 100_000_000, frameNs) + (int)Math.Ceiling(waitNs / frameNs) + 3;
        output.WriteLine($"the shared scaler had {pictures()} pictures out; {perBus} per bus allowed");
        Assert.InRange(pictures(), 1, 2 * perBus);
    }

    private static readonly TimeSpan Held = TimeSpan.FromMilliseconds(50);

    // Every box is scaled to I420 at its own size and reaches its compositor as I420 (no second conversion).
    private async Task AssertEveryBoxI420AtItsSizeAsync(MixHarness h, IReadOnlyList<BusDefinition> buses)
    {
        var caps = await h.Mixer!.GetBoxCapsAsync();
        for (var deadline = DateTime.UtcNow.AddSeconds(10); DateTime.UtcNow < deadline; caps = await h.Mixer.GetBoxCapsAsync())
        {
            if (caps.Values.All(boxes => boxes.All(c => c.Scaled is not null && c.Mixed is not null))) break;
            await Task.Delay(100);
        }
        foreach (var bus in buses)
        {
            Assert.Equal(bus.Layout.Count, caps[bus.Name].Count);
            foreach (var box in bus.Layout)
            {
                output.WriteLine($"{bus.Name} {box.Source} {box.Width}x{box.Height}: {string.Join(" | ", caps[bus.Name].Select(c => c.Scaled))}");
                Assert.Contains(caps[bus.Name], c => c.Source == box.Source && c.Scaled is { } s && s.Contains("format=(string)I420")
                    && s.Contains($"width=(int){box.Width},") && s.Contains($"height=(int){box.Height},") && c.Mixed!.Contains("format=(string)I420"));
            }
        }
    }

    private void Print(string when, ScalerReport report)
    {
        output.WriteLine($"{when}: {report.ScalingElements} videoscale");
        foreach (var f in report.Feeds) output.WriteLine($"  {f.Source} {f.Width}x{f.Height}: {f.Boxes} boxes");
    }
}
