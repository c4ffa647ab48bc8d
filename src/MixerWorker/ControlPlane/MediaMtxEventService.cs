using System.Text.Json;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace MixerWorker.ControlPlane;

/// <summary>
/// Acts on MediaMTX lifecycle events relayed by the API: a feed that comes online is connected at
/// once instead of at the input's next backoff attempt.
/// </summary>
internal sealed class MediaMtxEventService(
    RedisConnection redis,
    RunningProjects running,
    ILogger<MediaMtxEventService> log) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var connection = await redis.GetAsync();
        await redis.Resilience.ExecuteAsync(async _ =>
            await connection.GetSubscriber().SubscribeAsync(redis.Keys.MediaMtxEvents, (_, message) => OnMessage(message.ToString())), stoppingToken);
    }

    private void OnMessage(string message)
    {
        MediaMtxEvent? e;
        try { e = JsonSerializer.Deserialize<MediaMtxEvent>(message, ControlPlaneJson.Strict); }
        catch (JsonException ex)
        {
            log.LogWarning("ignored a malformed MediaMTX event: {Error}", ex.Message);
            return;
        }
        if (e is null) return;
        if (e.Event == MediaMtxEvent.IngestOnline && running.TryGet(e.Project, out var mixer))
        {
            log.LogInformation("project {Project}: ingest {Input} online ({Protocol}); connecting now", e.Project, e.Name, e.Protocol);
            mixer.ConnectInputNow(e.Name);
        }
    }
}
