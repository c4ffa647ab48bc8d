using System.Text.Json;
using System.Threading.Channels;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using MixerWorker.Observability;
using StackExchange.Redis;

namespace MixerWorker.ControlPlane;

/// <summary>
/// Makes the mixers of the projects this worker holds match the desired state in Redis. The keys are
/// the truth: a notification only wakes the loop early, and a periodic resync catches whatever was
/// missed (a notification lost while disconnected, a Redis that came back). A held project is stopped
/// only when its removal tombstone exists, never because its keys are missing. Which projects this
/// worker holds is the placement's business (docs/fleet.md).
/// </summary>
internal sealed class DesiredStateService(
    RedisConnection redis,
    ProjectRegistry registry,
    IOptions<WorkerOptions> workerOptions,
    WorkerMetrics metrics,
    ILogger<DesiredStateService> log) : BackgroundService
{
    private readonly WorkerOptions _worker = workerOptions.Value;
    private readonly Channel<bool> _wake = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });

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

    /// <summary>
    /// Whatever the drain did not hand over or release (a project claimed meanwhile, a drain cut short) ends
    /// here, released, within the host's grace period.
    /// </summary>
    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        redis.Restored -= Wake;
        await base.StopAsync(cancellationToken);
        var left = registry.All;
        if (left.Count == 0) return;
        log.LogInformation("stopping {Count} project(s)", left.Count);
        await Task.WhenAll(left.Select(r => r.StopAsync(StopReason.Shutdown, "the worker stops"))).WaitAsync(cancellationToken);
    }

    private void Wake() => _wake.Writer.TryWrite(true);

    private void OnEvent(RedisChannel channel, RedisValue message)
    {
        // The worker's own applied/status/tally/... events come back on the same channels; only changes to the keys matter here.
        if (redis.Keys.ProjectOf(channel) is not null && TypeOf(message.ToString()) is EventTypes.Desired or EventTypes.Removed) Wake();
    }

    internal static string? TypeOf(string message)
    {
        try
        {
            using var doc = JsonDocument.Parse(message);
            return doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString() : null;
        }
        catch (JsonException) { return null; }
        catch (InvalidOperationException) { return null; } // a "type" that is no decodable string
    }

    private async Task ConvergeAllAsync(IDatabase db)
    {
        var members = (await db.SetMembersAsync(redis.Keys.Projects)).Select(m => m.ToString()).ToHashSet();
        metrics.ProjectsDesired(members.Count);
        foreach (var runtime in registry.All.Where(r => r.HoldsLease))
        {
            if (members.Contains(runtime.Project)) await runtime.ConvergeAsync();
            else if (await db.KeyExistsAsync(redis.Keys.Removed(runtime.Project)))
                await runtime.StopAsync(StopReason.Removed, "the project was removed (tombstone)");
        }
    }
}
