using System.Diagnostics;
using MixerWorker.ControlPlane;
using MixerWorker.Pipeline.Engine;
using MixerWorker.Pipeline.Scene;
using MixerWorker.Testbed.Feeds;
using MixerWorker.Testbed.Imaging;
using MixerWorker.Testbed.Reading;
using Xunit;
using Xunit.Abstractions;
using static MixerWorker.Tests.WorkerHarness;

namespace MixerWorker.Tests;

/// <summary>Operator commands on the project's stream, carried out by a worker process against a real redis-server.</summary>
public sealed class CommandTests(ITestOutputHelper output)
{
    private static readonly FeedSpec A = FeedSpec.Numbered(0, Input) with { Width = 160, Height = 90 };
    private static readonly FeedSpec B = FeedSpec.Numbered(1, InputB) with { Width = 160, Height = 90 };
    private static readonly TimeSpan Long = TimeSpan.FromSeconds(20);

    /// <summary>Two feeds, the two-input scene at revision 1, a worker, and the program output showing cam-a.</summary>
    private Task<(WorkerHarness H, WorkerProcess Worker, OutputReader Program)> StartShowAsync(params (string, string)[] env) => StartShowAsync(false, env);

    private async Task<(WorkerHarness H, WorkerProcess Worker, OutputReader Program)> StartShowAsync(bool withGraphics, params (string, string)[] env)
    {
        var h = await WorkerHarness.StartAsync(output);
        h.StartFeed(A);
        h.StartFeed(B);
        await h.WaitForPublisherAsync($"ingest/{Project}/{A.Input}", Long);
        await h.WaitForPublisherAsync($"ingest/{Project}/{B.Input}", Long);
        await h.WriteDesiredAsync(TwoInputScene(1, withGraphics));
        var worker = h.StartWorker(env);
        var program = h.Read("program");
        await h.WaitForStatusAsync(s => s.Revision == 1 && s.Inputs.Values.All(i => i.State == ConnectionState.Connected), Long);
        await program.WaitForFrameAsync(Long, f => Colors.Near(f.ColorAt(80, 45), A.Rgb));
        return (h, worker, program);
    }

    /// <summary>The one input on air on the program bus, whether the layout is boxes or a preset.</summary>
    private static string ProgramSource(SceneDefinition scene) => scene.FindBus("program") is { } bus
        ? (bus.Preset?.Sources ?? bus.Layout.Select(b => b.Source).ToList()).Distinct().Single()
        : throw new InvalidOperationException("no program bus");

    private static string PreviewSource(SceneDefinition scene) => scene.FindBus("program")!.Preview is { } shot
        ? (shot.Preset?.Sources ?? shot.Boxes.Select(b => b.Source).ToList()).Distinct().Single()
        : throw new InvalidOperationException("no preview");

    [Fact]
    public async Task Each_command_kind_is_applied_and_stored_as_the_next_revision()
    {
        var (h, _, program) = await StartShowAsync();
        await using var _h = h;

        // cut: preview goes on air, what was on air becomes the preview.
        var clock = Stopwatch.StartNew();
        var entry = await h.AddCommandAsync(new CutCommand { Id = "cut-1", Bus = "program" });
        var answer = await h.AnswerAsync(entry);
        var answered = clock.Elapsed;
        await program.WaitForFrameAsync(Long, f => Colors.Near(f.ColorAt(80, 45), B.Rgb));
        output.WriteLine($"cut: answered after {answered.TotalMilliseconds:F0} ms, cam-b on the program output after {clock.ElapsedMilliseconds} ms");
        Assert.Equal((EventTypes.CommandApplied, "cut-1", entry, 2L), (answer.Type, answer.Command, answer.Entry, answer.Revision));
        var desired = (await h.DesiredAsync())!;
        Assert.Equal(2, desired.Revision);
        Assert.Equal(InputB, ProgramSource(desired));
        Assert.Equal(Input, PreviewSource(desired));
        var status = await h.WaitForStatusAsync(s => s.Revision == 2, Long);
        Assert.Equal(entry, status.LastCommand);
        await h.WaitForStatusAsync(s => s.Tally?["program"].OnAir.SequenceEqual([InputB]) == true, Long);
        // The tally event is published on its own, not with the status.
        await h.WaitForEventAsync(e => e.Type == EventTypes.Tally && e.Tally!["program"].OnAir.SequenceEqual([InputB]) && e.Tally["program"].Preview.SequenceEqual([Input]),
            Long, "no tally event with cam-b on air and cam-a in preview");

        // Every other kind: one revision each, each answered with commandApplied.
        ShowCommand[] commands =
        [
            new SetPreviewCommand { Bus = "program", Shot = new Shot { Boxes = [FullFrame(InputB)] } },
            new AutoCommand { Bus = "program", Transition = new TransitionSpec { Kind = TransitionKind.Mix, DurationMs = 200 } },
            new SetLayoutCommand { Bus = "program", Shot = new Shot { Preset = new LayoutPreset { Kind = PresetKind.Single, Sources = [Input] } } },
            new InputAudioCommand { Input = InputB, GainDb = -6, Muted = true, DelayMs = 40 },
            new BusAudioCommand { Bus = "program", Mode = AudioMode.FollowVideo, MasterGainDb = -3 },
            new FadeToBlackCommand { Bus = "program", DurationMs = 200 },
        ];
        var revision = 2L;
        foreach (var command in commands)
        {
            answer = await h.AnswerAsync(await h.AddCommandAsync(command));
            output.WriteLine($"{command.GetType().Name}: {answer.Type} revision {answer.Revision} {string.Join("; ", answer.Errors ?? [])}");
            Assert.Equal(EventTypes.CommandApplied, answer.Type);
            Assert.Equal(++revision, answer.Revision);
            Assert.Equal(revision, (await h.DesiredAsync())!.Revision);
        }
        desired = (await h.DesiredAsync())!;
        Assert.Equal(Input, ProgramSource(desired)); // auto took cam-b on air, then the layout put cam-a there
        Assert.Equal(InputB, PreviewSource(desired));
        Assert.Equal(new InputDefinition { Name = InputB, GainDb = -6, Muted = true, DelayMs = 40 }, desired.FindInput(InputB));
        Assert.Equal((AudioMode.FollowVideo, -3.0), (desired.FindBus("program")!.Audio!.Mode, desired.FindBus("program")!.Audio!.MasterGainDb));
        Assert.True(desired.FindBus("program")!.FadedToBlack);
        await program.WaitForFrameAsync(Long, f => Colors.IsBlack(f.ColorAt(80, 45)));
        await h.WaitForStatusAsync(s => s.Revision == revision, Long);

        // Meters: in the status key, and as events at most every WORKER__METERSINTERVALMS (500 ms).
        var metered = await h.WaitForStatusAsync(s => s.Meters is { } m && m.Inputs.ContainsKey(Input) && m.Inputs.ContainsKey(InputB) && m.Buses.ContainsKey("program"), Long);
        output.WriteLine($"meters: {ControlPlaneJson.Write(metered.Meters)}");
        Assert.True(metered.Meters!.Inputs[Input].PeakDb > -60, "cam-a's tone is metered");
        var from = h.Events().Count;
        await Task.Delay(3000);
        var meterEvents = h.Events().Skip(from).Count(e => e.Type == EventTypes.Meters);
        output.WriteLine($"meters events in 3 s: {meterEvents}");
        Assert.InRange(meterEvents, 3, 8);
        h.AssertNoSecretLeaked();
    }

    [Fact]
    public async Task Graphics_on_and_off_are_applied()
    {
        var (h, _, program) = await StartShowAsync(withGraphics: true);
        await using var _h = h;
        var on = await h.AnswerAsync(await h.AddCommandAsync(new GraphicsCommand { Bus = "program", Layer = 0, Visible = true }));
        Assert.Equal((EventTypes.CommandApplied, 2L), (on.Type, on.Revision));
        Assert.True((await h.DesiredAsync())!.FindBus("program")!.Graphics[0].Visible);
        await program.WaitForFrameAsync(Long, f => Colors.Near(f.ColorAt(12, 8, 2), (255, 255, 255)) && Colors.Near(f.ColorAt(80, 45), A.Rgb));
        var off = await h.AnswerAsync(await h.AddCommandAsync(new GraphicsCommand { Bus = "program", Layer = 0, Visible = false }));
        Assert.Equal((EventTypes.CommandApplied, 3L), (off.Type, off.Revision));
        await program.WaitForFrameAsync(Long, f => Colors.Near(f.ColorAt(12, 8, 2), A.Rgb));
    }

    [Fact]
    public async Task Commands_are_applied_in_stream_order_and_a_repeated_id_only_once()
    {
        var (h, _, program) = await StartShowAsync();
        await using var _h = h;

        // Added back to back, without waiting: the last one wins, the revisions follow the stream.
        var entries = new List<string>();
        foreach (var (source, i) in new[] { InputB, Input, InputB, InputB, Input }.Select((s, i) => (s, i)))
            entries.Add(await h.AddCommandAsync(new SetLayoutCommand { Id = $"layout-{i}", Bus = "program", Shot = new Shot { Boxes = [FullFrame(source)] } }));
        var answers = new List<ProjectEvent>();
        foreach (var e in entries) answers.Add(await h.AnswerAsync(e));
        Assert.All(answers, a => Assert.Equal(EventTypes.CommandApplied, a.Type));
        Assert.Equal([2L, 3, 4, 5, 6], answers.Select(a => a.Revision!.Value));
        Assert.Equal(entries, h.Events().Where(e => e.Type == EventTypes.CommandApplied).Select(e => e.Entry!));
        Assert.Equal(Input, ProgramSource((await h.DesiredAsync())!));
        await program.WaitForFrameAsync(Long, f => Colors.Near(f.ColorAt(80, 45), A.Rgb));

        // The same id again (a client that retried): answered as a duplicate, nothing done.
        var first = await h.AnswerAsync(await h.AddCommandAsync(new CutCommand { Id = "cut-once", Bus = "program" }));
        var again = await h.AnswerAsync(await h.AddCommandAsync(new CutCommand { Id = "cut-once", Bus = "program" }));
        output.WriteLine($"first: {ControlPlaneJson.Write(first)}\nagain: {ControlPlaneJson.Write(again)}");
        Assert.Equal((EventTypes.CommandApplied, 7L, (bool?)null), (first.Type, first.Revision, first.Duplicate));
        Assert.Equal((EventTypes.CommandApplied, 7L, (bool?)true), (again.Type, again.Revision, again.Duplicate));
        var desired = (await h.DesiredAsync())!;
        Assert.Equal(7, desired.Revision);
        Assert.Equal(InputB, ProgramSource(desired)); // cut once: cam-b (the preview) on air
        Assert.Equal(Input, PreviewSource(desired));
        await program.WaitForFrameAsync(Long, f => Colors.Near(f.ColorAt(80, 45), B.Rgb));

        // A writer that does not PUBLISH is served by the poll.
        var quiet = await h.AnswerAsync(await h.AddCommandAsync(new CutCommand { Bus = "program" }, notify: false), TimeSpan.FromSeconds(5));
        Assert.Equal((EventTypes.CommandApplied, 8L), (quiet.Type, quiet.Revision));
        Assert.Equal(quiet.Entry, quiet.Command); // no id: the entry id stands for it

        // The worker's own write of the desired state is no change: no error, no applied, no re-apply at the resync.
        await Task.Delay(TimeSpan.FromSeconds(2.5)); // longer than WORKER__RESYNCSECONDS
        Assert.DoesNotContain(h.Events(), e => e.Type is EventTypes.Error or EventTypes.Applied && e.Revision > 1);
        Assert.Equal(8, (await h.StatusAsync())!.Revision);
        h.AssertNoSecretLeaked();
    }

    [Fact]
    public async Task Bad_commands_yield_error_events_and_nothing_changes_on_air()
    {
        var (h, _, program) = await StartShowAsync(("WORKER__MAXCOMMANDBYTES", "4096"));
        await using var _h = h;

        (Func<Task<string>> Add, string Reason, string Says)[] cases =
        [
            // An entry id from 1970 (the stream is still empty, so any id is accepted): far older than WORKER__COMMANDMAXAGESECONDS.
            (() => h.AddCommandAsync("""{"type":"cut","bus":"program"}""", entryId: "1000-1"), ErrorReasons.Expired, "old"),
            (() => h.AddCommandAsync("""{"type":"cut","bus":"program"""), ErrorReasons.InvalidCommand, "malformed"),
            (() => h.AddCommandAsync("""["cut"]"""), ErrorReasons.InvalidCommand, "JSON object"),
            (() => h.AddCommandAsync("""{"bus":"program"}"""), ErrorReasons.InvalidCommand, "\"type\""),
            (() => h.AddCommandAsync("""{"type":"explode","bus":"program"}"""), ErrorReasons.UnknownCommand, "'explode'"),
            (() => h.AddCommandAsync("""{"type":"cut","bus":"program","colour":"red"}"""), ErrorReasons.InvalidCommand, "colour"),
            (() => h.AddCommandAsync("""{"type":"cut"}"""), ErrorReasons.InvalidCommand, "bus"),
            (() => h.AddCommandAsync("""{"type":"auto","bus":"program","transition":{"kind":"spin"}}"""), ErrorReasons.InvalidCommand, "kind"),
            (() => h.AddCommandAsync(new CutCommand { Bus = "aux9" }), ErrorReasons.InvalidCommand, "aux9"),
            (() => h.AddCommandAsync(new SetPreviewCommand { Bus = "program", Shot = new Shot { Boxes = [FullFrame("ghost")] } }), ErrorReasons.InvalidCommand, "ghost"),
            (() => h.AddCommandAsync(new InputAudioCommand { Input = "ghost", Muted = true }), ErrorReasons.InvalidCommand, "ghost"),
            (() => h.AddCommandAsync(new GraphicsCommand { Bus = "program", Layer = 2, Visible = true }), ErrorReasons.InvalidCommand, "layer"),
            (() => h.AddCommandAsync("""{"type":"cut","bus":"program"}""", field: "cmd"), ErrorReasons.InvalidCommand, "'command' field"),
            (() => h.AddCommandAsync($$"""{"type":"cut","bus":"program","id":"{{new string('x', 5000)}}"}"""), ErrorReasons.Oversized, "4096"),
        ];
        foreach (var (add, reason, says) in cases)
        {
            var entry = await add();
            var error = await h.AnswerAsync(entry);
            output.WriteLine($"{reason}: {string.Join("; ", error.Errors ?? [])}");
            Assert.Equal(EventTypes.Error, error.Type);
            Assert.Equal(reason, error.Reason);
            Assert.Equal(1, error.Revision);
            Assert.Contains(error.Errors!, m => m.Contains(says, StringComparison.Ordinal));
        }
        program.ResetCounters();
        await Task.Delay(1000);
        Assert.Equal(1, (await h.DesiredAsync())!.Revision);
        Assert.Equal(1, (await h.StatusAsync())!.Revision);
        // The bus keeps publishing: 20 new frames, however long a starved machine takes to deliver them.
        await Eventually(() => Task.FromResult(program.Stats.Frames >= 20), Long, "the bus stopped publishing after the refused commands (fewer than 20 new frames)");
        Assert.True(Colors.Near(program.Latest!.ColorAt(80, 45), A.Rgb), "the refused commands changed nothing on air");
        Assert.True(program.Connections == 1, program.ConnectionReport);

        // The reader goes on: a good command after the bad ones is applied.
        var ok = await h.AnswerAsync(await h.AddCommandAsync(new CutCommand { Bus = "program" }));
        Assert.Equal((EventTypes.CommandApplied, 2L), (ok.Type, ok.Revision));
        await program.WaitForFrameAsync(Long, f => Colors.Near(f.ColorAt(80, 45), B.Rgb));
        h.AssertNoSecretLeaked();
    }

    [Fact]
    public async Task A_killed_worker_restarted_converges_on_the_commands_result_and_does_not_apply_them_again()
    {
        var (h, worker, program) = await StartShowAsync();
        await using var _h = h;
        Assert.Equal(EventTypes.CommandApplied, (await h.AnswerAsync(await h.AddCommandAsync(new CutCommand { Id = "before-1", Bus = "program" }))).Type);
        Assert.Equal(EventTypes.CommandApplied, (await h.AnswerAsync(await h.AddCommandAsync(
            new SetPreviewCommand { Id = "before-2", Bus = "program", Shot = new Shot { Boxes = [FullFrame(Input)] } }))).Type);
        await program.WaitForFrameAsync(Long, f => Colors.Near(f.ColorAt(80, 45), B.Rgb));

        await worker.KillAsync();
        // While no worker runs: a cut (cam-b → cam-a) waits in the stream.
        var whileDown = await h.AddCommandAsync(new CutCommand { Id = "while-down", Bus = "program" });
        await Task.Delay(500);
        var clock = Stopwatch.StartNew();
        var second = h.StartWorker();
        var answer = await h.AnswerAsync(whileDown, Long);
        var applied = clock.Elapsed;
        await h.WaitForStatusAsync(s => s.Revision == 4 && s.Buses["program"].Output == ConnectionState.Connected, Long);
        var connected = clock.Elapsed;
        await program.WaitForFrameAsync(Long, f => Colors.Near(f.ColorAt(80, 45), A.Rgb));
        output.WriteLine($"restart: the waiting command applied after {applied.TotalSeconds:F2} s, output connected at revision 4 after {connected.TotalSeconds:F2} s, its picture on the reader after {clock.Elapsed.TotalSeconds:F2} s");

        Assert.Equal((EventTypes.CommandApplied, 4L), (answer.Type, answer.Revision));
        var desired = (await h.DesiredAsync())!;
        Assert.Equal(4, desired.Revision);
        Assert.Equal(Input, ProgramSource(desired));
        await Task.Delay(1000);
        // The commands before the kill were not carried out again by the new worker.
        Assert.Single(h.Events(), e => e.Type == EventTypes.CommandApplied && e.Entry == whileDown);
        Assert.DoesNotContain(h.Events(), e => e.Type == EventTypes.CommandApplied && e.Command is "before-1" or "before-2" && e.Revision > 3);
        Assert.DoesNotContain("command before-", second.Output);
        Assert.Equal(4, (await h.StatusAsync())!.Revision);
        h.AssertNoSecretLeaked();
    }
}
