using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace MixerWorker.Observability;

internal static class ObservabilitySetup
{
    /// <summary>
    /// Metrics and health endpoints (METRICS__PORT). Call before any other hosted service is added:
    /// the server then starts first and stops last.
    /// </summary>
    internal static void AddObservability(this HostApplicationBuilder builder)
    {
        var services = builder.Services;
        services.AddOptions<MetricsOptions>().Bind(builder.Configuration.GetSection(MetricsOptions.Section)).ValidateOnStart();
        services.AddSingleton<IValidateOptions<MetricsOptions>, MetricsOptions.Validator>();
        services.AddSingleton<WorkerMetrics>();
        services.AddHealthChecks()
            .AddCheck<GStreamerHealthCheck>("gstreamer", tags: [HealthTags.Live])
            .AddCheck<EngineHealthCheck>("engine", tags: [HealthTags.Live], timeout: TimeSpan.FromSeconds(5))
            .AddCheck<SelfCheckHealthCheck>("selfcheck", tags: [HealthTags.Ready])
            .AddCheck<RedisHealthCheck>("redis", tags: [HealthTags.Ready], timeout: TimeSpan.FromSeconds(2))
            .AddCheck<DrainHealthCheck>("draining", tags: [HealthTags.Ready]);
        // One instance, so that the self-check runs once and its result is kept.
        services.AddSingleton<SelfCheckHealthCheck>();
        services.AddHostedService<ObservabilityServer>();
    }
}
