using System.Diagnostics;
using CsCheck;
using MixerWorker.ControlPlane;
using MixerWorker.Pipeline.Engine;
using MixerWorker.Pipeline.Scene;
using MixerWorker.Testbed.Feeds;
using Xunit;
using Xunit.Abstractions;
using static MixerWorker.Tests.WorkerHarness;

namespace MixerWorker.Tests.Fuzz;

/// <summary>A running worker fed generated and mangled control input through Redis: it stays up and the show stays on air.</summary>
public sealed class WorkerFuzzTests(ITestOutputHelper output)
{
    private const int Messages = 500;
    private static readonly TimeSpan Long = TimeSpan.FromSeconds(30);
    private static readonly FeedSpec Cam1 = FeedSpec.Numbered(0, "cam1") with { Width = 160, Height = 90 };
    private static readonly FeedSpec Cam2 = FeedSpec.Numbered(1, "cam2") with { Width = 160, Height = 90 };
    private static readonly OutputFormat Small = new() { Width = 160, Height = 90, Fps = 25, VideoBitrateKbps = 300, AudioBitrateKbps = 64 };

    /// <summary>The names the generators aim at: cam1, cam2 (cam3, cam4 are unknown here), program and aux1 (aux2 unknown), a graphics layer.</summary>
    private static SceneDefinition Show(long revision) => new()
    {
        Project = Project,
        Revision = revision,
        Inputs = [new InputDefinition { Name = "cam1" }, new InputDefinition { Name = "cam2" }],
        Buses =
        [
            new BusDefinition
            {
                Name = "program", Format = Small,
                Layout = [new Box { Source = "cam1", Width = 160, Height = 90, Fit = Fit.Fill }],
                Preview = new Shot { Preset = new LayoutPreset { Kind = PresetKind.Single, Sources = ["cam2"] } },
                Graphics = [new GraphicLayer { File = Logo, Width = 40, Height = 20, FadeMs = 0 }],
            },
            new BusDefinition { Name = "aux1", Format = Small, Preset = new LayoutPreset { Kind = PresetKind.SideBySide, Sources = ["cam1", "cam2"] } },
        ],
    };

    private enum Kind { Command, RawEntry, Desired, ChannelMessage, MediaMtxEvent }

    [Fact]
    public async Task Five_hundred_generated_and_mangled_messages_leave_the_worker_up_and_the_show_on_air()
    {
        await using var h = await WorkerHarness.StartAsync(output);
        h.StartFeed(Cam1);
        h.StartFeed(Cam2);
        await h.WaitForPublisherAsync($"ingest/{Project}/cam1", Long);
        await h.WaitForPublisherAsync($"ingest/{Project}/cam2", Long);
        await h.WriteDesiredAsync(Show(1));
        var worker = h.StartWorker();
        var program = h.Read("program");
        await h.WaitForStatusAsync(s => s.Revision == 1 && s.Inputs.Values.All(i => i.State == ConnectionState.Connected)
            && s.Buses.Values.All(b => b.Output == ConnectionState.Connected), Long);
        await program.WaitForFrameAsync(Long);
        program.ResetCounters();

        var messages = Plan();
        var entries = new List<string>();
        var counts = new Dictionary<Kind, int>();
        var clock = Stopwatch.StartNew();
        foreach (var (kind, text) in messages)
        {
            counts[kind] = counts.GetValueOrDefault(kind) + 1;
            switch (kind)
            {
                case Kind.Command: entries.Add(await h.AddCommandAsync(text)); break;
                case Kind.RawEntry: entries.Add(await h.AddCommandAsync(text, field: "cmd")); break;
                case Kind.Desired: await DesiredAsync(h, text); break;
                case Kind.ChannelMessage: await h.Db.PublishAsync(h.Keys.Events(Project), text); break;
                case Kind.MediaMtxEvent: await h.Db.PublishAsync(h.Keys.MediaMtxEvents, text); break;
            }
            await Task.Delay(10); // a busy operator desk, not a flood: commands older than 30 s would be refused as expired
        }
        var answers = new List<ProjectEvent>();
        foreach (var entry in entries) answers.Add(await h.AnswerAsync(entry, Long));
        var sent = clock.Elapsed;

        output.WriteLine($"{messages.Count} messages in {sent.TotalSeconds:F1} s: " + string.Join(", ", counts.Select(c => $"{c.Key} {c.Value}")));
        foreach (var group in answers.GroupBy(a => a.Type == EventTypes.Error ? $"refused ({a.Reason})" : "applied").OrderBy(g => g.Key))
            output.WriteLine($"  commands {group.Key}: {group.Count()}");
        var stats = program.Stats;
        output.WriteLine($"program output during the run: {stats}; connections {program.Connections}");

        Assert.False(worker.HasExited, "the worker stopped");
        Assert.All(answers.Where(a => a.Type == EventTypes.Error), a =>
        {
            // Conflict: this test also writes desired states every few milliseconds, and a command whose
            // store keeps losing to them is refused with a clear "send it again" (a loaded machine's slower
            // engine makes that likelier).
            Assert.Contains(a.Reason, new[] { ErrorReasons.InvalidCommand, ErrorReasons.UnknownCommand, ErrorReasons.Oversized, ErrorReasons.Conflict });
            Assert.NotEmpty(a.Errors!);
        });
        Assert.Contains(answers, a => a.Type == EventTypes.CommandApplied);
        // The show stayed on air: one output connection all along, pictures throughout, and still coming.
        Assert.True(program.Connections == 1, program.ConnectionReport);
        Assert.InRange(stats.MaxFrameGapMs, 1, 1500);
        var status = await h.WaitForStatusAsync(s => s.UpdatedAt > DateTimeOffset.UtcNow.AddSeconds(-2), Long);
        Assert.Equal(ConnectionState.Connected, status.Buses["program"].Output);
        program.ResetCounters();
        // Still coming: 15 new frames, however long a starved machine takes to deliver them.
        await WorkerHarness.Eventually(() => Task.FromResult(program.Stats.Frames >= 15), Long, "the program bus stopped publishing (fewer than 15 new frames)");
        Assert.DoesNotContain(worker.Lines, l => l.Contains("Unhandled exception", StringComparison.Ordinal));
        h.AssertNoSecretLeaked();
    }

    /// <summary>
    /// A valid desired state that rebuilt a bus (new format or background) or changed the inputs would
    /// take outputs down by design; those are left out (counted as such), anything else is written as
    /// the next revision (or an older one, now and then).
    /// </summary>
    private async Task DesiredAsync(WorkerHarness h, string payload)
    {
        try
        {
            var scene = SceneJson.Parse(payload);
            var current = (await h.DesiredAsync())!;
            if (!scene.Inputs.Select(i => i.Name).SequenceEqual(current.Inputs.Select(i => i.Name))
                || !scene.Buses.Select(b => (b.Name, b.Format, b.Background, b.Enabled, b.Kind)).SequenceEqual(current.Buses.Select(b => (b.Name, b.Format, b.Background, b.Enabled, b.Kind))))
                return;
        }
        catch (SceneException) { }
        var revision = (await h.StatusAsync())?.Revision ?? 1;
        await h.WriteDesiredAsync(payload.Replace("\"revision\": 1,", $"\"revision\": {revision + 1},", StringComparison.Ordinal));
    }

    /// <summary>What goes out, in order: commands (whole and mangled), stream entries without a command,
    /// oversized ones, mangled desired states, junk on the project channel and mangled MediaMTX events.</summary>
    private static List<(Kind, string)> Plan()
    {
        var scene = SceneJson.Write(Show(1));
        var command = ControlInputGen.Command.Select(CommandJson.Write);
        var events = Gen.Select(Gen.OneOf(MediaMtxEvent.IngestOnline, MediaMtxEvent.OutputOffline, "NOPE"), Gen.OneOf("other", "x"),
            (e, p) => ControlPlaneJson.Write(new MediaMtxEvent(e, p, "cam1", "srt")));
        var wakeUps = Gen.OneOf(EventTypes.Command, EventTypes.Desired, "removed?", "").Select(t => ControlPlaneJson.Write(new ProjectEvent { Type = t, Project = Project }));
        var plan = Gen.Frequency(
            (40, command.Select(c => (Kind.Command, c))),
            (25, ControlInputGen.Mutated(command).Select(c => (Kind.Command, c))),
            (3, Gen.Const((Kind.RawEntry, "{\"type\":\"cut\",\"bus\":\"program\"}"))),
            (2, Gen.Int[65_537, 70_000].Select(n => (Kind.Command, $"{{\"type\":\"cut\",\"bus\":\"program\",\"id\":\"{new string('x', n)}\"}}"))),
            (12, ControlInputGen.Mutated(Gen.Const(scene)).Select(s => (Kind.Desired, s))),
            (9, ControlInputGen.Mutated(wakeUps).Select(m => (Kind.ChannelMessage, m))),
            (9, ControlInputGen.Mutated(events).Select(e => (Kind.MediaMtxEvent, e))));
        return plan.Array[Messages].Single().ToList();
    }
}
