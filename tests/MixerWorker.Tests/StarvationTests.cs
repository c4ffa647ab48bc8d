using MixerWorker.Pipeline.Engine;
using MixerWorker.Pipeline.Scene;
using MixerWorker.Testbed.Feeds;
using MixerWorker.Testbed.Stamps;
using MixerWorker.Testbed.Timing;
using Xunit;
using Xunit.Abstractions;
using static MixerWorker.Tests.WorkerHarness;

namespace MixerWorker.Tests;

/// <summary>
/// The starvation cases run alone: each measures what the worker needs and then starves it to a share
/// of that, and other test classes' workers on the same two cores made that figure swing by a factor
/// of two or more (a CI run reached its floor with no bus dropping a frame).
/// </summary>
[CollectionDefinition(nameof(StarvationTests), DisableParallelization = true)]
public sealed class StarvationCollection;

/// <summary>
/// Issue 9, lateness bounded: a worker starved of CPU for real (a CPU quota below what it uses,
/// <see cref="CpuStarvation"/>) drops frames instead of falling behind. Measured at readers of every
/// bus by the feeds' stamps: no bus's delay grows, Program keeps more frames than the AUX buses, and
/// the drop is reported in the status and the log.
/// </summary>
[Collection(nameof(StarvationTests))]
public sealed class StarvationTests(ITestOutputHelper output)
{
    // Each depth starts just below what the worker needs once started and comes down by 6 % of the
    // quota every few seconds until the buses show the depth (a bus drops frames; every AUX bus at 15
    // fps or less; at 5 fps or less), and stays there. The depth is found by what the buses do, not by
    // a fixed share of that need: the figure varies by a quarter from run to run, and by a factor of two
    // or more where other work shares the cores (a worker that is already shedding needs less), so
    // fixed shares landed either short of any drop or far past the depth a case is about (Program
    // itself past its bound at 24 % of a core). The floor is a share of a core for the same reason, and
    // the least a CPU quota takes (1 ms of each 20 ms period): a worker that sheds cheaply needs little
    // (17 % of a core here, where 15 % was the floor once and every bus then kept 30 fps).
    private sealed record Depth(TimeSpan StepEvery, double? AuxFps);
    private static readonly Depth Moderate = new(TimeSpan.FromSeconds(2), null);
    private static readonly Depth Deep = new(TimeSpan.FromSeconds(3), 15);
    private static readonly Depth Deeper = new(TimeSpan.FromSeconds(3), 5);
    private const double FirstShare = 0.95, Step = 0.94, LowestCoreShare = 0.05;
    // For comparing two builds at one depth (bench/results): a build that sheds sooner reaches a case's
    // depth at a larger quota, so the search would starve it less, and the need read before starving
    // varies by a quarter from run to run. Set, the quota is this share of a core at once, no search.
    private static readonly double? FixedQuota =
        double.TryParse(Environment.GetEnvironmentVariable("STARVATION_QUOTA_CORES"), System.Globalization.CultureInfo.InvariantCulture, out var cores) ? cores : null;
    // A bus's growth is bounded per 20 s (issue 9) and measured over 40 s as the slope of its pictures'
    // arrival behind their PTS: a bus shed to 2 fps gives 40 pictures in 20 s.
    private static readonly TimeSpan Measured = TimeSpan.FromSeconds(40), GrowthPer = TimeSpan.FromSeconds(20);
    // What a box's pictures may age beyond their unstarved 95th percentile: what its input's decoder adds,
    // plus what its bus adds. The decoder (DecoderCatchUp) skips to its next keyframe once its pictures
    // have left it more than Behind (0.5 s) late over Persist (0.2 s) of its input; every picture it
    // decodes until then is shown (a box shows the newest picture it has, however late), and so is the
    // keyframe it resumes at (the thread only demuxes meanwhile, faster than real time, so that keyframe
    // comes out about as late as the skip began, plus its own decoding). Over those 0.2 s of input the lag
    // grows by whatever decoding them takes beyond 0.2 s: a decoder at a third of real time (the deepest
    // case's 15-17 % of a core, the 20 ms periods 95-100 % throttled) reaches Behind + 2 x Persist. Seen:
    // 608-626 ms at the skip, and Program's boxes at p95 1622/1475 ms against 599/598 unstarved with the
    // bus itself +214 ms (bench/results/2026-12-02-0351-vm-starvation-stall-recheck.md), i.e. the decoders
    // 660-810 ms; 700 ms (Behind + Persist, a decoder at half speed) failed 2 of about 12 deep runs.
    // A decoder that stops catching up (no skip: a backlog of 10-20 s of feed, seconds of age) still fails.
    // (Behind and Persist are the engine's; this project does not see its internals.)
    private static readonly TimeSpan DecoderMayLag = TimeSpan.FromMilliseconds(500 + 2 * 200);
    // The bus's part: its whole pictures' delay at the reader beyond unstarved (p95, from the TS, whatever
    // they show), which issue 9 bounds in its growth (asserted above) and the worker reports where they
    // leave (printed), counted up to BusMayAdd (+40..+214 ms have been seen starved, so a bus far later
    // than that fails here rather than being taken for its decoders); and never less than two of the
    // frame intervals it delivers (a bus shed to 2 fps holds a picture up to a second at its muxer).
    private static readonly TimeSpan BusMayAdd = TimeSpan.FromMilliseconds(300);
    private static double MayAgeMs(TimingReport bus, SoundTiming starved, SoundTiming unstarved) =>
        DecoderMayLag.TotalMilliseconds + Math.Max(2 * 1000 / Math.Max(bus.DeliveredFps, 1),
            Math.Min((starved.PictureDelayP95 ?? 0) - (unstarved.PictureDelayP95 ?? 0), BusMayAdd.TotalMilliseconds));
    // How much later than the pictures of its instant a bus's sound may reach the reader (SoundTiming),
    // beyond what it did unstarved. Issue 9: a bus's added delay never exceeds its configured latency
    // plus two frame intervals, for its sound too, so two frame intervals of the bus's own rate, not of
    // the rate it is shed to: GStreamer 1.22's mpegtsmux writes a buffer only once every stream has
    // one, and a bus tells its muxer where it has no picture (BusBranch), so sound waits there for a
    // picture no longer than a picture may be late. Before, a bus shed to 2 fps sent its sound with its
    // next picture (p95 0.47-0.86 s), and where a picture it should have made was dropped late, with
    // the one after (p99 0.37-0.58 s). Plus one 20 ms sound block (the sound tells the muxer as each
    // block reaches it) and the CPU quota: the two chains are throttled apart, one period at the 95th
    // percentile. The tail (p99) is printed, not bounded: with the muxer told it stayed within 118 ms
    // beyond the unstarved p95 in 36 starved bus-runs (bench/results/2026-12-01-0505-vm-sound-no-picture-gap.md),
    // but a fresh-clone run saw Program's p99 at 323 ms where its pictures stopped for 1.6 s.
    private static double SoundMayTrailMs(BusDefinition bus, SoundTiming unstarved) =>
        Math.Max(0, unstarved.SoundAfterPictureP95 ?? 0) + 2 * 1000.0 / bus.Format.Fps + SoundBlockMs + CpuStarvation.Period.TotalMilliseconds;
    private const double SoundBlockMs = 20;
    // The longest a box may show one picture while its input moves: a shedding bus's gap (0.5 s), a
    // starved decoder's skip to its next keyframe (the feeds' GOP, 1 s) and the bus's own bound.
    private static readonly TimeSpan LongestHeld = TimeSpan.FromSeconds(2);
    private static readonly string[] BusNames = ["program", "aux1", "aux2"];

    // Two feeds side by side on every bus, tiny, so that the feeds and readers stay light.
    private static readonly FeedSpec[] Feeds = [.. Enumerable.Range(0, 2).Select(i => FeedSpec.Numbered(i) with { MuxDelay = TimeSpan.Zero })];

    private static BusDefinition Bus(string name) => new()
    {
        Name = name,
        Format = new OutputFormat { Width = 320, Height = 180, Fps = 30, VideoBitrateKbps = 500, AudioBitrateKbps = 64 },
        Layout = [.. Feeds.Select((f, i) => new Box { Source = f.Input, X = i * 160, Y = 0, Width = 160, Height = 180, Fit = Fit.Fill })],
    };

    private static IReadOnlyList<StampBox> Stamps(BusDefinition bus) =>
        StampBoxes.Of(bus, input => Feeds.Single(f => f.Input == input) is var f ? (f.Width, f.Height, f.Fps) : default);

    /// <summary>Moderate starvation: just deep enough that some bus drops frames.</summary>
    [Fact]
    public Task A_worker_starved_of_cpu_drops_frames_without_falling_behind_and_program_keeps_the_most() =>
        StarveAsync(Moderate);

    /// <summary>
    /// Deep starvation, every AUX bus at half its frames or fewer (about half of what the worker needs
    /// here): what is never shed (each input's
    /// decoding, each bus's sound) takes most of the quota. Before the bus muxers held a shedding gap's
    /// worth of sound, their delay grew by 0.4–0.7 s here.
    /// </summary>
    [Fact]
    public Task A_worker_starved_until_every_aux_bus_sheds_half_its_frames_stays_live_and_program_keeps_the_most() =>
        StarveAsync(Deep);

    /// <summary>
    /// Deeper still, the AUX buses down to a few frames a second and the inputs' decoders late: before
    /// the boxes stopped hearing their compositor's QoS, a shedding bus's boxes threw away every picture
    /// and showed one for 3–6 s, and their delay at the reader grew by 0.25–0.4 s.
    /// </summary>
    [Fact]
    public Task A_worker_starved_until_aux_buses_keep_a_few_frames_a_second_keeps_every_box_moving_and_program_first() =>
        StarveAsync(Deeper);

    // The status's p95 of the pictures' lateness where they leave the worker covers 5 s.
    private static readonly TimeSpan OutputLatenessWindow = TimeSpan.FromSeconds(5);

    private async Task StarveAsync(Depth depth)
    {
        Assert.True(File.Exists("/usr/bin/taskset"), "taskset (util-linux) is needed where no cgroup can be made");
        // The machine's speed before the show loads it, which each measurement's yardstick is read against.
        output.WriteLine($"yardstick calibrated: {Yardstick.Calibrate():0.000} ms of CPU time a piece");
        await using var h = await WorkerHarness.StartAsync(output);
        foreach (var f in Feeds) h.StartFeed(f);
        foreach (var f in Feeds) await h.WaitForPublisherAsync($"ingest/{Project}/{f.Input}", TimeSpan.FromSeconds(20));
        var buses = BusNames.Select(Bus).ToList();
        await h.WriteDesiredAsync(new SceneDefinition
        {
            Project = Project,
            Revision = 1,
            Inputs = [.. Feeds.Select(f => new InputDefinition { Name = f.Input })],
            Buses = buses,
        });
        var worker = h.StartWorker();
        var readers = buses.ToDictionary(b => b.Name, b => h.Read(b.Name, Stamps(b)));
        foreach (var reader in readers.Values) await reader.WaitForStampsAsync(TimeSpan.FromSeconds(30));

        // What it needs once its start-up work is done (the cards, the first keyframes): measured right
        // after the first stamps, that figure came out at 68-79 % of a core where the worker made every
        // frame on 35 %. The higher of two windows: a window where the worker shed frames reads low.
        await Task.Delay(TimeSpan.FromSeconds(5));
        foreach (var reader in readers.Values) reader.ClearStamps();
        // What the machine did over each measurement, for every failure message ("others" there include the worker,
        // a process of its own).
        List<string> machine = [];
        async Task<T> WatchedAsync<T>(string what, Func<Task<T>> measure)
        {
            var from = MachineShare.NowWithProbes();
            var result = await measure();
            machine.Add($"{what}: {MachineShare.Since(from)}");
            return result;
        }
        var need = Math.Max(
            await WatchedAsync("need, 1st", () => CpuStarvation.MeasureCoresAsync(worker.Id, TimeSpan.FromSeconds(3))),
            await WatchedAsync("need, 2nd", () => CpuStarvation.MeasureCoresAsync(worker.Id, TimeSpan.FromSeconds(3))));
        var unstarved = readers.ToDictionary(r => r.Key, r => StampAnalysis.Analyse(r.Value.StampedFrames, Stamps(buses.Single(b => b.Name == r.Key)), 30));
        var unstarvedSound = readers.ToDictionary(r => r.Key, r => SoundAnalysis.Analyse(r.Value.PesArrivals));
        double used, quota = FixedQuota ?? Math.Clamp(need * FirstShare, LowestCoreShare, 1);
        string starved;
        // How late each bus's pictures leave the worker, from its status: the counters at both ends of the
        // measured window, and the p95 of each 5 s within it.
        Dictionary<string, BusLateness?> leftBefore, leftAfter;
        Dictionary<string, List<double?>> leftP95s;
        async Task<(Dictionary<string, BusLateness?>, Dictionary<string, BusLateness?>, Dictionary<string, List<double?>>)> LeavingAsync()
        {
            async Task<Dictionary<string, BusLateness?>> NowAsync() => (await h.StatusAsync()) is { } st
                ? BusNames.ToDictionary(b => b, b => st.Buses.GetValueOrDefault(b)?.Lateness) : BusNames.ToDictionary(b => b, _ => (BusLateness?)null);
            var before = await NowAsync();
            var p95s = BusNames.ToDictionary(b => b, _ => new List<double?>());
            var windows = (int)(Measured / OutputLatenessWindow);
            var after = before;
            for (var i = 0; i < windows; i++)
            {
                await Task.Delay(OutputLatenessWindow);
                after = await NowAsync();
                foreach (var b in BusNames) p95s[b].Add(after[b]?.SentLateP95Ms);
            }
            return (before, after, p95s);
        }
        using (var starvation = CpuStarvation.Start(worker.Id, quota))
        {
            output.WriteLine($"the worker used {need:P0} of a core; starved by {starvation.Method}");
            async Task<long> DroppedAsync() => (await h.StatusAsync())?.Buses.Values.Sum(b => b.Lateness?.DroppedFrames ?? 0) ?? 0;
            async Task<bool> AuxShedAsync(double fps) => (await h.StatusAsync())?.Buses is { } b
                && BusNames.Skip(1).All(n => b.GetValueOrDefault(n)?.Lateness is { } l && l.DeliveredFps <= fps);
            var dropped = await DroppedAsync();
            var reached = FixedQuota is not null;
            while (FixedQuota is null && quota * Step >= LowestCoreShare)
            {
                await Task.Delay(depth.StepEvery);
                if (depth.AuxFps is { } fps)
                {
                    if (reached = await AuxShedAsync(fps)) break;
                }
                else
                {
                    var before = dropped;
                    dropped = await DroppedAsync();
                    if (reached = dropped > before) break;
                }
                starvation.CoreShare = quota *= Step;
            }
            // A case measured short of its depth would judge the wrong thing (Program against AUX buses that never shed).
            if (!reached && !(depth.AuxFps is null && await DroppedAsync() > dropped))
                Assert.Fail($"the quota came down to {quota:P0} of a core, its floor, and the buses never showed the case's depth " +
                    $"({(depth.AuxFps is { } aux ? $"every AUX bus at {aux} fps or less" : "a frame dropped")}): " +
                    string.Join(", ", (await h.StatusAsync())?.Buses.Select(b => $"{b.Key} {b.Value.Lateness}") ?? []));
            // The buses notice and shed within a second or two; the delay is measured from then on.
            await Task.Delay(TimeSpan.FromSeconds(3));
            foreach (var reader in readers.Values) reader.ClearStamps();
            var leaving = LeavingAsync();
            used = await WatchedAsync("starved", () => CpuStarvation.MeasureCoresAsync(worker.Id, Measured));
            (leftBefore, leftAfter, leftP95s) = await leaving;
            starved = $"needed {need:P0} of a core, quota {quota:P0} of a core ({quota / need:P0} of that), used {used:P0}\n" + string.Join("\n", machine);
            output.WriteLine(starved);
        }
        var status = await h.StatusAsync();

        var reports = readers.ToDictionary(r => r.Key, r => StampAnalysis.Analyse(r.Value.StampedFrames, Stamps(buses.Single(b => b.Name == r.Key)), 30));
        var sound = readers.ToDictionary(r => r.Key, r => SoundAnalysis.Analyse(r.Value.PesArrivals));
        foreach (var (bus, reader) in readers)
            output.WriteLine($"{bus}: first packet known for {reader.StampedFrames.Count(f => f.FirstPacketUs is not null)} of {reader.StampedFrames.Count} frames; {reader.TsDiscontinuities} TS packets lost");
        foreach (var (bus, report) in reports)
            output.WriteLine($"{bus}: {report}\n  timeline growth per 20 s {report.TimelineGrowthPer(GrowthPer):0} ms; " +
                $"boxes' p95 unstarved {string.Join(", ", unstarved[bus].Boxes.Select(b => $"{b.LagP95:0}"))} ms\n  status lateness: {status?.Buses.GetValueOrDefault(bus)?.Lateness}" +
                $"\n  {sound[bus].Describe(GrowthPer, unstarvedSound[bus])}\n  unstarved {unstarvedSound[bus].Describe(GrowthPer)}" +
                $"\n  pictures' delay at the reader against unstarved p50/p95 {sound[bus].PictureDelayP50 - unstarvedSound[bus].PictureDelayP50:+0;-0}/{sound[bus].PictureDelayP95 - unstarvedSound[bus].PictureDelayP95:+0;-0} ms" +
                $"\n  {LeftLate(bus)}");

        // Issue 9, requirement 2, where the pictures leave the worker: the share of them more than two frame
        // intervals past their deadline (the bus's latency after their running time) over the window, and
        // the p95 of each 5 s of it. Printed, not bounded yet: the muxer's and the output's threads each
        // wait about a throttled quota period (docs/architecture.md, "Live timing").
        string LeftLate(string bus)
        {
            var (b, a) = (leftBefore[bus], leftAfter[bus]);
            if (b is null || a is null) return "left the worker: no status";
            var (sent, late) = (a.PicturesSent - b.PicturesSent, a.PicturesSentLate - b.PicturesSentLate);
            return $"left the worker: {sent} pictures, {late} ({(sent > 0 ? (double)late / sent : 0):P1}) more than two frame intervals past their deadline; " +
                $"p95 per 5 s {string.Join(" ", leftP95s[bus].Select(p => p is { } v ? $"{v:0}" : "-"))} ms";
        }

        // It was starved for real: it got no more than its quota.
        Assert.True(used <= quota * 1.2 + 0.02, starved);
        // Lateness bounded: no bus falls behind, its timeline grows by at most 100 ms per 20 s ...
        foreach (var (bus, report) in reports)
            Assert.True(report.TimelineGrowthPer(GrowthPer) is { } g && g <= 100, $"{bus} fell behind by {report.TimelineGrowthPer(GrowthPer):0} ms per 20 s; {starved}");
        // Its sound stays live too: its timeline grows no more than the pictures' may ...
        foreach (var (bus, timing) in sound)
            Assert.True(timing.TimelineGrowthPer(GrowthPer) is { } g && g <= 100, $"{bus}'s sound fell behind by {timing.TimelineGrowthPer(GrowthPer):0} ms per 20 s; {timing.Describe(GrowthPer)}; {starved}");
        // ... and it reaches the reader, as a rule, no later after its pictures than a bus may add.
        foreach (var (bus, timing) in sound)
        {
            var p95 = SoundMayTrailMs(buses.Single(b => b.Name == bus), unstarvedSound[bus]);
            Assert.True(timing.SoundAfterPictureP95 <= p95,
                $"{bus}'s sound trails its pictures by {timing.SoundAfterPictureP95:0} ms (p95; p99 {timing.SoundAfterPictureP99:0}), {p95:0} ms allowed; {timing.Describe(GrowthPer)}; {starved}");
        }
        // ... and no box's pictures age beyond what a starved input's decoder may lag before it skips, and its bus adds.
        foreach (var (bus, report) in reports)
        {
            var mayAge = MayAgeMs(report, sound[bus], unstarvedSound[bus]);
            Assert.All(report.Boxes.Zip(unstarved[bus].Boxes), b => Assert.True(b.First.LagP95 <= b.Second.LagP95 + mayAge,
                $"{bus}: {b.First}; p95 {b.First.LagP95:0} ms against {b.Second.LagP95:0} ms unstarved, {mayAge:0} ms more allowed; {starved}"));
        }
        // And every box keeps moving: none shows one picture for long while its input runs on.
        foreach (var (bus, report) in reports)
            Assert.All(report.Boxes, b => Assert.True(b.LongestHeldMs <= LongestHeld.TotalMilliseconds, $"{bus}: {b}; {starved}"));
        // The machine could not make every frame: frames were dropped, and said so.
        var lateness = BusNames.Select(b => status?.Buses.GetValueOrDefault(b)?.Lateness).ToList();
        Assert.True(lateness.Any(l => l is { DroppedFrames: > 0, Episodes: > 0 }), $"no bus reported a drop: {string.Join(", ", lateness)}; {starved}");
        Assert.Contains(worker.Lines, l => l.Contains("cannot make all its frames in time", StringComparison.Ordinal));
        // Dropping is the way through, never stopping: no bus's pictures stopped until the stall watch rebuilt it
        // (the watch keeps a show going, but a bus that needed it went dark for seconds; a trial build that stopped
        // one bus in 2 of 7 starved runs passed every other assertion here, bench/results/2026-12-02-0556-vm-starved-picture-sound-wait.md).
        var stalls = BusNames.Select(b => (b, status?.Buses.GetValueOrDefault(b)?.Stalls)).ToList();
        Assert.True(stalls.All(s => s.Stalls == 0), $"a bus stalled and was rebuilt: {string.Join(", ", stalls)}; {starved}");
        // Program first: it delivers at least as many frames as any AUX bus, and more than one that
        // shed frames while measured. The first drop can be a passing one: then every bus keeps 30 fps, no AUX
        // bus sheds for Program, and Program may have lost the frames it reported dropped (late, not shed), and
        // the readers' windows, cleared one after the other and read one after the other, may hold a frame
        // more or less at each end (1200 against 1201, 1201 against 1203 and 1223 against 1226 failed runs).
        var programDropped = leftAfter["program"] is { } pa && leftBefore["program"] is { } pb ? pa.DroppedFrames - pb.DroppedFrames : 0;
        foreach (var aux in BusNames.Skip(1))
        {
            var (p, a) = (reports["program"], reports[aux]);
            Assert.True(a.DeliveredFps >= 28 ? p.OutputFrames + 2 + programDropped >= a.OutputFrames : p.OutputFrames > a.OutputFrames,
                $"program delivered {p.OutputFrames} frames ({programDropped} reported dropped), {aux} {a.OutputFrames} ({a.DeliveredFps:0.0} fps); {starved}");
        }
    }
}
