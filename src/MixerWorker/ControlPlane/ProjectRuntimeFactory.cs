using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using MixerWorker.Fleet;
using MixerWorker.Pipeline.Engine;

namespace MixerWorker.ControlPlane;

/// <summary>Makes <see cref="ProjectRuntime"/>s and holds what they share (connections, helpers, settings).</summary>
internal sealed class ProjectRuntimeFactory(
    RedisConnection redis,
    LeaseStore leases,
    FencedWriter fenced,
    IProjectMixerFactory mixers,
    SceneConvergence convergence,
    CommandExecutor executor,
    ProjectEvents events,
    ProjectCostModel costs,
    IOptions<WorkerOptions> worker,
    IOptions<FleetOptions> fleet,
    ILoggerFactory loggers)
{
    public RedisConnection Redis => redis;
    public LeaseStore Leases => leases;
    public FencedWriter Fenced => fenced;
    public IProjectMixerFactory Mixers => mixers;
    public SceneConvergence Convergence => convergence;
    public CommandExecutor Executor => executor;
    public ProjectEvents Events => events;
    public ProjectCostModel Costs => costs;
    public WorkerOptions Worker => worker.Value;
    public FleetOptions Fleet => fleet.Value;
    public ILoggerFactory Loggers => loggers;

    /// <summary>A project this worker prepares to take over (drain of another worker).</summary>
    public ProjectRuntime Prepare(string project, ProjectCost cost) => new(project, ProjectRole.Preparing, cost, this);

    /// <summary>A project whose lease this worker just took; <paramref name="sentAt"/> is when the claim left (Stopwatch timestamp).</summary>
    public ProjectRuntime Own(string project, ProjectCost cost, LeaseToken token, long sentAt)
    {
        var runtime = new ProjectRuntime(project, ProjectRole.Owner, cost, this);
        runtime.Hold(token, sentAt);
        return runtime;
    }
}
