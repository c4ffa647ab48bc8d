namespace MixerWorker.Fleet;

/// <summary>Which of the workers with room claims a project without an owner.</summary>
public enum ClaimPolicy
{
    /// <summary>The least loaded worker (by share of its capacity) claims at once; each worker ranked after it waits FLEET__RANKSTEPMS longer.</summary>
    LeastLoaded,
    /// <summary>Whoever scans first: no waiting, projects go where they go.</summary>
    FirstCome,
}
