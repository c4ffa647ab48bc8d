using MixerWorker.Pipeline.Scene;
using MixerWorker.Testbed.Feeds;
using MixerWorker.Testbed.Imaging;
using MixerWorker.Testbed.Reading;
using MixerWorker.Testbed.Timing;
using Xunit;
using Xunit.Abstractions;
using static MixerWorker.Pipeline.Tests.Integration.MixHarness;

namespace MixerWorker.Pipeline.Tests.Integration;

/// <summary>
/// Program/preview and transitions, read back frame by frame: a transition is timed by the output's
/// running time, so its frames can be counted and each one's mix measured from two known colours.
/// </summary>
public sealed class TransitionTests(ITestOutputHelper output)
{
    private static readonly FeedSpec A = FeedSpec.Numbered(0), B = FeedSpec.Numbered(1);
    private const int W = 160, H = 90;

    private static SceneDefinition Scene() => new()
    {
        Project = Project,
        Inputs = [new InputDefinition { Name = A.Input }, new InputDefinition { Name = B.Input }],
        Buses = [Bus("program", W, H, At(A.Input, 0, 0, W, H)) with { Preview = new Shot { Boxes = [At(B.Input, 0, 0, W, H)] } }],
    };

    private async Task<(MixHarness Harness, OutputReader Program)> StartAsync()
    {
        var h = await MixHarness.StartShowAsync(output, Scene(), [A, B]);
        try
        {
            var program = h.Read("program");
            await program.WaitForFrameAsync(TimeSpan.FromSeconds(20), f => Colors.Near(f.ColorAt(W / 2, H / 2), A.Rgb));
            // Both inputs live, so that the transition below starts at once.
            await WaitUntilAsync(async () => (await h.Mixer!.GetStatusAsync()).Inputs.Values.All(i => i.State == Engine.ConnectionState.Connected));
            return (h, program);
        }
        catch
        {
            await h.DisposeAsync();
            throw;
        }
    }

    private static async Task WaitUntilAsync(Func<Task<bool>> condition, double seconds = 15)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException("condition not reached");
            await Task.Delay(50);
        }
    }

    /// <summary>Where a colour lies on the line from <paramref name="from"/> to <paramref name="to"/>: 0 at from, 1 at to.</summary>
    private static double MixOf((byte R, byte G, byte B) c, (byte R, byte G, byte B) from, (byte R, byte G, byte B) to)
    {
        double dr = to.R - from.R, dg = to.G - from.G, db = to.B - from.B;
        return ((c.R - from.R) * dr + (c.G - from.G) * dg + (c.B - from.B) * db) / (dr * dr + dg * dg + db * db);
    }

    /// <summary>
    /// A sweep of the centre from A's colour to <paramref name="to"/> in the recorded frames: how many frame intervals it
    /// took and the share of the way each frame in between was, which must never go back. Timed by the stream's own
    /// clock, so a frame the reader dropped under load does not count against the engine: from the last picture of A
    /// to the first at <paramref name="to"/> is the sweep's length.
    /// </summary>
    private (double Steps, List<double> Between) Sweep(OutputReader program, (byte R, byte G, byte B) to, string what)
    {
        var frames = InOrder(program).Select(f => (f.Pts!.Value, Share: MixOf(f.ColorAt(W / 2, H / 2, 6), A.Rgb, to))).ToList();
        output.WriteLine($"{what}: " + string.Join(" ", frames.Select(f => f.Share.ToString("F2"))));
        var lastA = frames.Last(f => f.Share < 0.05).Value;
        var arrived = frames.First(f => f.Value > lastA && f.Share > 0.95).Value;
        var steps = Math.Round((arrived - lastA) / (1e9 / 30));
        var between = frames.Where(f => f.Value > lastA && f.Value < arrived).Select(f => f.Share).ToList();
        output.WriteLine($"{what}: {steps} frame intervals, {between.Count} intermediate frames read");
        for (var i = 1; i < between.Count; i++) Assert.True(between[i] >= between[i - 1] - 0.04, $"{what} went back from {between[i - 1]:F2} to {between[i]:F2}");
        return (steps, between);
    }

    // The frames a sweep made between its two shots. A bus short of CPU drops the frames it cannot make in time
    // (LatenessGuard), so where the machine did not deliver a sweep is held to what no shortage explains: a frame in
    // between at all (a sweep, not a cut); that it never goes back is checked whatever the machine did (Sweep).
    private void AssertFramesBetween(MachineShare machine, List<double> between, int least, string? notSwept = null) =>
        DeliveryVerdict.Judge(output, machine, strict: () =>
        {
            Assert.True(between.Count >= least, $"only {between.Count} intermediate frames");
            if (notSwept is not null) Assert.True(between[^1] - between[0] > 0.6, notSwept);
        }, live: () => Assert.True(between.Count > 0, "no intermediate frame: a cut, not a sweep"));

    private static List<RgbFrame> InOrder(OutputReader reader) => [.. reader.RecordedFrames.Where(f => f.Pts is not null).OrderBy(f => f.Pts)];

    [Fact]
    public async Task A_500_ms_mix_takes_15_frames_with_alpha_rising_and_swaps_program_and_preview()
    {
        DeliveryVerdict.Calibrate(output);
        var (h, program) = await StartAsync();
        await using var _ = h;
        program.StartRecordingFrames();
        await Task.Delay(300);

        var from = MachineShare.NowWithProbes();
        var next = await h.Mixer!.ExecuteAsync(new AutoCommand { Bus = "program", Transition = new TransitionSpec { Kind = TransitionKind.Mix, DurationMs = 500 } });
        await program.WaitForFrameAsync(TimeSpan.FromSeconds(5), f => Colors.Near(f.ColorAt(W / 2, H / 2), B.Rgb));
        await Task.Delay(500);
        var machine = MachineShare.Since(from);

        var (steps, between) = Sweep(program, B.Rgb, "mix from A to B");
        Assert.InRange(steps, 14, 16);
        AssertFramesBetween(machine, between, least: 10, "the mix did not sweep from one shot to the other");

        Assert.Equal(B.Input, next.FindBus("program")!.ProgramBoxes().Single().Source);
        Assert.Equal(A.Input, next.FindBus("program")!.Preview!.Boxes.Single().Source);
        var tally = await h.Mixer.GetTallyAsync();
        Assert.Equal([B.Input], tally.Buses["program"].OnAir);
        Assert.Equal([A.Input], tally.Buses["program"].Preview);
    }

    [Fact]
    public async Task A_wipe_edge_sweeps_across_the_frame_and_a_push_moves_both_pictures()
    {
        DeliveryVerdict.Calibrate(output);
        var (h, program) = await StartAsync();
        await using var _ = h;
        program.StartRecordingFrames();
        var from = MachineShare.NowWithProbes();
        await h.Mixer!.ExecuteAsync(new AutoCommand { Bus = "program", Transition = new TransitionSpec { Kind = TransitionKind.Wipe, DurationMs = 600, Direction = Direction.Right } });
        await program.WaitForFrameAsync(TimeSpan.FromSeconds(5), f => Colors.Near(f.ColorAt(W - 4, H / 2), B.Rgb) && Colors.Near(f.ColorAt(4, H / 2), B.Rgb));
        await Task.Delay(300);
        var machine = MachineShare.Since(from);

        // The edge: how far from the left the incoming picture (B) reaches.
        var frames = InOrder(program).Select(f => (Pts: f.Pts!.Value, Edge: Enumerable.Range(0, W / 4).TakeWhile(i => Colors.Near(f.ColorAt(i * 4 + 2, H / 2, 1), B.Rgb)).Count() * 4)).ToList();
        var edges = frames.Select(f => f.Edge).ToList();
        output.WriteLine("wipe edges: " + string.Join(" ", edges));
        // The middle row every 4 px (B incoming, A outgoing, k background, ? neither), to tell a late picture from a gap.
        foreach (var f in InOrder(program))
            output.WriteLine($"{f.Pts / 1_000_000} ms: " + string.Concat(Enumerable.Range(0, W / 4).Select(i => f.ColorAt(i * 4 + 2, H / 2, 1) switch
            {
                var c when Colors.Near(c, B.Rgb) => 'B',
                var c when Colors.Near(c, A.Rgb) => 'A',
                var c when Colors.IsBlack(c) => 'k',
                _ => '?',
            })));
        var moving = edges.Where(e => e is > 0 and < W).ToList();
        // A bus short of CPU drops the frames it cannot make in time (at 0.3 core: none in the 1.4 s the wipe ran), and a
        // box whose input's pictures come late keeps its last one, cut for an earlier frame, until the next jumps ahead
        // (the edge steps back); so where the machine did not deliver, the wipe is held to what no shortage explains:
        // frames made while it ran, none with the edge inside.
        DeliveryVerdict.Judge(output, machine, strict: () =>
        {
            for (var i = 1; i < moving.Count; i++) Assert.True(moving[i] >= moving[i - 1], $"the edge went back from {moving[i - 1]} to {moving[i]}");
            Assert.True(moving.Count >= 10, $"only {moving.Count} frames with the edge inside the picture");
            Assert.True(moving.Distinct().Count() >= 8, "the edge did not move smoothly");
            // 600 ms at 30 fps moves the edge about 9 px a frame: a late start would skip the first steps.
            // Counted by the stream's clock from the last picture without the edge, so that pictures the
            // reader dropped on a loaded machine do not count against the engine.
            var first = edges.FindIndex(e => e is > 0 and < W);
            var intervals = first > 0 ? Math.Max(1, Math.Round((frames[first].Pts - frames[first - 1].Pts) / (1e9 / 30))) : 1;
            Assert.True(moving[0] <= 20 + (intervals - 1) * W / 18.0, $"the wipe started late, its first edge was at {moving[0]} px, {intervals} frame interval(s) after the last picture without it");
        }, live: () =>
        {
            if (moving.Count > 0) return;
            var arrived = frames.FindIndex(f => f.Edge == W);
            var before = frames.Take(Math.Max(0, arrived)).LastOrDefault(f => f.Edge == 0);
            Assert.True(arrived > 0 && before.Pts > 0, $"no picture without the edge before one with the whole of B: {string.Join(" ", edges)}");
            var spanMs = (frames[arrived].Pts - before.Pts) / 1e6;
            Assert.True(spanMs >= 600 - 2 * 1000.0 / 30, $"a cut, not a wipe: {spanMs:F0} ms from the last picture without the edge to the first with the whole of B, none between with the edge inside");
        });

        // Push left: B is on air now, A comes in from the right and pushes B out to the left.
        program.StartRecordingFrames();
        await h.Mixer.ExecuteAsync(new AutoCommand { Bus = "program", Transition = new TransitionSpec { Kind = TransitionKind.Push, DurationMs = 600, Direction = Direction.Left } });
        await program.WaitForFrameAsync(TimeSpan.FromSeconds(5), f => Colors.Near(f.ColorAt(4, H / 2), A.Rgb));
        var halfway = InOrder(program).Any(f => Colors.Near(f.ColorAt(10, H / 2), B.Rgb) && Colors.Near(f.ColorAt(W - 10, H / 2), A.Rgb));
        Assert.True(halfway, "no frame showed B leaving on the left while A came in on the right");

        // A 4 s wipe back to B, cut short halfway: the box it keeps is whole at once and stays whole
        // (pictures are cut only while a wipe runs; what it cut last must not stay).
        var whole = (RgbFrame f) => Colors.Near(f.ColorAt(4, H / 2), B.Rgb) && Colors.Near(f.ColorAt(W - 4, H / 2), B.Rgb);
        await h.Mixer.ExecuteAsync(new AutoCommand { Bus = "program", Transition = new TransitionSpec { Kind = TransitionKind.Wipe, DurationMs = 4000, Direction = Direction.Right } });
        await program.WaitForFrameAsync(TimeSpan.FromSeconds(5), f => Colors.Near(f.ColorAt(4, H / 2), B.Rgb) && Colors.Near(f.ColorAt(W - 4, H / 2), A.Rgb));
        await h.Mixer.ExecuteAsync(new CutCommand { Bus = "program" });
        await program.WaitForFrameAsync(TimeSpan.FromSeconds(2), whole);
        program.StartRecordingFrames();
        await Task.Delay(500);
        Assert.All(InOrder(program), f => Assert.True(whole(f), $"after the wipe was cut short saw {f.ColorAt(4, H / 2)} at the left, {f.ColorAt(W - 4, H / 2)} at the right"));
    }

    [Fact]
    public async Task A_fade_to_black_darkens_over_its_length_and_a_white_dip_passes_through_white_with_no_veil_making_pictures_per_frame()
    {
        DeliveryVerdict.Calibrate(output);
        var (h, program) = await StartAsync();
        await using var _ = h;
        var centre = (RgbFrame f) => f.ColorAt(W / 2, H / 2, 6);
        (byte, byte, byte) black = (0, 0, 0), white = (255, 255, 255);

        // Each veil is one still picture the compositor keeps: no thread of a veil runs while the bus plays on.
        var before = VeilThreadRuns();
        await Task.Delay(1500);
        var veilRuns = VeilThreadRuns() - before;
        output.WriteLine($"veil threads ran {veilRuns} times in 1.5 s");
        Assert.True(veilRuns < 5, $"a veil's thread ran {veilRuns} times in 1.5 s (a live veil source runs about 45)");

        program.StartRecordingFrames();
        var from = MachineShare.NowWithProbes();
        await h.Mixer!.ExecuteAsync(new FadeToBlackCommand { Bus = "program", DurationMs = 600 });
        await program.WaitForFrameAsync(TimeSpan.FromSeconds(5), f => Colors.IsBlack(centre(f)));
        await Task.Delay(300);
        var machine = MachineShare.Since(from);
        var (steps, between) = Sweep(program, black, "fade to black");
        Assert.InRange(steps, 17, 19);
        AssertFramesBetween(machine, between, least: 12);

        await h.Mixer.ExecuteAsync(new FadeToBlackCommand { Bus = "program", DurationMs = 300 });
        await program.WaitForFrameAsync(TimeSpan.FromSeconds(5), f => Colors.Near(centre(f), A.Rgb));
        program.StartRecordingFrames();
        await h.Mixer.ExecuteAsync(new AutoCommand { Bus = "program", Transition = new TransitionSpec { Kind = TransitionKind.Dip, DurationMs = 600, Color = DipColor.White } });
        await program.WaitForFrameAsync(TimeSpan.FromSeconds(5), f => Colors.Near(centre(f), B.Rgb));
        var dip = InOrder(program).Select(f => centre(f)).ToList();
        output.WriteLine("white dip: " + string.Join(" ", dip.Select(c => MixOf(c, A.Rgb, white).ToString("F2"))));
        Assert.Contains(dip, c => Colors.Near(c, white, 20));
        Assert.DoesNotContain(dip, c => Colors.IsBlack(c));
    }

    // How often the threads of the process named after a veil's elements ran (schedstat's timeslices).
    private static long VeilThreadRuns()
    {
        long runs = 0;
        foreach (var task in Directory.EnumerateDirectories("/proc/self/task"))
        {
            try
            {
                if (!File.ReadAllText(Path.Combine(task, "comm")).StartsWith("veil.", StringComparison.Ordinal)) continue;
                runs += long.Parse(File.ReadAllText(Path.Combine(task, "schedstat")).Split(' ')[2], System.Globalization.CultureInfo.InvariantCulture);
            }
            catch (IOException) { } // the thread ended meanwhile
        }
        return runs;
    }

    [Fact]
    public async Task Dip_passes_through_black_fade_to_black_ends_black_and_a_cut_during_a_mix_lands_on_the_incoming_shot()
    {
        var (h, program) = await StartAsync();
        await using var _ = h;
        var centre = (RgbFrame f) => f.ColorAt(W / 2, H / 2, 6);

        program.StartRecordingFrames();
        await h.Mixer!.ExecuteAsync(new AutoCommand { Bus = "program", Transition = new TransitionSpec { Kind = TransitionKind.Dip, DurationMs = 600, Color = DipColor.Black } });
        await program.WaitForFrameAsync(TimeSpan.FromSeconds(5), f => Colors.Near(centre(f), B.Rgb));
        Assert.Contains(InOrder(program), f => Colors.IsBlack(centre(f)));

        await h.Mixer.ExecuteAsync(new FadeToBlackCommand { Bus = "program", DurationMs = 300 });
        await program.WaitForFrameAsync(TimeSpan.FromSeconds(5), f => Colors.IsBlack(centre(f)));
        program.StartRecordingFrames();
        await Task.Delay(600);
        Assert.All(InOrder(program), f => Assert.True(Colors.IsBlack(centre(f)), $"faded to black but saw {centre(f)}"));
        await h.Mixer.ExecuteAsync(new FadeToBlackCommand { Bus = "program", DurationMs = 300 });
        await program.WaitForFrameAsync(TimeSpan.FromSeconds(5), f => Colors.Near(centre(f), B.Rgb));

        // A 4 s mix back to A, cut short: the cut finishes it on A at once and the preview stays B.
        await h.Mixer.ExecuteAsync(new AutoCommand { Bus = "program", Transition = new TransitionSpec { Kind = TransitionKind.Mix, DurationMs = 4000 } });
        await program.WaitForFrameAsync(TimeSpan.FromSeconds(5), f => MixOf(centre(f), B.Rgb, A.Rgb) is > 0.1 and < 0.5);
        var cutAt = DateTimeOffset.UtcNow;
        var after = await h.Mixer.ExecuteAsync(new CutCommand { Bus = "program" });
        var landed = await program.WaitForFrameAsync(TimeSpan.FromSeconds(2), f => Colors.Near(centre(f), A.Rgb));
        output.WriteLine($"cut landed after {(landed.At - cutAt).TotalMilliseconds:F0} ms");
        Assert.Equal(A.Input, after.FindBus("program")!.ProgramBoxes().Single().Source);
        program.StartRecordingFrames();
        await Task.Delay(500);
        Assert.All(InOrder(program), f => Assert.True(Colors.Near(centre(f), A.Rgb), $"after the cut saw {centre(f)}"));
        Assert.False((await h.Mixer.GetTallyAsync()).IsOnAir("program", B.Input));
    }
}
