using System.Collections.Concurrent;
using MixerWorker.Pipeline.Engine;

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

/// <summary>The mixers this process runs, shared by the services that start, report on and nudge them.</summary>
internal sealed class RunningProjects
{
    private readonly ConcurrentDictionary<string, ProjectMixer> _mixers = new();

    public bool TryGet(string project, out ProjectMixer mixer) => _mixers.TryGetValue(project, out mixer!);
    public IReadOnlyCollection<ProjectMixer> All => [.. _mixers.Values];
    public void Add(ProjectMixer mixer) => _mixers[mixer.Project] = mixer;

    /// <summary>Stops every mixer at once (their outputs end); returns early when <paramref name="token"/> fires.</summary>
    public async Task StopAllAsync(CancellationToken token)
    {
        var stopping = _mixers.Keys.ToList().Select(p => _mixers.TryRemove(p, out var m) ? m.DisposeAsync().AsTask() : Task.CompletedTask);
        await Task.WhenAll(stopping).WaitAsync(token);
    }
}
