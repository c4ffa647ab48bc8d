using System.Threading.Channels;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using MixerWorker.Pipeline.Engine;
using StackExchange.Redis;

namespace MixerWorker.ControlPlane;

/// <summary>
/// Publishes the status of each project this worker holds: the status key (with a TTL, so that a dead
/// worker's status disappears) at every interval, a status event when something changed, a tally event
/// as soon as the tally changes, and meters events at most every WORKER__METERSINTERVALMS. Every write
/// is fenced by the project's lease.
/// </summary>
internal sealed class StatusService : BackgroundService
{
    private readonly RedisConnection _redis;
    private readonly ProjectRegistry _registry;
    private readonly WorkerOptions _worker;
    private readonly ProjectEvents _events;
    private readonly ILogger<StatusService> _log;
    private readonly Dictionary<string, string> _published = [];
    private readonly Dictionary<string, string> _tallyPublished = [];
    private readonly Channel<ProjectRuntime> _tallyChanged = Channel.CreateUnbounded<ProjectRuntime>();

    public StatusService(RedisConnection redis, ProjectRegistry registry, ProjectEvents events, IOptions<WorkerOptions> worker, ILogger<StatusService> log)
    {
        (_redis, _registry, _events, _worker, _log) = (redis, registry, events, worker.Value, log);
        // Raised on the engine's thread: only note it and hand it over.
        registry.OnAir += runtime => runtime.TallyChanged += r => _tallyChanged.Writer.TryWrite(r);
        registry.Ended += runtime =>
        {
            lock (_published) _published.Remove(runtime.Project);
        };
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var connection = await _redis.GetAsync();
        await Task.WhenAll(StatusLoopAsync(connection, stoppingToken), TallyLoopAsync(connection, stoppingToken), MetersLoopAsync(connection, stoppingToken));
    }

    private async Task StatusLoopAsync(IConnectionMultiplexer connection, CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(_worker.StatusIntervalMs));
        do
        {
            await _redis.Resilience.ExecuteAsync(async _ => await PublishAllAsync(connection.GetDatabase()), stoppingToken);
        } while (await timer.WaitForNextTickAsync(stoppingToken).AsTask().ContinueWith(t => t.IsCompletedSuccessfully && t.Result));
    }

    private async Task PublishAllAsync(IDatabase db)
    {
        var ttl = TimeSpan.FromSeconds(_worker.StatusTtlSeconds);
        foreach (var runtime in _registry.All)
        {
            if (await runtime.ReportAsync() is not { } status) continue;
            // Fenced: refused once the lease is another worker's (the lease keeper stops the project next).
            if (!await runtime.WriteStatusAsync(db, ControlPlaneJson.Write(status), ttl)) continue;
            var signature = status.Signature();
            lock (_published)
            {
                if (_published.TryGetValue(status.Project, out var last) && last == signature) continue;
                _published[status.Project] = signature;
            }
            _log.LogInformation("project {Project} revision {Revision} (epoch {Epoch}): inputs {Inputs}; buses {Buses}", status.Project, status.Revision, status.Epoch,
                string.Join(", ", status.Inputs.Select(i => $"{i.Key}={i.Value.State}{(i.Value.Ingest is { } g ? $" ({g})" : "")}")),
                string.Join(", ", status.Buses.Select(b => $"{b.Key}={b.Value.Output}{(b.Value.Published is { } p ? p ? " (published)" : " (not published)" : "")}")));
            await runtime.PublishAsync(db, ProjectEvents.Status(status));
        }
    }

    private async Task TallyLoopAsync(IConnectionMultiplexer connection, CancellationToken stoppingToken)
    {
        try
        {
            await foreach (var runtime in _tallyChanged.Reader.ReadAllAsync(stoppingToken))
            {
                if (!runtime.HoldsLease || runtime.Tally is not { } tally) continue;
                var signature = string.Join(";", tally.Buses.OrderBy(b => b.Key).Select(b => $"{b.Key}:{string.Join(",", b.Value.OnAir)}/{string.Join(",", b.Value.Preview)}"));
                if (_tallyPublished.TryGetValue(runtime.Project, out var last) && last == signature) continue;
                _tallyPublished[runtime.Project] = signature;
                await _redis.Resilience.ExecuteAsync(async _ => await runtime.PublishAsync(connection.GetDatabase(),
                    _events.Tally(runtime.Project, runtime.Show.Revision, tally.Buses)), stoppingToken);
            }
        }
        catch (OperationCanceledException) { }
    }

    private async Task MetersLoopAsync(IConnectionMultiplexer connection, CancellationToken stoppingToken)
    {
        if (_worker.MetersIntervalMs == 0) return;
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(_worker.MetersIntervalMs));
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                foreach (var runtime in _registry.All)
                {
                    if (runtime.Meters() is not { } meters || meters.Inputs.Count + meters.Buses.Count == 0) continue;
                    // Fire and forget: a meters event lost while Redis is away is replaced by the next one.
                    try
                    {
                        await runtime.PublishAsync(connection.GetDatabase(), _events.Meters(runtime.Project, meters));
                    }
                    catch (Exception e) when (e is RedisConnectionException or RedisTimeoutException) { }
                }
            }
        }
        catch (OperationCanceledException) { }
    }
}
