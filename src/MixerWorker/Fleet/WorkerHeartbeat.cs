namespace MixerWorker.Fleet;

/// <summary>
/// A worker's heartbeat record (mixer:worker:&lt;id&gt;, refreshed every FLEET__HEARTBEATMS with a TTL of
/// three beats). Other workers rank themselves against these numbers; `ctl workers` prints them.
/// CPUs are cores' worth: capacity = cpus × target utilisation; load = max(estimated, measured).
/// </summary>
public sealed record WorkerHeartbeat
{
    public required string Id { get; init; }
    public required string Host { get; init; }
    public required string Version { get; init; }
    /// <summary>active (runs projects), standby (runs none, can take some), draining (stopping; takes nothing).</summary>
    public required string State { get; init; }
    public required DateTimeOffset StartedAt { get; init; }
    public required DateTimeOffset UpdatedAt { get; init; }
    public required double Cpus { get; init; }
    /// <summary>Where <see cref="Cpus"/> came from: cgroup v2/v1 quota, processor count, or FLEET__CPUS.</summary>
    public required string CpusSource { get; init; }
    public required double TargetUtilisation { get; init; }
    public required double CapacityCpus { get; init; }
    /// <summary>The cost model's estimate of every project the worker holds or prepares.</summary>
    public required double EstimatedCpus { get; init; }
    /// <summary>What the process actually used lately.</summary>
    public required double MeasuredCpus { get; init; }
    /// <summary>What admission counts: the larger of estimate and measurement.</summary>
    public required double LoadCpus { get; init; }
    public double FreeCpus => Math.Round(CapacityCpus - LoadCpus, 4);
    /// <summary>The encoder backend new projects get, and every one this host has.</summary>
    public required string EncoderBackend { get; init; }
    public required IReadOnlyList<string> EncoderBackends { get; init; }
    public required int GpuSessions { get; init; }
    public required string ClaimPolicy { get; init; }
    public required IReadOnlyList<WorkerProject> Projects { get; init; }
}
