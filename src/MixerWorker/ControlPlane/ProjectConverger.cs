using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using MixerWorker.Observability;
using MixerWorker.Pipeline.Engine;
using MixerWorker.Pipeline.Scene;
using StackExchange.Redis;

namespace MixerWorker.ControlPlane;

/// <summary>
/// Makes one project's mixer match its desired state, and stops a removed project. Used by the
/// desired-state loop and, before every command, by the command reader: both under the project's gate.
/// </summary>
internal sealed class ProjectConverger(
    RedisConnection redis,
    RunningProjects running,
    IProjectMixerFactory mixers,
    IOptions<WorkerOptions> workerOptions,
    WorkerMetrics metrics,
    ILogger<ProjectConverger> log)
{
    private readonly WorkerOptions _worker = workerOptions.Value;

    public async Task ConvergeAsync(IDatabase db, string project)
    {
        var state = running.State(project);
        await state.Gate.WaitAsync();
        try
        {
            if (!state.Removed) await ConvergeLockedAsync(db, state);
        }
        finally { state.Gate.Release(); }
    }

    /// <summary>Reads the desired key and applies it when it changed. The caller holds <see cref="ProjectState.Gate"/>.</summary>
    public async Task ConvergeLockedAsync(IDatabase db, ProjectState state)
    {
        var started = Stopwatch.GetTimestamp();
        if (await ReadAndApplyAsync(db, state) is { } result) metrics.DesiredConverged(result, Stopwatch.GetElapsedTime(started));
    }

    private const string Applied = "applied", Refused = "refused", Failed = "failed";

    /// <summary>Null when nothing changed; else what became of the change: applied, refused or failed.</summary>
    private async Task<string?> ReadAndApplyAsync(IDatabase db, ProjectState state)
    {
        var project = state.Project;
        var key = redis.Keys.Desired(project);
        // Measure before fetching, so that an oversized value is not downloaded at every resync.
        var length = await db.StringLengthAsync(key);
        if (length == 0) return null; // nothing desired yet, or Redis lost its data: what is on air stays on air
        if (length > _worker.MaxSceneBytes)
        {
            if (!FirstLook(state, $"oversized:{length}")) return null;
            await RefuseAsync(db, state, null, ErrorReasons.Oversized, [$"the desired state is {length} bytes; the limit is {_worker.MaxSceneBytes} bytes"]);
            return Refused;
        }
        string payload = (await db.StringGetAsync(key)).ToString();
        if (!FirstLook(state, payload)) return null;

        SceneDefinition scene;
        try { scene = SceneJson.Parse(payload); }
        catch (SceneException e)
        {
            await RefuseAsync(db, state, RevisionOrNull(payload), ErrorReasons.InvalidScene, e.Errors);
            return Refused;
        }
        if (scene.Project != project)
        {
            await RefuseAsync(db, state, scene.Revision, ErrorReasons.WrongProject, [$"the scene names project '{scene.Project}' but is stored under project '{project}'"]);
            return Refused;
        }
        var canonical = SceneJson.Write(scene);
        if (state.AppliedScene == canonical) return null;
        if (state.Mixer is not null && scene.Revision <= state.Revision)
        {
            await RefuseAsync(db, state, scene.Revision, ErrorReasons.StaleRevision,
                [$"revision {scene.Revision} is not newer than the applied revision {state.Revision}; write a higher revision"]);
            return Refused;
        }
        return await ApplyAsync(db, state, scene, canonical);
    }

    private async Task<string> ApplyAsync(IDatabase db, ProjectState state, SceneDefinition scene, string canonical)
    {
        try
        {
            if (state.Mixer is { } mixer) await mixer.ApplyAsync(scene);
            else
            {
                var started = await mixers.StartAsync(scene);
                state.Revision = scene.Revision;
                state.AppliedScene = canonical;
                running.Add(state, started);
            }
        }
        catch (SceneException e)
        {
            await RefuseAsync(db, state, scene.Revision, ErrorReasons.InvalidScene, e.Errors);
            return Refused;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // Possibly transient (GStreamer, resources): forget the payload so that the next resync tries again.
            state.SeenPayload = null;
            log.LogError(e, "project {Project}: revision {Revision} could not be applied", scene.Project, scene.Revision);
            var failed = new ProjectEvent
            {
                Type = EventTypes.Error, Project = scene.Project, Revision = scene.Revision, Worker = _worker.Id,
                Reason = ErrorReasons.ApplyFailed, Errors = [e.Message],
            };
            state.Noticed(failed);
            await PublishAsync(db, failed);
            return Failed;
        }
        state.Revision = scene.Revision;
        state.AppliedScene = canonical;
        log.LogInformation("project {Project}: revision {Revision} applied", scene.Project, scene.Revision);
        await PublishAsync(db, new ProjectEvent { Type = EventTypes.Applied, Project = scene.Project, Revision = scene.Revision, Worker = _worker.Id });
        return Applied;
    }

    /// <summary>
    /// Stops a project that was removed: its mixer ends (outputs end), its status key is deleted and a
    /// <c>stopped</c> event goes out. Only called when the removal tombstone exists, never because a key is missing.
    /// </summary>
    public async Task StopRemovedAsync(IDatabase db, string project)
    {
        if (!running.TryGetState(project, out var state)) return;
        await state.Gate.WaitAsync();
        try
        {
            if (state.Removed) return;
            var mixer = state.Mixer;
            state.Mixer = null;
            running.Forget(state);
            log.LogInformation("project {Project}: removed; stopping its mixer", project);
            if (mixer is not null) await mixer.DisposeAsync();
            await state.StatusWrite.WaitAsync();
            try { await db.KeyDeleteAsync(redis.Keys.Status(project)); }
            finally { state.StatusWrite.Release(); }
            await PublishAsync(db, new ProjectEvent { Type = EventTypes.Stopped, Project = project, Revision = state.Revision, Worker = _worker.Id });
        }
        finally { state.Gate.Release(); }
    }

    private static bool FirstLook(ProjectState state, string payload)
    {
        if (state.SeenPayload == payload) return false;
        state.SeenPayload = payload;
        return true;
    }

    private async Task RefuseAsync(IDatabase db, ProjectState state, long? revision, string reason, IReadOnlyList<string> errors)
    {
        log.LogWarning("project {Project}: desired state refused ({Reason}): {Errors}; what is on air stays", state.Project, reason, string.Join("; ", errors));
        var refused = new ProjectEvent { Type = EventTypes.Error, Project = state.Project, Revision = revision, Worker = _worker.Id, Reason = reason, Errors = errors };
        state.Noticed(refused);
        await PublishAsync(db, refused);
    }

    private Task PublishAsync(IDatabase db, ProjectEvent e) => db.PublishAsync(redis.Keys.Events(e.Project), ControlPlaneJson.Write(e));

    // Best effort, for the error event of a scene that did not parse as a whole.
    private static long? RevisionOrNull(string payload) => SceneRevision.Of(payload) is var r and not 0 ? r : null;
}
