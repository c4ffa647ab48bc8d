using MixerWorker.Pipeline.Engine;
using MixerWorker.Pipeline.Scene;
using MixerWorker.Testbed.Feeds;
using MixerWorker.Testbed.Stamps;
using Xunit;
using Xunit.Abstractions;
using static MixerWorker.Pipeline.Tests.Integration.MixHarness;

namespace MixerWorker.Pipeline.Tests.Integration;

/// <summary>
/// Issue 9, "Program is protected before AUX buses": while Program is short of time the AUX buses
/// make fewer frames (Engine/LoadShedding), and what only they use stops working for the frames they
/// no longer make. Program is made short of time for real and deterministically: its compositor is
/// held 50 ms on every frame, so it makes at most 20 frames a second and drops the ones that come too
/// late (it delivered 5-10 of 30), as a Program short of CPU does, whatever else the test machine runs.
/// </summary>
public sealed class LoadSheddingTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Stalled = TimeSpan.FromMilliseconds(50);
    private const string ShortOfTime = "program is short of time", KeepsUp = "program keeps up again";
    // Once Program is no longer short of time: the shortage leaves LoadShedding's window (2 s), and then a
    // step comes back every FirstWait (3 s) of calm, four steps from the last level; and slack for a loaded machine.
    private static readonly TimeSpan BackWithin = TimeSpan.FromSeconds(20), NowAndThen = TimeSpan.FromSeconds(2.5);

    [Fact]
    public async Task Program_counts_as_short_of_time_only_once_it_shows_an_input()
    {
        var a = MotionRig.Feed(0, 30, TimeSpan.Zero);
        var scene = new SceneDefinition
        {
            Project = Project, Inputs = [new InputDefinition { Name = a.Input }],
            Buses = [Bus("program", 320, 180, At(a.Input, 0, 0, 320, 180)), Bus("aux1", 320, 180, At(a.Input, 0, 0, 160, 90))],
        };
        await using var h = new MixHarness(output);
        var mixer = await h.StartMixerAsync(scene);
        // On air with its background and "no signal" card only: the input has not published yet.
        await WaitUntilAsync(async () => (await mixer.GetStatusAsync()).Buses["program"].FramesOut >= 60, TimeSpan.FromSeconds(20), "program made no frames");
        using var stall = await mixer.StallBusAsync("program", Stalled);
        await Task.Delay(TimeSpan.FromSeconds(4));
        var lateness = (await mixer.GetStatusAsync()).Buses["program"].Lateness;
        output.WriteLine($"program before any input: {lateness}");

        // Program dropped frames of its start-up picture, and the AUX buses were not made to give way for it
        // (before: "program is short of time" within 2 s, every AUX bus shed).
        Assert.True(lateness?.DroppedFrames > 0, $"the held compositor dropped no frame: {lateness}");
        Assert.DoesNotContain(h.Log.Lines, l => l.Contains(ShortOfTime, StringComparison.Ordinal));

        // The same lateness once Program shows its input is pressure.
        h.StartFeed(a);
        await WaitUntilAsync(() => Task.FromResult(h.Log.Lines.Any(l => l.Contains(ShortOfTime, StringComparison.Ordinal))), TimeSpan.FromSeconds(30),
            "program showing its input and dropping frames never counted as short of time");
    }

    [Fact]
    public async Task A_scaler_that_only_shedding_aux_buses_use_scales_only_the_pictures_they_show()
    {
        // cam-b only on AUX1 (its scaler serves no other bus); cam-a on Program.
        FeedSpec a = MotionRig.Feed(0, 30, TimeSpan.Zero), b = MotionRig.Feed(1, 30, TimeSpan.Zero);
        var program = Bus("program", 320, 180, At(a.Input, 0, 0, 320, 180));
        var aux = Bus("aux1", 320, 180, At(b.Input, 0, 0, 320, 180));
        var scene = new SceneDefinition { Project = Project, Inputs = [.. new[] { a, b }.Select(f => new InputDefinition { Name = f.Input })], Buses = [program, aux] };
        await using var h = await MixHarness.StartShowAsync(output, scene, [a, b]);
        var mixer = h.Mixer!;
        var auxBoxes = StampBoxes.Of(aux, _ => (b.Width, b.Height, b.Fps));
        var onAux = h.Read("aux1", stamps: auxBoxes);
        await onAux.WaitForStampsAsync(TimeSpan.FromSeconds(20));

        // AUX1's box while it makes every frame: how old its pictures are at the reader.
        await Task.Delay(TimeSpan.FromSeconds(1));
        onAux.ClearStamps();
        await Task.Delay(TimeSpan.FromSeconds(3));
        var unshed = StampAnalysis.Analyse(onAux.StampedFrames, auxBoxes, 30).Boxes.Single();

        // Program short of time: the AUX buses shed one step a second, to one frame in 15.
        using var stall = await mixer.StallBusAsync("program", Stalled);
        await Task.Delay(TimeSpan.FromSeconds(6));
        long scaledA = 0, scaledB = 0;
        using var watchA = await mixer.WatchScalerAsync(a.Input, 320, 180, () => Interlocked.Increment(ref scaledA));
        using var watchB = await mixer.WatchScalerAsync(b.Input, 320, 180, () => Interlocked.Increment(ref scaledB));
        var deliveredBefore = (await mixer.GetStatusAsync()).Buses["aux1"].FramesOut;
        onAux.ClearStamps();
        var measured = TimeSpan.FromSeconds(4);
        await Task.Delay(measured);
        var (pictures, delivered) = (Interlocked.Read(ref scaledB), (await mixer.GetStatusAsync()).Buses["aux1"].FramesOut - deliveredBefore);
        var programScaled = Interlocked.Read(ref scaledA);
        var shed = StampAnalysis.Analyse(onAux.StampedFrames, auxBoxes, 30).Boxes.Single();
        var inputPictures = (int)(b.Fps * measured.TotalSeconds);
        var figures = $"in {measured.TotalSeconds} s AUX1's scaler scaled {pictures} of {inputPictures} pictures, AUX1 delivered {delivered} frames, " +
            $"Program's scaler scaled {programScaled}; AUX1's box (capture to first packet at p95) {unshed.LagP95:0} ms unshed, {shed.LagP95:0} ms shed; unshed: {unshed}; shed: {shed}";
        output.WriteLine(figures);

        // AUX1 shed (at most one frame in 3), and its scaler scaled about what it showed, not every
        // picture of its input (before: all of them, about 120, for some 8 frames delivered).
        Assert.True(delivered > 0 && delivered <= inputPictures / 3, $"AUX1 did not shed: {figures}");
        Assert.True(pictures <= inputPictures / 3, $"the AUX-only scaler scaled pictures no bus showed: {figures}");
        // Program's scaler still scales every picture (half, for a busy test machine).
        Assert.True(programScaled >= inputPictures / 2, $"Program's scaler lost pictures: {figures}");
        // What AUX1 still delivers shows new pictures, no older than before it shed by more than issue 9
        // allows a bus (two of its frame intervals, 1 s at the 2 fps it delivers): the pictures scaled
        // are the ones its frames show, or its box would freeze.
        var allowedMs = 2 * 1000 * measured.TotalSeconds / Math.Max(1, delivered);
        Assert.True(shed.LatencyMs.Count >= delivered / 2, $"AUX1's box froze: {figures}");
        Assert.True(shed.LagP95 <= unshed.LagP95 + allowedMs, $"AUX1's box shows pictures older than {allowedMs:0} ms past its unshed p95: {figures}");
    }

    /// <summary>
    /// Issue 9: the AUX buses give way while Program is short of time for good, and come back to every
    /// frame when Program is only late now and then on a machine that can carry them. Before, a late
    /// Program frame every couple of seconds (machine noise) held them shed for good: any late frame
    /// counted as pressure, and they gave a step back only after 3 s without one.
    /// </summary>
    [Fact]
    public async Task Aux_buses_stay_shed_while_program_is_short_of_time_and_come_back_once_it_is_only_late_now_and_then()
    {
        var a = FeedSpec.Numbered(0) with { MuxDelay = TimeSpan.Zero };
        var scene = new SceneDefinition
        {
            Project = Project, Inputs = [new InputDefinition { Name = a.Input }],
            Buses = [Bus("program", 320, 180, At(a.Input, 0, 0, 320, 180)), Bus("aux1", 320, 180, At(a.Input, 0, 0, 160, 90))],
        };
        await using var h = await MixHarness.StartShowAsync(output, scene, [a]);
        var mixer = h.Mixer!;
        async Task<(long Aux, long ProgramDropped)> CountAsync() => (await mixer.GetStatusAsync()).Buses is var b
            ? (b["aux1"].FramesOut, b["program"].Lateness?.DroppedFrames ?? 0) : default;
        async Task<double> AuxFpsOverAsync(TimeSpan span)
        {
            var before = (await CountAsync()).Aux;
            await Task.Delay(span);
            return ((await CountAsync()).Aux - before) / span.TotalSeconds;
        }
        int Lines(string text) => h.Log.Lines.Count(l => l.Contains(text, StringComparison.Ordinal));

        async Task<(SheddingStatus? Project, BusLateness? Aux, BusLateness? Program)> SheddingAsync() => await mixer.GetStatusAsync() is var st
            ? (st.Shedding, st.Buses["aux1"].Lateness, st.Buses["program"].Lateness) : default;
        // Before the fault (a loaded test machine may have shed already at start-up): the project and aux1 agree.
        var calm = await SheddingAsync();
        output.WriteLine($"before: {calm}");
        Assert.Equal((calm.Project?.Level > 0, calm.Project?.ShedEvery, calm.Project?.Since), (calm.Aux?.Shed, calm.Aux?.ShedEvery, calm.Aux?.ShedSince));

        // Short of time for good: every frame held 50 ms. The AUX buses shed to the last step and stay there.
        var stalledFrom = DateTimeOffset.UtcNow;
        using (await mixer.StallBusAsync("program", Stalled))
        {
            await WaitUntilAsync(() => Task.FromResult(Lines(ShortOfTime) > 0), TimeSpan.FromSeconds(10), "program held on every frame never counted as short of time");
            await Task.Delay(TimeSpan.FromSeconds(5));
            var shedFps = await AuxFpsOverAsync(TimeSpan.FromSeconds(10));
            output.WriteLine($"aux1 while program is short of time: {shedFps:0.0} fps");
            Assert.True(shedFps <= 10, $"aux1 made {shedFps:0.0} fps while program was short of time for good");
            Assert.Equal(0, Lines(KeepsUp));
            // The status says so: the project at its last step since the stall, an episode counted for each warning
            // logged; aux1 shed as far, Program not.
            var shed = await SheddingAsync();
            output.WriteLine($"shed: {shed}");
            Assert.Equal((LoadShedding.Levels.Length - 1, LoadShedding.Levels[^1], (long)Lines(ShortOfTime)), (shed.Project?.Level, shed.Project?.ShedEvery, shed.Project?.Episodes));
            Assert.InRange(shed.Project?.Since ?? default, calm.Project?.Since ?? stalledFrom, DateTimeOffset.UtcNow);
            Assert.Equal((true, LoadShedding.Levels[^1], shed.Project?.Since), (shed.Aux?.Shed, shed.Aux?.ShedEvery, shed.Aux?.ShedSince));
            Assert.Equal((false, 1), (shed.Program?.Shed, shed.Program?.ShedEvery));
            Assert.InRange(shed.Aux?.DeliveredFps ?? -1, 0, 10);
        }

        // Late now and then: one frame held 300 ms every 2.5 s (the frames of those 300 ms late or skipped
        // at once, as a host's steal does), which no shedding of the AUX buses helps with. A hold of 100 ms
        // cost Program nothing: its frames are made ahead of their deadline while its input keeps time.
        var droppedBefore = (await CountAsync()).ProgramDropped;
        var calmFrom = DateTime.UtcNow;
        using var nowAndThen = await mixer.StallBusAsync("program", TimeSpan.FromMilliseconds(300), NowAndThen);
        await WaitUntilAsync(() => Task.FromResult(Lines(KeepsUp) > 0), BackWithin, $"aux1 not back to every frame {BackWithin.TotalSeconds} s after program became only late now and then");
        output.WriteLine($"aux1 back to every frame after {(DateTime.UtcNow - calmFrom).TotalSeconds:0.0} s");
        var shortBefore = Lines(ShortOfTime);
        var backFps = await AuxFpsOverAsync(TimeSpan.FromSeconds(8));
        var (dropped, holds) = ((await CountAsync()).ProgramDropped - droppedBefore, (int)((DateTime.UtcNow - calmFrom) / NowAndThen));
        output.WriteLine($"aux1 once back: {backFps:0.0} fps; program dropped {dropped} frames in {holds} holds since it became late now and then");
        // The fault was real: program dropped frames at half its holds or more; and aux1 stays at every frame.
        Assert.True(dropped >= holds / 2, $"program dropped {dropped} frames in {holds} holds");
        Assert.True(backFps >= 27, $"aux1 back at {backFps:0.0} fps");
        Assert.Equal(shortBefore, Lines(ShortOfTime));
        // And the status with it: nothing shed, no episode since.
        var back = await SheddingAsync();
        output.WriteLine($"back: {back}");
        Assert.Equal((0, 1, (long)shortBefore, (DateTimeOffset?)null), (back.Project?.Level, back.Project?.ShedEvery, back.Project?.Episodes, back.Project?.Since));
        Assert.Equal((false, 1, (DateTimeOffset?)null), (back.Aux?.Shed, back.Aux?.ShedEvery, back.Aux?.ShedSince));
    }

    private static async Task WaitUntilAsync(Func<Task<bool>> condition, TimeSpan timeout, string failure)
    {
        for (var deadline = DateTime.UtcNow + timeout; !await condition(); await Task.Delay(100))
            Assert.True(DateTime.UtcNow < deadline, failure);
    }
}
