using System.Collections.Concurrent;
using MixerWorker.Fleet;

namespace MixerWorker.ControlPlane;

/// <summary>
/// The projects this worker holds or prepares, one <see cref="ProjectRuntime"/> each, and whether the
/// worker is draining. A runtime leaves the registry when it ends, so one claimed again later starts afresh.
/// </summary>
internal sealed class ProjectRegistry
{
    private readonly ConcurrentDictionary<string, ProjectRuntime> _runtimes = new();
    private volatile bool _draining;

    /// <summary>A runtime's mixer runs and it holds the lease.</summary>
    public event Action<ProjectRuntime>? OnAir;
    /// <summary>A runtime ended.</summary>
    public event Action<ProjectRuntime>? Ended;
    /// <summary>A runtime was added or ended, or the worker started draining: the heartbeat is due.</summary>
    public event Action? Changed;

    /// <summary>SIGTERM: the worker takes no more projects and hands over those it has.</summary>
    public bool Draining => _draining;

    public void StartDraining()
    {
        _draining = true;
        Changed?.Invoke();
    }

    public IReadOnlyCollection<ProjectRuntime> All => [.. _runtimes.Values];

    public bool TryGet(string project, out ProjectRuntime runtime) => _runtimes.TryGetValue(project, out runtime!);

    /// <summary>False when the project already has a runtime here.</summary>
    public bool TryAdd(ProjectRuntime runtime)
    {
        if (!_runtimes.TryAdd(runtime.Project, runtime)) return false;
        runtime.OnAir += r => OnAir?.Invoke(r);
        runtime.Ended += r =>
        {
            _runtimes.TryRemove(new KeyValuePair<string, ProjectRuntime>(r.Project, r));
            Ended?.Invoke(r);
            Changed?.Invoke();
        };
        Changed?.Invoke();
        return true;
    }

    /// <summary>The estimated cost of everything held or prepared here.</summary>
    public ProjectCost Estimated => _runtimes.Values.Where(r => r.Role != ProjectRole.Stopped).Aggregate(ProjectCost.None, (sum, r) => sum + r.Cost);
}
