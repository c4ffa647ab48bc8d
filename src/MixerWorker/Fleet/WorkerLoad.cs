using System.Reflection;
using Microsoft.Extensions.Options;
using MixerWorker.ControlPlane;
using MixerWorker.Pipeline.Engine;

namespace MixerWorker.Fleet;

/// <summary>
/// This worker's capacity and load, as admission and the heartbeat see them. Capacity = CPUs (FLEET__CPUS,
/// else the container's quota, else the cores) × FLEET__TARGETUTILISATION. Load = the larger of the cost
/// model's estimate of everything held or prepared here and the CPU the process measurably uses.
/// </summary>
internal sealed class WorkerLoad
{
    private static readonly string Version = typeof(WorkerLoad).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown";
    private readonly ProjectRegistry _registry;
    private readonly ICpuMeter _meter;
    private readonly IProjectMixerFactory _mixers;
    private readonly FleetOptions _fleet;
    private readonly string _id;
    private readonly DateTimeOffset _started = DateTimeOffset.UtcNow;
    private double _measured;

    public WorkerLoad(ProjectRegistry registry, ICpuMeter meter, IProjectMixerFactory mixers, IOptions<FleetOptions> fleet, IOptions<WorkerOptions> worker)
    {
        (_registry, _meter, _mixers, _fleet, _id) = (registry, meter, mixers, fleet.Value, worker.Value.Id);
        Cpus = _fleet.Cpus is { } cpus ? new CpuCapacity.Detected(cpus, "FLEET__CPUS") : CpuCapacity.Detect();
    }

    public CpuCapacity.Detected Cpus { get; }
    public double CapacityCpus => Math.Round(Cpus.Cpus * _fleet.TargetUtilisation, 4);
    public double EstimatedCpus => Math.Round(_registry.Estimated.Cpus, 4);
    /// <summary>The process's CPU use, as of the last <see cref="Sample"/>.</summary>
    public double MeasuredCpus => Math.Round(Volatile.Read(ref _measured), 4);
    public double LoadCpus => Math.Max(EstimatedCpus, MeasuredCpus);
    public double FreeCpus => CapacityCpus - LoadCpus;

    /// <summary>Reads the CPU meter (every heartbeat).</summary>
    public void Sample() => Volatile.Write(ref _measured, _meter.Cpus);

    public WorkerHeartbeat Snapshot()
    {
        var runtimes = _registry.All.Where(r => r.Role != ProjectRole.Stopped).ToList();
        var encoders = _mixers.Encoders;
        return new WorkerHeartbeat
        {
            Id = _id,
            Host = Environment.MachineName,
            Version = Version,
            State = _registry.Draining ? WorkerStates.Draining : runtimes.Count > 0 ? WorkerStates.Active : WorkerStates.Standby,
            StartedAt = _started,
            UpdatedAt = DateTimeOffset.UtcNow,
            Cpus = Math.Round(Cpus.Cpus, 3),
            CpusSource = Cpus.Source,
            TargetUtilisation = _fleet.TargetUtilisation,
            CapacityCpus = CapacityCpus,
            EstimatedCpus = EstimatedCpus,
            MeasuredCpus = MeasuredCpus,
            LoadCpus = LoadCpus,
            EncoderBackend = encoders.Selected,
            EncoderBackends = encoders.Available,
            GpuSessions = _registry.Estimated.GpuSessions,
            ClaimPolicy = _fleet.ClaimPolicy.ToString(),
            Projects = [.. runtimes.OrderBy(r => r.Project, StringComparer.Ordinal)
                .Select(r => new WorkerProject(r.Project, r.Lease?.Epoch, RoleName(r.Role), Math.Round(r.Cost.Cpus, 4)))],
        };
    }

    private static string RoleName(ProjectRole role) => role switch
    {
        ProjectRole.Preparing => "preparing",
        ProjectRole.HandingOver => "handing-over",
        _ => "owner",
    };
}
