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
    private readonly RunningProjects _running;
    private readonly WorkerOptions _worker;
    private readonly ILogger<MediaMtxEventService> _log;

    public MediaMtxEventService(RedisConnection redis, RunningProjects running, IOptions<WorkerOptions> worker, ILogger<MediaMtxEventService> log)
    {
        (_redis, _running, _worker, _log) = (redis, running, worker.Value, log);
        // An event heard before the mixer started (or while it restarted) still applies to it.
        running.Started += state =>
        {
            foreach (var (input, online) in state.IngestOnline)
                if (!online) state.Mixer?.SetInputExpected(input, false);
        };
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
                foreach (var state in _running.Running)
                    foreach (var (input, online) in state.IngestOnline)
                        if (!online && state.Mixer is { } mixer)
                        {
                            _log.LogDebug("project {Project}: trying offline input {Input}", state.Project, input);
                            mixer.ConnectInputNow(input);
                        }
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
        if (!_running.TryGetState(e.Project, out var state)) return;
        var mixer = state.Mixer;
        switch (e.Event)
        {
            case MediaMtxEvent.IngestOnline:
                state.IngestOnline[e.Name] = true;
                if (mixer is null) return;
                _log.LogInformation("project {Project}: ingest {Input} online ({Protocol}); connecting now", e.Project, e.Name, e.Protocol);
                mixer.SetInputExpected(e.Name, true);
                mixer.ConnectInputNow(e.Name);
                break;
            case MediaMtxEvent.IngestOffline:
                state.IngestOnline[e.Name] = false;
                if (mixer is null) return;
                _log.LogInformation("project {Project}: ingest {Input} offline ({Protocol}); slate on air, retrying every {Seconds} s until it is back",
                    e.Project, e.Name, e.Protocol, _worker.IngestPollSeconds);
                mixer.SetInputExpected(e.Name, false);
                break;
            case MediaMtxEvent.OutputOnline or MediaMtxEvent.OutputOffline:
                var published = e.Event == MediaMtxEvent.OutputOnline;
                state.OutputPublished[e.Name] = published;
                _log.LogInformation("project {Project}: output {Bus} {State} in MediaMTX", e.Project, e.Name, published ? "published" : "no longer published");
                break;
            default:
                _log.LogWarning("ignored an unknown MediaMTX event '{Event}'", e.Event);
                break;
        }
    }
}
