using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace MixerWorker.ControlPlane;

/// <summary>
/// Acts on MediaMTX lifecycle events relayed by the API. INGEST_ONLINE: the input is connected at once
/// instead of at its next backoff attempt. INGEST_OFFLINE: the input is shown offline and the engine
/// stops retrying it (the slate stays on air); it is tried again every WORKER__INGESTPOLLSECONDS in case
/// the INGEST_ONLINE event is lost. OUTPUT_ONLINE/OUTPUT_OFFLINE: the bus's <c>published</c> flag.
/// </summary>
internal sealed class MediaMtxEventService : BackgroundService
{
    private readonly RedisConnection _redis;
    private readonly ProjectRegistry _registry;
    private readonly WorkerOptions _worker;
    private readonly ILogger<MediaMtxEventService> _log;

    public MediaMtxEventService(RedisConnection redis, ProjectRegistry registry, IOptions<WorkerOptions> worker, ILogger<MediaMtxEventService> log)
    {
        (_redis, _registry, _worker, _log) = (redis, registry, worker.Value, log);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var connection = await _redis.GetAsync();
        await _redis.Resilience.ExecuteAsync(async _ =>
            await connection.GetSubscriber().SubscribeAsync(_redis.Keys.MediaMtxEvents, (_, message) => OnMessage(message.ToString())), stoppingToken);
        // The slow fallback poll of inputs MediaMTX called offline.
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(_worker.IngestPollSeconds));
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
                foreach (var runtime in _registry.All)
                    runtime.RetryOfflineInputs();
        }
        catch (OperationCanceledException) { }
    }

    private void OnMessage(string message)
    {
        if (MediaMtxEvent.TryParse(message, out var error) is not { } e)
        {
            _log.LogWarning("ignored a malformed MediaMTX event: {Error}", error);
            return;
        }
        if (!_registry.TryGet(e.Project, out var runtime)) return;
        switch (e.Event)
        {
            case MediaMtxEvent.IngestOnline or MediaMtxEvent.IngestOffline:
                runtime.OnIngest(e.Name, e.Event == MediaMtxEvent.IngestOnline, e.Protocol, _worker.IngestPollSeconds);
                break;
            case MediaMtxEvent.OutputOnline or MediaMtxEvent.OutputOffline:
                runtime.OnOutputPublished(e.Name, e.Event == MediaMtxEvent.OutputOnline);
                break;
            default:
                _log.LogWarning("ignored an unknown MediaMTX event '{Event}'", e.Event);
                break;
        }
    }
}
