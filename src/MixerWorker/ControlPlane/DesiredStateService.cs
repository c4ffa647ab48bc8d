using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using MixerWorker.Pipeline.Engine;
using MixerWorker.Pipeline.Scene;
using StackExchange.Redis;

namespace MixerWorker.ControlPlane;

/// <summary>
/// Makes the running mixers match the desired state in Redis. The keys are the truth: a notification
/// only wakes the loop early, and a periodic resync catches whatever was missed (a notification lost
/// while disconnected, a worker that starts after the write, a Redis that came back).
/// </summary>
internal sealed class DesiredStateService(
    RedisConnection redis,
    RunningProjects running,
    IProjectAssignment assignment,
    IOptions<MixerOptions> mixerOptions,
    IOptions<WorkerOptions> workerOptions,
    ILoggerFactory loggers,
    ILogger<DesiredStateService> log) : BackgroundService
{
    private readonly WorkerOptions _worker = workerOptions.Value;
    private readonly Channel<bool> _wake = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
    // The last payload looked at per project, so that a refused one is reported once, not at every resync.
    private readonly Dictionary<string, string> _seen = [];
    // The canonical JSON of what each mixer runs: the same revision with the same content is no change.
    private readonly Dictionary<string, string> _applied = [];

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var connection = await redis.GetAsync();
        redis.Restored += Wake;
        await redis.Resilience.ExecuteAsync(async _ =>
            await connection.GetSubscriber().SubscribeAsync(redis.Keys.AllEvents, OnEvent), stoppingToken);
        var resync = TimeSpan.FromSeconds(_worker.ResyncSeconds);
        while (!stoppingToken.IsCancellationRequested)
        {
            await redis.Resilience.ExecuteAsync(async _ => await ConvergeAllAsync(connection.GetDatabase()), stoppingToken);
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
            timeout.CancelAfter(resync);
            try { await _wake.Reader.ReadAsync(timeout.Token); }
            catch (OperationCanceledException) when (!stoppingToken.IsCancellationRequested) { /* periodic resync */ }
        }
    }

    /// <summary>Stop taking work first, then end every mixer (and with it every output) within the host's grace period.</summary>
    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        redis.Restored -= Wake;
        await base.StopAsync(cancellationToken);
        log.LogInformation("stopping {Count} project(s)", running.All.Count);
        await running.StopAllAsync(cancellationToken);
    }

    private void Wake() => _wake.Writer.TryWrite(true);

    private void OnEvent(RedisChannel channel, RedisValue message)
    {
        // Our own applied/status/error events come back on the same channels; only a desired change matters.
        if (redis.Keys.ProjectOf(channel) is not null && TypeOf(message.ToString()) == EventTypes.Desired) Wake();
    }

    private static string? TypeOf(string message)
    {
        try
        {
            using var doc = JsonDocument.Parse(message);
            return doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty("type", out var t) ? t.GetString() : null;
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException) { return null; }
    }

    private async Task ConvergeAllAsync(IDatabase db)
    {
        foreach (var member in await db.SetMembersAsync(redis.Keys.Projects))
        {
            var project = member.ToString();
            if (assignment.Runs(project)) await ConvergeAsync(db, project);
        }
    }

    private async Task ConvergeAsync(IDatabase db, string project)
    {
        var key = redis.Keys.Desired(project);
        // Measure before fetching, so that an oversized value is not downloaded at every resync.
        var length = await db.StringLengthAsync(key);
        if (length == 0) return; // nothing desired yet, or Redis lost its data: what is on air stays on air
        if (length > _worker.MaxSceneBytes)
        {
            if (FirstLook(project, $"oversized:{length}"))
                await RefuseAsync(db, project, null, ErrorReasons.Oversized, [$"the desired state is {length} bytes; the limit is {_worker.MaxSceneBytes} bytes"]);
            return;
        }
        string payload = (await db.StringGetAsync(key)).ToString();
        if (!FirstLook(project, payload)) return;

        SceneDefinition scene;
        try { scene = SceneJson.Parse(payload); }
        catch (SceneException e)
        {
            await RefuseAsync(db, project, RevisionIn(payload), ErrorReasons.InvalidScene, e.Errors);
            return;
        }
        if (scene.Project != project)
        {
            await RefuseAsync(db, project, scene.Revision, ErrorReasons.WrongProject, [$"the scene names project '{scene.Project}' but is stored under project '{project}'"]);
            return;
        }
        var canonical = SceneJson.Write(scene);
        if (_applied.TryGetValue(project, out var current) && current == canonical) return;
        if (running.TryGet(project, out var mixer))
        {
            var applied = (await mixer.GetStatusAsync()).Revision;
            if (scene.Revision <= applied)
            {
                await RefuseAsync(db, project, scene.Revision, ErrorReasons.StaleRevision,
                    [$"revision {scene.Revision} is not newer than the applied revision {applied}; write a higher revision"]);
                return;
            }
        }
        await ApplyAsync(db, scene, canonical);
    }

    private async Task ApplyAsync(IDatabase db, SceneDefinition scene, string canonical)
    {
        try
        {
            if (running.TryGet(scene.Project, out var mixer)) await mixer.ApplyAsync(scene);
            else running.Add(await ProjectMixer.StartAsync(scene, mixerOptions.Value, loggers.CreateLogger($"project.{scene.Project}")));
        }
        catch (SceneException e)
        {
            await RefuseAsync(db, scene.Project, scene.Revision, ErrorReasons.InvalidScene, e.Errors);
            return;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // Possibly transient (GStreamer, resources): forget the payload so that the next resync tries again.
            _seen.Remove(scene.Project);
            log.LogError(e, "project {Project}: revision {Revision} could not be applied", scene.Project, scene.Revision);
            await PublishAsync(db, new ProjectEvent
            {
                Type = EventTypes.Error, Project = scene.Project, Revision = scene.Revision, Worker = _worker.Id,
                Reason = ErrorReasons.ApplyFailed, Errors = [e.Message],
            });
            return;
        }
        _applied[scene.Project] = canonical;
        log.LogInformation("project {Project}: revision {Revision} applied", scene.Project, scene.Revision);
        await PublishAsync(db, new ProjectEvent { Type = EventTypes.Applied, Project = scene.Project, Revision = scene.Revision, Worker = _worker.Id });
    }

    private bool FirstLook(string project, string payload)
    {
        if (_seen.TryGetValue(project, out var seen) && seen == payload) return false;
        _seen[project] = payload;
        return true;
    }

    private async Task RefuseAsync(IDatabase db, string project, long? revision, string reason, IReadOnlyList<string> errors)
    {
        log.LogWarning("project {Project}: desired state refused ({Reason}): {Errors}; what is on air stays", project, reason, string.Join("; ", errors));
        await PublishAsync(db, new ProjectEvent { Type = EventTypes.Error, Project = project, Revision = revision, Worker = _worker.Id, Reason = reason, Errors = errors });
    }

    private Task PublishAsync(IDatabase db, ProjectEvent e) => db.PublishAsync(redis.Keys.Events(e.Project), ControlPlaneJson.Write(e));

    // Best effort, for the error event of a scene that did not parse as a whole.
    private static long? RevisionIn(string payload)
    {
        try
        {
            using var doc = JsonDocument.Parse(Encoding.UTF8.GetBytes(payload));
            return doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty("revision", out var r) && r.TryGetInt64(out var v) ? v : null;
        }
        catch (JsonException) { return null; }
    }
}
