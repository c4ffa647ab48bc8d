namespace MixerWorker.Fleet;

/// <summary>What a project is expected to take from a worker: CPUs, and GPU encoder sessions (one per bus on a GPU backend).</summary>
public sealed record ProjectCost(double Cpus, int GpuSessions)
{
    public static readonly ProjectCost None = new(0, 0);

    public static ProjectCost operator +(ProjectCost a, ProjectCost b) => new(a.Cpus + b.Cpus, a.GpuSessions + b.GpuSessions);
}
