using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using MixerWorker.Observability;
using MixerWorker.Pipeline.Scene;
using StackExchange.Redis;

namespace MixerWorker.ControlPlane;

/// <summary>
/// Makes a project's mixer match its desired state. A helper of <see cref="ProjectRuntime"/>: it runs
/// only under the runtime's gate, for the desired-state loop and before every command.
/// </summary>
internal sealed class SceneConvergence(RedisKeys keys, ProjectEvents events, IOptions<WorkerOptions> workerOptions, WorkerMetrics metrics, ILogger<SceneConvergence> log)
{
    private readonly WorkerOptions _worker = workerOptions.Value;
    private const string Applied = "applied", Refused = "refused", Failed = "failed";

    /// <summary>Reads the desired key and applies it when it changed.</summary>
    public async Task ConvergeLockedAsync(IDatabase db, ProjectRuntime runtime)
    {
        var started = Stopwatch.GetTimestamp();
        if (await ReadAndApplyAsync(db, runtime) is { } result) metrics.DesiredConverged(result, Stopwatch.GetElapsedTime(started));
    }

    /// <summary>Null when nothing changed; else what became of the change: applied, refused or failed.</summary>
    private async Task<string?> ReadAndApplyAsync(IDatabase db, ProjectRuntime runtime)
    {
        var show = runtime.Show;
        var project = runtime.Project;
        var key = keys.Desired(project);
        // Measure before fetching, so that an oversized value is not downloaded at every resync.
        var length = await db.StringLengthAsync(key);
        if (length == 0) return null; // nothing desired yet, or Redis lost its data: what is on air stays on air
        if (length > _worker.MaxSceneBytes)
        {
            if (!FirstLook(show, $"oversized:{length}")) return null;
            await RefuseAsync(db, runtime, null, ErrorReasons.Oversized, [$"the desired state is {length} bytes; the limit is {_worker.MaxSceneBytes} bytes"]);
            return Refused;
        }
        string payload = (await db.StringGetAsync(key)).ToString();
        if (!FirstLook(show, payload)) return null;

        SceneDefinition scene;
        try { scene = SceneJson.Parse(payload); }
        catch (SceneException e)
        {
            await RefuseAsync(db, runtime, RevisionOrNull(payload), ErrorReasons.InvalidScene, e.Errors);
            return Refused;
        }
        if (scene.Project != project)
        {
            await RefuseAsync(db, runtime, scene.Revision, ErrorReasons.WrongProject, [$"the scene names project '{scene.Project}' but is stored under project '{project}'"]);
            return Refused;
        }
        var canonical = SceneJson.Write(scene);
        if (show.AppliedScene == canonical) return null;
        if (show.Mixer is not null && scene.Revision <= show.Revision)
        {
            await RefuseAsync(db, runtime, scene.Revision, ErrorReasons.StaleRevision,
                [$"revision {scene.Revision} is not newer than the applied revision {show.Revision}; write a higher revision"]);
            return Refused;
        }
        return await ApplyAsync(db, runtime, scene, canonical);
    }

    private async Task<string> ApplyAsync(IDatabase db, ProjectRuntime runtime, SceneDefinition scene, string canonical)
    {
        var show = runtime.Show;
        try
        {
            if (show.Mixer is { } mixer) await mixer.ApplyAsync(scene);
            else await runtime.StartMixerAsync(scene);
        }
        catch (SceneException e)
        {
            await RefuseAsync(db, runtime, scene.Revision, ErrorReasons.InvalidScene, e.Errors);
            return Refused;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // Possibly transient (GStreamer, resources): forget the payload so that the next resync tries again.
            show.SeenPayload = null;
            log.LogError(e, "project {Project}: revision {Revision} could not be applied", scene.Project, scene.Revision);
            await runtime.NoticeAsync(db, events.Refused(scene.Project, scene.Revision, ErrorReasons.ApplyFailed, [e.Message]));
            return Failed;
        }
        show.Revision = scene.Revision;
        show.AppliedScene = canonical;
        runtime.SceneChanged(scene);
        log.LogInformation("project {Project}: revision {Revision} applied", scene.Project, scene.Revision);
        await runtime.PublishAsync(db, events.Applied(scene.Project, scene.Revision));
        return Applied;
    }

    private static bool FirstLook(ProjectShow show, string payload)
    {
        if (show.SeenPayload == payload) return false;
        show.SeenPayload = payload;
        return true;
    }

    private async Task RefuseAsync(IDatabase db, ProjectRuntime runtime, long? revision, string reason, IReadOnlyList<string> errors)
    {
        log.LogWarning("project {Project}: desired state refused ({Reason}): {Errors}; what is on air stays", runtime.Project, reason, string.Join("; ", errors));
        await runtime.NoticeAsync(db, events.Refused(runtime.Project, revision, reason, errors));
    }

    // Best effort, for the error event of a scene that did not parse as a whole.
    private static long? RevisionOrNull(string payload) => SceneRevision.Of(payload) is var r and not 0 ? r : null;
}
