using Microsoft.Extensions.Options;
using MixerWorker.Pipeline.Engine;
using MixerWorker.Pipeline.Scene;
using StackExchange.Redis;

namespace MixerWorker.ControlPlane;

/// <summary>
/// Makes every event published on a project's channel (docs/redis-protocol.md), so that each type has one
/// shape: the worker's events name the worker (the epoch is added where they are written under the lease),
/// ctl's wake-ups name no worker. The lease's own events (claimed, released, lost, handover) are written by
/// the lease scripts (Fleet/LeaseScripts.cs) in the same shape.
/// </summary>
public sealed class ProjectEvents(IOptions<WorkerOptions> worker)
{
    private readonly string _worker = worker.Value.Id;

    /// <summary>A desired state went on air.</summary>
    public ProjectEvent Applied(string project, long revision) => Worker(EventTypes.Applied, project, revision);

    /// <summary>A desired state that was refused or could not be applied; what was on air stays.</summary>
    public ProjectEvent Refused(string project, long? revision, string reason, IReadOnlyList<string> errors) =>
        Worker(EventTypes.Error, project, revision) with { Reason = reason, Errors = errors };

    /// <summary>A command carried out (or, <paramref name="duplicate"/>, one whose id had already been carried out at <paramref name="revision"/>).</summary>
    public ProjectEvent CommandApplied(string project, long revision, string command, string entry, bool duplicate = false) =>
        Worker(EventTypes.CommandApplied, project, revision) with { Command = command, Entry = entry, Duplicate = duplicate ? true : null };

    /// <summary>A command refused; what was on air stays.</summary>
    public ProjectEvent CommandRefused(string project, long revision, string command, string entry, string reason, IReadOnlyList<string> errors) =>
        Worker(EventTypes.Error, project, revision) with { Command = command, Entry = entry, Reason = reason, Errors = errors };

    public ProjectEvent Tally(string project, long revision, IReadOnlyDictionary<string, BusTally> tally) =>
        Worker(EventTypes.Tally, project, revision) with { Tally = tally };

    public ProjectEvent Meters(string project, AudioMeters meters) => Worker(EventTypes.Meters, project, null) with { Meters = meters };

    /// <summary>A removed project stopped here.</summary>
    public ProjectEvent Stopped(string project, long revision) => Worker(EventTypes.Stopped, project, revision);

    /// <summary>A status key written: by its owner, or, for a waiting project, by the worker that reports it (no owner then).</summary>
    public static ProjectEvent Status(ProjectStatus status) =>
        new() { Type = EventTypes.Status, Project = status.Project, Revision = status.Revision, Worker = status.Worker, Status = status };

    /// <summary>ctl wrote a desired state.</summary>
    public static ProjectEvent Desired(string project, long revision) => new() { Type = EventTypes.Desired, Project = project, Revision = revision };

    /// <summary>ctl added a command (with its id, if it has one) to the project's stream.</summary>
    public static ProjectEvent CommandQueued(string project, string? command) => new() { Type = EventTypes.Command, Project = project, Command = command };

    /// <summary>ctl removed the project.</summary>
    public static ProjectEvent Removed(string project) => new() { Type = EventTypes.Removed, Project = project };

    /// <summary>Queues the event in a transaction or batch (or sends it now on a database): unfenced, for writes checked otherwise.</summary>
    public static Task<long> PublishAsync(IDatabaseAsync db, RedisKeys keys, ProjectEvent e) =>
        db.PublishAsync(keys.Events(e.Project), ControlPlaneJson.Write(e));

    private ProjectEvent Worker(string type, string project, long? revision) => new() { Type = type, Project = project, Revision = revision, Worker = _worker };
}
