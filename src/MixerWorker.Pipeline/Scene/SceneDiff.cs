namespace MixerWorker.Pipeline.Scene;

/// <summary>
/// What it takes to move a running project to its next scene, worked out before anything changes:
/// which inputs to add and remove, which buses to stop (gone, disabled, or rebuilt because their
/// format changed), and how to show every bus of the next scene. Pure: the engine carries it out on
/// its control thread in one call (Engine/ProjectGraph), and tests check it without GStreamer.
/// </summary>
public sealed record SceneDiff
{
    /// <summary>The scene in force once the diff is carried out.</summary>
    public required SceneDefinition Next { get; init; }
    /// <summary>Inputs to build, in the next scene's order.</summary>
    public IReadOnlyList<string> AddInputs { get; init; } = [];
    /// <summary>Inputs to take down once no bus shows them any more.</summary>
    public IReadOnlyList<string> RemoveInputs { get; init; } = [];
    /// <summary>Buses whose output stops and whose branch goes before anything is shown: gone, disabled or rebuilt.</summary>
    public IReadOnlyList<string> RemoveBuses { get; init; } = [];
    /// <summary>Every enabled bus of the next scene, in order, with how it gets there.</summary>
    public IReadOnlyList<BusShow> Buses { get; init; } = [];
    /// <summary>Buses whose running transition ends at once (a cut during a transition).</summary>
    public IReadOnlySet<string> FinishTransitions { get; init; } = new HashSet<string>();

    /// <summary>The change only finishes transitions: the scene stays as it is, nothing is built, removed or shown again.</summary>
    public bool FinishesOnly { get; private init; }

    /// <param name="runningInputs">The inputs the pipeline has now.</param>
    /// <param name="runningBuses">The buses the pipeline has now, as last shown.</param>
    /// <param name="step">The scene to move to and the animations and fades that get there.</param>
    public static SceneDiff Between(IReadOnlyCollection<string> runningInputs, IReadOnlyCollection<BusDefinition> runningBuses, ShowStep step)
    {
        var next = step.Next;
        // A cut that finishes a transition leaves the scene as it is: nothing to build or show again.
        if (step.FinishTransitions.Count > 0 && step.Animations.Count == 0 && step.FadeToBlackMs.Count == 0
            && SameBuses(runningBuses, next) && runningInputs.ToHashSet().SetEquals(next.Inputs.Select(i => i.Name)))
            return new SceneDiff { Next = next, FinishTransitions = step.FinishTransitions, FinishesOnly = true };
        var wanted = next.Buses.Where(b => b.Enabled).ToDictionary(b => b.Name);
        var removeBuses = runningBuses.Where(b => !wanted.TryGetValue(b.Name, out var w) || NeedsRebuild(b, w)).Select(b => b.Name).ToList();
        var kept = runningBuses.Select(b => b.Name).Except(removeBuses).ToHashSet();
        return new SceneDiff
        {
            Next = next,
            AddInputs = next.Inputs.Select(i => i.Name).Where(i => !runningInputs.Contains(i)).ToList(),
            RemoveInputs = runningInputs.Where(i => next.FindInput(i) is null).ToList(),
            RemoveBuses = removeBuses,
            Buses = wanted.Values.Select(b => new BusShow(b, Build: !kept.Contains(b.Name),
                step.Animations.TryGetValue(b.Name, out var a) ? a.Transition : TransitionSpec.Cut,
                TimeSpan.FromMilliseconds(step.FadeToBlackMs.GetValueOrDefault(b.Name)))).ToList(),
            FinishTransitions = step.FinishTransitions,
        };
    }

    /// <summary>Bitrate changes apply live; size, rate, GOP or codec changes need new caps downstream, and so does a new background.</summary>
    public static bool NeedsRebuild(BusDefinition current, BusDefinition wanted) =>
        current.Format with { VideoBitrateKbps = 0 } != wanted.Format with { VideoBitrateKbps = 0 } || current.Background != wanted.Background;

    private static bool SameBuses(IReadOnlyCollection<BusDefinition> running, SceneDefinition next) =>
        running.Count == next.Buses.Count(b => b.Enabled) && running.All(r => next.FindBus(r.Name) == r);
}

/// <summary>
/// One bus of the next scene: built from scratch when <see cref="Build"/> is set, then shown through
/// <see cref="Transition"/> (a cut when nothing animates it) with its fade to black taking <see cref="FadeToBlack"/>.
/// </summary>
public sealed record BusShow(BusDefinition Bus, bool Build, TransitionSpec Transition, TimeSpan FadeToBlack);
