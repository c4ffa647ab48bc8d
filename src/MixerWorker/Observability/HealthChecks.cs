using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using MixerWorker.ControlPlane;
using MixerWorker.Pipeline.Engine;
using MixerWorker.Pipeline.Interop;

namespace MixerWorker.Observability;

/// <summary>
/// Tags of the health checks: <see cref="Live"/> for /healthz (restart the process when it fails),
/// <see cref="Ready"/> for /readyz (send it no work while it fails).
/// </summary>
internal static class HealthTags
{
    public const string Live = "live";
    public const string Ready = "ready";
}

/// <summary>Live: GStreamer is loaded in the process.</summary>
internal sealed class GStreamerHealthCheck : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try { return Task.FromResult(HealthCheckResult.Healthy($"GStreamer {GstRuntime.Version}")); }
        catch (GstMissingException e) { return Task.FromResult(HealthCheckResult.Unhealthy(e.Message)); }
    }
}

/// <summary>
/// Live: every running mixer's control thread answers. A mixer whose control thread is stuck takes no
/// command and reports nothing; only a restart gets its show back (on this or another worker).
/// </summary>
internal sealed class EngineHealthCheck(ProjectRegistry registry) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var stuck = new List<string>();
        var answering = 0;
        foreach (var runtime in registry.All)
        {
            try { if (await runtime.EngineReportAsync(cancellationToken) is not null) answering++; }
            catch (OperationCanceledException) { stuck.Add(runtime.Project); }
        }
        return stuck.Count == 0
            ? HealthCheckResult.Healthy($"{answering} mixer(s) answering")
            : HealthCheckResult.Unhealthy($"mixer(s) not answering: {string.Join(", ", stuck)}");
    }
}

/// <summary>Ready: the start-up self-check passed (every GStreamer element the engine needs, libsrt). Run once: packages do not appear by themselves.</summary>
internal sealed class SelfCheckHealthCheck : IHealthCheck
{
    private readonly Lazy<HealthCheckResult> _result = new(() =>
    {
        try
        {
            EngineSelfCheck.Run();
            return HealthCheckResult.Healthy("every element the engine needs is present; libsrt loads");
        }
        catch (GstMissingException e) { return HealthCheckResult.Unhealthy(e.Message); }
    });

    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) => Task.FromResult(_result.Value);
}

/// <summary>Ready: Redis answers a PING. The endpoint only, never the password.</summary>
internal sealed class RedisHealthCheck(RedisConnection redis) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            var connection = await redis.GetAsync();
            var rtt = await connection.GetDatabase().PingAsync().WaitAsync(cancellationToken);
            return HealthCheckResult.Healthy($"PING {rtt.TotalMilliseconds:F1} ms");
        }
        catch (Exception e) when (e is StackExchange.Redis.RedisException or TimeoutException or OperationCanceledException)
        {
            return HealthCheckResult.Unhealthy("Redis does not answer");
        }
    }
}

/// <summary>
/// Ready: the worker is not draining. From SIGTERM on it claims nothing and hands its projects over to
/// other workers (docs/fleet.md "Drain"); the message says how many it still holds.
/// </summary>
internal sealed class DrainHealthCheck(IHostApplicationLifetime lifetime, ProjectRegistry registry) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        if (!registry.Draining && !lifetime.ApplicationStopping.IsCancellationRequested)
            return Task.FromResult(HealthCheckResult.Healthy("taking work"));
        var held = registry.All.Count(r => r.HoldsLease);
        return Task.FromResult(HealthCheckResult.Unhealthy($"draining: the worker is shutting down; {held} project(s) still to hand over"));
    }
}
