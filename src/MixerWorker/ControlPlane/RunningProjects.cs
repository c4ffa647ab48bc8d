using System.Collections.Concurrent;
using MixerWorker.Pipeline.Engine;
using MixerWorker.Pipeline.Scene;

namespace MixerWorker.ControlPlane;

/// <summary>Which worker runs which project. One worker for now; a scheduler would replace this alone.</summary>
public interface IProjectAssignment
{
    bool Runs(string project);
}

internal sealed class RunEveryProject : IProjectAssignment
{
    public bool Runs(string project) => true;
}

/// <summary>
/// What this worker knows about one project. <see cref="Gate"/> serialises everything that changes
/// what is on air (converging on the desired state, executing commands, stopping), so a command is
/// always reduced against the scene the desired key holds and a removal never races a command.
/// </summary>
internal sealed class ProjectState(string project)
{
    public string Project { get; } = project;
    public SemaphoreSlim Gate { get; } = new(1, 1);

    // Guarded by Gate.
    public IProjectMixer? Mixer { get; set; }
    /// <summary>The revision on air: the desired state's, or the one the last command produced.</summary>
    public long Revision { get; set; }
    /// <summary>The last desired payload looked at, so that a refused one is reported once and the worker's own write is no change.</summary>
    public string? SeenPayload { get; set; }
    /// <summary>The canonical JSON of the scene on air (revision included).</summary>
    public string? AppliedScene { get; set; }
    /// <summary>The last commands stream entry dealt with; null until read from Redis. Read without the gate by the status.</summary>
    public string? Cursor { get; set; }
    public bool Removed { get; set; }
    /// <summary>A command carried out whose result is not stored yet; stored before any other entry is read.</summary>
    public PendingCommand? Pending { get; set; }

    // Written by the services that hear about them, read by the status service.
    public volatile TallyState? Tally;
    /// <summary>Per input: true after INGEST_ONLINE, false after INGEST_OFFLINE.</summary>
    public ConcurrentDictionary<string, bool> IngestOnline { get; } = new();
    /// <summary>Per bus: true after OUTPUT_ONLINE, false after OUTPUT_OFFLINE.</summary>
    public ConcurrentDictionary<string, bool> OutputPublished { get; } = new();
    /// <summary>Held while the status key is written, so that a removal's delete comes after any write in flight.</summary>
    public SemaphoreSlim StatusWrite { get; } = new(1, 1);

    /// <summary>How many of the latest errors the status carries.</summary>
    public const int RecentErrorCount = 5;
    private readonly Lock _noticeLock = new();
    private readonly Queue<EventReport> _errors = new();
    private EventReport? _lastAnswer;

    /// <summary>
    /// Remembers a command's answer or an error as it goes out on the channel, so that the status
    /// (and the dashboard, which reads it) shows them to whoever was not listening at the time.
    /// </summary>
    public void Noticed(ProjectEvent e)
    {
        var report = EventReport.Of(e, DateTimeOffset.UtcNow);
        lock (_noticeLock)
        {
            if (e.Entry is not null) _lastAnswer = report;
            if (e.Type != EventTypes.Error) return;
            _errors.Enqueue(report);
            while (_errors.Count > RecentErrorCount) _errors.Dequeue();
        }
    }

    /// <summary>The last command answer and the latest errors, oldest first.</summary>
    public (EventReport? LastAnswer, IReadOnlyList<EventReport> Errors) Notices
    {
        get { lock (_noticeLock) return (_lastAnswer, [.. _errors]); }
    }
}

/// <summary>The projects this process knows and the mixers it runs, shared by the services that start, command, report on and nudge them.</summary>
internal sealed class RunningProjects
{
    private readonly ConcurrentDictionary<string, ProjectState> _states = new();

    /// <summary>Raised when a project's mixer has started (after its first scene is on air).</summary>
    public event Action<ProjectState>? Started;
    /// <summary>Raised when a project's mixer has stopped because the project was removed.</summary>
    public event Action<ProjectState>? Stopped;

    public ProjectState State(string project) => _states.GetOrAdd(project, p => new ProjectState(p));

    public bool TryGetState(string project, out ProjectState state) => _states.TryGetValue(project, out state!);

    public bool TryGet(string project, out IProjectMixer mixer)
    {
        mixer = null!;
        if (!_states.TryGetValue(project, out var state) || state.Mixer is not { } m) return false;
        mixer = m;
        return true;
    }

    /// <summary>Every project with a running mixer.</summary>
    public IReadOnlyCollection<ProjectState> Running => [.. _states.Values.Where(s => s.Mixer is not null)];

    public IReadOnlyCollection<IProjectMixer> All => [.. _states.Values.Select(s => s.Mixer).OfType<IProjectMixer>()];

    /// <summary>Call with the gate held, once the mixer runs its first scene.</summary>
    public void Add(ProjectState state, IProjectMixer mixer)
    {
        state.Mixer = mixer;
        Started?.Invoke(state);
    }

    /// <summary>Call with the gate held: forgets the project, so that one created again later starts afresh.</summary>
    public void Forget(ProjectState state)
    {
        state.Removed = true;
        _states.TryRemove(new KeyValuePair<string, ProjectState>(state.Project, state));
        Stopped?.Invoke(state);
    }

    /// <summary>Stops every mixer at once (their outputs end); returns early when <paramref name="token"/> fires.</summary>
    public async Task StopAllAsync(CancellationToken token)
    {
        var stopping = _states.Values.ToList().Select(async s =>
        {
            if (s.Mixer is not { } m) return;
            s.Mixer = null;
            await m.DisposeAsync();
        });
        await Task.WhenAll(stopping).WaitAsync(token);
    }
}

internal static class SceneRevision
{
    /// <summary>Best effort: the revision field of a stored payload, or 0.</summary>
    public static long Of(string? payload)
    {
        if (string.IsNullOrEmpty(payload)) return 0;
        try
        {
            using var doc = System.Text.Json.JsonDocument.Parse(payload);
            // TryGetInt64 throws on anything but a number: a revision written as "7" or [7] must not.
            return doc.RootElement.ValueKind == System.Text.Json.JsonValueKind.Object && doc.RootElement.TryGetProperty("revision", out var r)
                && r.ValueKind == System.Text.Json.JsonValueKind.Number && r.TryGetInt64(out var v) ? v : 0;
        }
        catch (System.Text.Json.JsonException) { return 0; }
    }
}
