using System.Collections.Concurrent;
using CsCheck;
using MixerWorker.ControlPlane;
using MixerWorker.Pipeline.Scene;
using Xunit;
using Xunit.Abstractions;
using static MixerWorker.Tests.Fuzz.ControlInputGen;

namespace MixerWorker.Tests.Fuzz;

/// <summary>
/// Generated and mutated commands and desired states through the worker's own parsing and reducing
/// code (what <c>CommandExecutor</c> and <c>SceneConvergence</c> call): nothing but a typed refusal
/// with a reason ever comes out, and whatever is accepted keeps the scene valid and storable.
/// CsCheck shrinks a failure to a small example and prints the seed that replays it.
/// </summary>
public sealed class ControlInputFuzzTests(ITestOutputHelper output) : IDisposable
{
    // FUZZ_SCALE=N multiplies every count, for a deeper run by hand.
    private static readonly int Scale = int.TryParse(Environment.GetEnvironmentVariable("FUZZ_SCALE"), out var s) && s > 0 ? s : 1;
    private static readonly int Commands = 4000 * Scale, Sequences = 400 * Scale, DesiredStates = 2000 * Scale, Events = 1000 * Scale;
    private const int SequenceLength = 10;

    private readonly string _graphics = CreateGraphicsDirectory();
    private readonly ConcurrentDictionary<string, int> _counts = new();

    private static string CreateGraphicsDirectory()
    {
        var dir = Directory.CreateTempSubdirectory("fuzz-graphics-").FullName;
        File.WriteAllBytes(Path.Combine(dir, Logo), [0x89, 0x50, 0x4E, 0x47]);
        return dir;
    }

    private void Count(string what) => _counts.AddOrUpdate(what, 1, (_, n) => n + 1);

    private void Report(string title)
    {
        output.WriteLine(title);
        foreach (var (what, n) in _counts.OrderBy(c => c.Key)) output.WriteLine($"  {what}: {n}");
    }

    [Fact]
    public void Single_commands_whole_or_mangled_are_refused_with_a_reason_or_leave_a_valid_scene()
    {
        var input = Gen.Select(Scene, Gen.Frequency((1, Command.Select(CommandJson.Write)), (1, Mutated(Command.Select(CommandJson.Write)))));
        input.Sample((scene, json) => CarryOut(scene, json), iter: Commands, threads: 1, print: t => $"{Show(t.Item2)} on {Show(SceneJson.Write(t.Item1))}");
        Report($"{Commands} commands:");
        Assert.Equal(Commands, _counts.Where(c => c.Key.StartsWith("command ", StringComparison.Ordinal)).Sum(c => c.Value));
        Assert.True(_counts.GetValueOrDefault("command accepted") > Commands / 10, "the generator should produce a fair share of commands that apply");
    }

    [Fact]
    public void Any_sequence_of_accepted_commands_keeps_the_scene_valid()
    {
        var input = Gen.Select(Scene, Command.Array[SequenceLength]);
        input.Sample((scene, commands) =>
        {
            foreach (var command in commands) scene = CarryOut(scene, CommandJson.Write(command)) ?? scene;
        }, iter: Sequences, threads: 1, print: t => string.Join("\n", t.Item2.Select(CommandJson.Write)) + "\non " + Show(SceneJson.Write(t.Item1)));
        Report($"{Sequences} sequences of {SequenceLength} commands:");
        Assert.Equal(Sequences * SequenceLength, _counts.Where(c => c.Key.StartsWith("command ", StringComparison.Ordinal)).Sum(c => c.Value));
    }

    [Fact]
    public void Desired_states_whole_or_mangled_are_refused_with_a_reason_or_valid()
    {
        var input = Gen.Frequency((1, Scene.Select(SceneJson.Write)), (3, Mutated(Scene.Select(SceneJson.Write))));
        input.Sample(Converge, iter: DesiredStates, threads: 1, print: Show);
        Report($"{DesiredStates} desired states:");
        Assert.Equal(DesiredStates, _counts.Where(c => c.Key.StartsWith("desired ", StringComparison.Ordinal)).Sum(c => c.Value));
    }

    [Fact]
    public void MediaMTX_events_whole_or_mangled_are_ignored_with_a_reason_or_complete()
    {
        var events = Gen.Select(Gen.OneOf(MediaMtxEvent.IngestOnline, MediaMtxEvent.IngestOffline, MediaMtxEvent.OutputOnline, "NOPE"),
            Gen.OneOf("fuzz", "other"), Gen.OneOf("cam1", "program", ""), (e, p, n) => ControlPlaneJson.Write(new MediaMtxEvent(e, p, n, "srt")));
        Gen.Frequency((1, events), (3, Mutated(events))).Sample(text =>
        {
            DesiredStateService.TypeOf(text); // what the channel listeners sniff from any message
            var parsed = MediaMtxEvent.TryParse(text, out var error);
            if (parsed is null)
            {
                Assert.False(string.IsNullOrWhiteSpace(error));
                Count("event refused");
                return;
            }
            Assert.Null(error);
            Assert.False(string.IsNullOrEmpty(parsed.Event) || parsed.Project is null || parsed.Name is null);
            Count("event accepted");
        }, iter: Events, threads: 1, print: Show);
        Report($"{Events} MediaMTX events:");
    }

    /// <summary>
    /// One command the way the worker carries it out: parse (CommandJson), reduce against the scene
    /// (ShowReducer, as ProjectMixer.ExecuteAsync does), then everything the engine computes from the
    /// result. Returns the next scene, or null when the command was refused.
    /// </summary>
    private SceneDefinition? CarryOut(SceneDefinition scene, string json)
    {
        DesiredStateService.TypeOf(json); // what the channel listeners sniff from any message
        ShowCommand command;
        try { command = CommandJson.Parse(json); }
        catch (CommandException e)
        {
            Assert.Contains(e.Reason, new[] { ErrorReasons.InvalidCommand, ErrorReasons.UnknownCommand });
            AssertReasons(e.Errors);
            Count($"command refused by the parser ({e.Reason})");
            return null;
        }

        ShowStep step;
        try { step = ShowReducer.Apply(scene, command); }
        catch (SceneException e)
        {
            AssertReasons(e.Errors);
            Count("command refused by the reducer");
            return null;
        }
        var next = step.Next;
        AssertValidAndStorable(next);
        Assert.Equal(scene.Project, next.Project);
        Assert.Equal(scene.Revision + 1, next.Revision);
        Assert.Equal(scene.Inputs.Select(i => i.Name), next.Inputs.Select(i => i.Name));
        Assert.Equal(scene.Buses.Select(b => b.Name), next.Buses.Select(b => b.Name));
        // What the engine derives from a scene on the control thread must not fail either.
        Tally.Compute(next, step.Animations);
        foreach (var bus in next.Buses)
        {
            FrameComposer.Steady(bus);
            AudioPlan.Gains(bus, null, 0);
            if (bus.Kind == BusKind.Multiview) MultiviewLayout.Tiles(next, bus.Format);
        }
        foreach (var (_, animation) in step.Animations)
            foreach (var progress in (double[])[0, 0.25, 0.5, 1])
            {
                FrameComposer.Compose(animation, progress);
                AudioPlan.Gains(animation.To, animation, progress);
            }
        Count("command accepted");
        return next;
    }

    /// <summary>A desired state the way SceneConvergence takes it: best-effort revision for the error, parse, validate, graphics files.</summary>
    private void Converge(string payload)
    {
        SceneRevision.Of(payload); // read from anything the store may hold, for the error event
        SceneDefinition scene;
        try { scene = SceneJson.Parse(payload); }
        catch (SceneException e)
        {
            AssertReasons(e.Errors);
            Count("desired refused (invalid-scene)");
            return;
        }
        AssertValidAndStorable(scene);
        Count(scene.Project == Project ? "desired accepted" : "desired refused (wrong-project)");
    }

    private void AssertValidAndStorable(SceneDefinition scene)
    {
        Assert.Empty(SceneValidator.Validate(scene));
        // What the worker stores must read back as the same scene.
        var stored = SceneJson.Write(scene);
        Assert.Equal(stored, SceneJson.Write(SceneJson.Parse(stored)));
        foreach (var layer in scene.Buses.SelectMany(b => b.Graphics))
        {
            // The engine's ResolveGraphic turns ArgumentException into a refusal; anything else would escape.
            try { GraphicsFiles.Resolve(_graphics, layer.File); }
            catch (ArgumentException e) { Assert.False(string.IsNullOrWhiteSpace(e.Message)); }
        }
    }

    private static void AssertReasons(IReadOnlyList<string> errors)
    {
        Assert.NotEmpty(errors);
        Assert.All(errors, e => Assert.False(string.IsNullOrWhiteSpace(e)));
        // The refusal goes out as an error event: it must serialise whatever the input held.
        ControlPlaneJson.Write(new ProjectEvent { Type = EventTypes.Error, Project = Project, Reason = ErrorReasons.InvalidCommand, Errors = errors });
    }

    public void Dispose() => Directory.Delete(_graphics, recursive: true);
}
