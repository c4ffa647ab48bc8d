using MixerWorker.Testbed.Imaging;
using System.Diagnostics;
using MixerWorker.Pipeline.Engine;
using MixerWorker.Pipeline.Scene;
using MixerWorker.Testbed.Feeds;
using MixerWorker.Testbed.Timing;
using Xunit;
using Xunit.Abstractions;
using static MixerWorker.Pipeline.Tests.Integration.MixHarness;

namespace MixerWorker.Pipeline.Tests.Integration;

/// <summary>Inputs that die, come back, or cannot authenticate; and many live changes in a row.</summary>
public sealed class FaultTests(ITestOutputHelper output)
{
    private static readonly FeedSpec A = FeedSpec.Numbered(0), B = FeedSpec.Numbered(1);

    private static SceneDefinition TwoInputs(params BusDefinition[] buses) => new()
    {
        Project = Project,
        Inputs = [new InputDefinition { Name = A.Input }, new InputDefinition { Name = B.Input }],
        Buses = buses,
    };

    private static BusDefinition SideBySide => Bus("program", 320, 180, At(A.Input, 0, 0, 160, 180), At(B.Input, 160, 0, 160, 180));

    // Both feeds publishing and the mixer showing them side by side on Program.
    private Task<MixHarness> StartSideBySideShowAsync() => MixHarness.StartShowAsync(output, TwoInputs(SideBySide), [A, B]);

    [Fact]
    public async Task A_killed_input_shows_its_no_signal_card_without_a_frame_gap_and_comes_back_by_itself()
    {
        DeliveryVerdict.Calibrate(output);
        await using var h = new MixHarness(output);
        var feedA = h.StartFeed(A);
        h.StartFeed(B);
        await h.WaitForPublisherAsync($"ingest/{Project}/{A.Input}", TimeSpan.FromSeconds(10));
        await h.WaitForPublisherAsync($"ingest/{Project}/{B.Input}", TimeSpan.FromSeconds(10));
        await h.StartMixerAsync(TwoInputs(SideBySide));
        var program = h.Read("program");
        await program.WaitForFrameAsync(TimeSpan.FromSeconds(15), f => Colors.Near(f.ColorAt(80, 90), A.Rgb) && Colors.Near(f.ColorAt(240, 90), B.Rgb));
        program.ResetCounters();
        var from = MachineShare.NowWithProbes();

        feedA.Dispose(); // the camera process dies
        var slate = await program.WaitForFrameAsync(TimeSpan.FromSeconds(6), f => Colors.Near(f.ColorAt(8, 8), Colors.NoSignalCard, 20));
        Assert.True(Colors.Near(slate.ColorAt(240, 90), B.Rgb), "the other input must stay on air");
        await Task.Delay(1000);
        var during = program.Stats;
        var machine = MachineShare.Since(from);
        output.WriteLine($"while the input was gone: {during}");
        // A bus short of CPU drops the frames it cannot make in time (LatenessGuard), as many in a row as the machine
        // holds it up: its frame gaps and rate then measure the machine, and only an output that stopped is the bus's.
        DeliveryVerdict.Judge(output, machine, strict: () =>
        {
            Assert.InRange(during.MaxFrameGapMs, 1, 2 * 1000.0 / 30 + 0.5); // no gap above two frame intervals (+ PTS rounding)
            Assert.True(during.Frames >= 30, $"output kept its frame rate: {during.Frames} frames");
        }, live: () => Assert.True(during.Frames > 0, "the output stopped"));
        var status = await h.Mixer!.GetStatusAsync();
        Assert.NotEqual(ConnectionState.Connected, status.Inputs[A.Input].State);

        h.StartFeed(A); // the camera comes back: no operator action
        await program.WaitForFrameAsync(TimeSpan.FromSeconds(15), f => Colors.Near(f.ColorAt(80, 90), A.Rgb));
        Assert.Equal(ConnectionState.Connected, (await h.Mixer!.GetStatusAsync()).Inputs[A.Input].State);
        Assert.True(program.Connections == 1, program.ConnectionReport);
        output.WriteLine($"after the return: {program.Stats}");
    }

    [Fact]
    public async Task A_wrong_ingest_passphrase_is_a_clear_error_naming_the_input_and_the_bus_stays_on_air()
    {
        await using var h = new MixHarness(output);
        h.StartFeed(A);
        await h.WaitForPublisherAsync($"ingest/{Project}/{A.Input}", TimeSpan.FromSeconds(10));
        await h.StartMixerAsync(TwoInputs(Bus("program", 160, 90, At(A.Input, 0, 0, 160, 90))), h.Options(ingestPassphrase: "not-the-right-passphrase"));
        var program = h.Read("program");
        await program.WaitForFrameAsync(TimeSpan.FromSeconds(10), f => Colors.Near(f.ColorAt(8, 8), Colors.NoSignalCard, 20));

        var deadline = DateTime.UtcNow.AddSeconds(10);
        InputStatus input;
        do
        {
            await Task.Delay(200);
            input = (await h.Mixer!.GetStatusAsync()).Inputs[A.Input];
        } while (input.Error is null && DateTime.UtcNow < deadline);
        output.WriteLine(input.ToString());
        Assert.NotNull(input.Error);
        Assert.Contains($"input '{A.Input}'", input.Error);
        Assert.Contains("INGEST_SRT_PASSPHRASE", input.Error);
        Assert.DoesNotContain("not-the-right-passphrase", input.Error);
        var before = program.Stats.Frames;
        await Task.Delay(1000);
        Assert.True(program.Stats.Frames - before >= 25, "the bus keeps publishing at its frame rate");
        Assert.DoesNotContain(h.Log.Lines, l => l.Contains("not-the-right-passphrase") || l.Contains(IngestPassphrase) || l.Contains(OutputPassphrase) || l.Contains(Token));
    }

    [Fact]
    public async Task A_wrong_output_passphrase_never_counts_as_connected_and_is_retried_with_backoff()
    {
        await using var h = new MixHarness(output);
        h.StartFeed(A);
        await h.WaitForPublisherAsync($"ingest/{Project}/{A.Input}", TimeSpan.FromSeconds(10));
        var options = h.Options();
        await h.StartMixerAsync(TwoInputs(Bus("program", 160, 90, At(A.Input, 0, 0, 160, 90))),
            options with { MediaMtx = options.MediaMtx with { OutputPassphrase = "not-the-output-passphrase" } });

        // The encoder runs from the start, so buffers reach the output long before the hub has
        // refused it: none of that may look like a connection, not even for one status read.
        var states = new List<ConnectionState>();
        BusStatus bus;
        long framesAt3s = -1;
        var watch = Stopwatch.StartNew();
        do
        {
            await Task.Delay(50);
            bus = (await h.Mixer!.GetStatusAsync()).Buses["program"];
            states.Add(bus.Output);
            if (framesAt3s < 0 && watch.Elapsed > TimeSpan.FromSeconds(3)) framesAt3s = bus.FramesOut;
        } while (watch.Elapsed < TimeSpan.FromSeconds(5));
        output.WriteLine($"{bus}; states seen: {string.Join(", ", states.Distinct())}; frames at 3 s {framesAt3s}");
        // The output's failures stay in the output: the bus goes on mixing (its multiview tile and thumbnail use it).
        // (A dead bus mixes none; a loaded machine may drop some to stay on time.)
        Assert.True(bus.FramesOut - framesAt3s >= 20, $"the bus mixed {bus.FramesOut - framesAt3s} frames in the last 2 s");
        Assert.DoesNotContain(ConnectionState.Connected, states);
        Assert.NotNull(bus.Error);
        Assert.Contains("OUTPUT_SRT_PASSPHRASE", bus.Error);
        // Backoff from 200 ms to 1 s: about seven attempts in 5 s; a retry at once after each refusal would make dozens.
        Assert.InRange(bus.Attempts, 2, 12);
        Assert.DoesNotContain($"out/{Project}/program", h.StandIn.PublishedPaths());
        Assert.DoesNotContain(h.Log.Lines, l => l.Contains("not-the-output-passphrase") || l.Contains(OutputPassphrase));
    }

    [Fact]
    public async Task Removing_and_adding_a_live_input_again_and_again_never_stalls_the_mix()
    {
        var faults = Interop.Callbacks.FaultCount; // GraphThreadTests raises one on purpose in this process
        await using var h = await StartSideBySideShowAsync();
        var program = h.Read("program");
        var withoutB = TwoInputs(Bus("program", 320, 180, At(A.Input, 0, 0, 160, 180))) with { Inputs = [new InputDefinition { Name = A.Input }] };
        for (var i = 0; i < 20; i++)
        {
            await program.WaitForFrameAsync(TimeSpan.FromSeconds(15), f => Colors.Near(f.ColorAt(240, 90), B.Rgb));
            // Each change must complete promptly: a stop stuck in libsrt would show here as a timeout.
            await h.Mixer!.ApplyAsync(withoutB).WaitAsync(TimeSpan.FromSeconds(3));
            Assert.DoesNotContain(B.Input, (await h.Mixer!.GetStatusAsync()).Inputs.Keys);
            await h.Mixer!.ApplyAsync(TwoInputs(SideBySide)).WaitAsync(TimeSpan.FromSeconds(3));
        }
        await program.WaitForFrameAsync(TimeSpan.FromSeconds(15), f => Colors.Near(f.ColorAt(80, 90), A.Rgb) && Colors.Near(f.ColorAt(240, 90), B.Rgb));
        Assert.True(program.Connections == 1, program.ConnectionReport);
        Assert.Equal(faults, Interop.Callbacks.FaultCount);
        Assert.Equal(0, h.Mixer!.CallbackFaults);
    }

    // Layout and source changes only. Enabling/disabling a bus and removing an input are exercised by
    // other tests (SrtReaderTests soaks input stops) but not here: each new SRT connection keeps a
    // little native memory (about 60 KB per input cycle in a 100-cycle soak, see the session notes).
    [Fact]
    public async Task Two_hundred_live_layout_and_source_changes_leak_nothing()
    {
        var faults = Interop.Callbacks.FaultCount; // GraphThreadTests raises one on purpose in this process
        await using var h = await StartSideBySideShowAsync();
        var program = h.Read("program");
        await program.WaitForFrameAsync(TimeSpan.FromSeconds(15), f => Colors.Near(f.ColorAt(240, 90), B.Rgb));

        SceneDefinition Variant(int i) => (i % 4) switch
        {
            0 => TwoInputs(SideBySide),
            1 => TwoInputs(Bus("program", 320, 180, At(B.Input, 0, 0, 160, 180), At(A.Input, 160, 0, 160, 180))), // sources swapped
            2 => TwoInputs(Bus("program", 320, 180, At(A.Input, 0, 0, 320, 180), At(B.Input, 200 + i % 50, 10, 96, 54, z: 1))), // PiP moving
            _ => TwoInputs(Bus("program", 320, 180)),                                                                          // empty layout: background only
        };
        var process = Process.GetCurrentProcess();
        long rssAfterWarmUp = 0;
        var threadsAfterWarmUp = 0;
        for (var i = 0; i < 200; i++)
        {
            await h.Mixer!.ApplyAsync(Variant(i));
            if (i % 40 == 39) { process.Refresh(); output.WriteLine($"{i + 1}: {process.WorkingSet64 / 1048576} MB {process.Threads.Count} threads"); }
            if (i == 39)
            {
                await Task.Delay(500);
                process.Refresh();
                (rssAfterWarmUp, threadsAfterWarmUp) = (process.WorkingSet64, process.Threads.Count);
            }
        }
        await h.Mixer!.ApplyAsync(TwoInputs(SideBySide));
        await program.WaitForFrameAsync(TimeSpan.FromSeconds(15), f => Colors.Near(f.ColorAt(80, 90), A.Rgb) && Colors.Near(f.ColorAt(240, 90), B.Rgb));
        process.Refresh();
        var (rss, threads) = (process.WorkingSet64, process.Threads.Count);
        output.WriteLine($"after 40 changes: {rssAfterWarmUp / 1048576} MB, {threadsAfterWarmUp} threads; after 200: {rss / 1048576} MB, {threads} threads");
        Assert.InRange(rss - rssAfterWarmUp, long.MinValue, 40L * 1048576);
        Assert.InRange(threads - threadsAfterWarmUp, int.MinValue, 8);
        Assert.DoesNotContain(h.Log.Lines, l => l.Contains("Error:") || l.Contains("pipeline error"));
        Assert.Equal(faults, Interop.Callbacks.FaultCount);
        Assert.Equal(0, h.Mixer!.CallbackFaults);
        Assert.True(program.Connections == 1, program.ConnectionReport);
    }
}
