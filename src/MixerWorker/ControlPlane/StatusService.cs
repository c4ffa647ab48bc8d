using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace MixerWorker.ControlPlane;

/// <summary>
/// Publishes each running project's status: the status key (with a TTL, so that a dead worker's status
/// disappears) at every interval, and a status event on the project's channel when something changed.
/// </summary>
internal sealed class StatusService(
    RedisConnection redis,
    RunningProjects running,
    IOptions<WorkerOptions> workerOptions,
    ILogger<StatusService> log) : BackgroundService
{
    private readonly WorkerOptions _worker = workerOptions.Value;
    private readonly Dictionary<string, string> _published = [];

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var connection = await redis.GetAsync();
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(_worker.StatusIntervalMs));
        do
        {
            await redis.Resilience.ExecuteAsync(async _ => await PublishAllAsync(connection.GetDatabase()), stoppingToken);
        } while (await timer.WaitForNextTickAsync(stoppingToken).AsTask().ContinueWith(t => t.IsCompletedSuccessfully && t.Result));
    }

    private async Task PublishAllAsync(IDatabase db)
    {
        var ttl = TimeSpan.FromSeconds(_worker.StatusTtlSeconds);
        foreach (var mixer in running.All)
        {
            ProjectStatus status;
            try { status = ProjectStatus.From(await mixer.GetStatusAsync(), _worker.Id); }
            catch (ObjectDisposedException) { continue; } // stopped between listing and asking
            await db.StringSetAsync(redis.Keys.Status(status.Project), ControlPlaneJson.Write(status), ttl);
            var signature = status.Signature();
            if (_published.TryGetValue(status.Project, out var last) && last == signature) continue;
            _published[status.Project] = signature;
            log.LogInformation("project {Project} revision {Revision}: inputs {Inputs}; buses {Buses}", status.Project, status.Revision,
                string.Join(", ", status.Inputs.Select(i => $"{i.Key}={i.Value.State}")), string.Join(", ", status.Buses.Select(b => $"{b.Key}={b.Value.Output}")));
            await db.PublishAsync(redis.Keys.Events(status.Project),
                ControlPlaneJson.Write(new ProjectEvent { Type = EventTypes.Status, Project = status.Project, Revision = status.Revision, Worker = _worker.Id, Status = status }));
        }
    }
}
