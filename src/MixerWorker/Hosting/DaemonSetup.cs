using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using MixerWorker.ControlPlane;
using MixerWorker.Fleet;
using MixerWorker.Observability;

namespace MixerWorker.Hosting;

internal static class DaemonSetup
{
    /// <summary>The Redis-driven worker: options validated at start, one background service per job.</summary>
    internal static void AddControlPlane(this HostApplicationBuilder builder)
    {
        // First: its server starts before the mixers and stops after them.
        builder.AddObservability();
        var services = builder.Services;
        var config = builder.Configuration;
        services.AddOptions<RedisOptions>().Bind(config.GetSection(RedisOptions.Section)).ValidateOnStart();
        services.AddOptions<WorkerOptions>().Bind(config.GetSection(WorkerOptions.Section)).ValidateOnStart();
        services.AddOptions<ShutdownOptions>().Bind(config.GetSection(ShutdownOptions.Section)).ValidateOnStart();
        services.AddOptions<FleetOptions>().Bind(config.GetSection(FleetOptions.Section)).ValidateOnStart();
        services.AddSingleton<IValidateOptions<RedisOptions>, RedisOptions.Validator>();
        services.AddSingleton<IValidateOptions<WorkerOptions>, WorkerOptions.Validator>();
        services.AddSingleton<IValidateOptions<ShutdownOptions>, ShutdownOptions.Validator>();
        services.AddSingleton<IValidateOptions<FleetOptions>, FleetOptions.Validator>();
        services.AddOptions<HostOptions>().Configure<IOptions<ShutdownOptions>>((host, shutdown) =>
            host.ShutdownTimeout = TimeSpan.FromSeconds(shutdown.Value.GraceSeconds));

        services.AddSingleton<RedisConnection>();
        services.AddSingleton(sp => sp.GetRequiredService<RedisConnection>().Keys);
        services.AddSingleton<LeaseConnection>();
        services.AddSingleton<LeaseStore>();
        services.AddSingleton<FencedWriter>();
        services.AddSingleton<ClaimWindow>();
        services.AddSingleton<ProjectCostModel>();
        services.AddSingleton<ICpuMeter, ProcessCpuMeter>();
        services.AddSingleton<WorkerLoad>();
        services.AddSingleton<FleetView>();
        services.AddSingleton<ProjectRegistry>();
        services.AddSingleton<ProjectEvents>();
        services.AddSingleton<SceneConvergence>();
        services.AddSingleton<CommandExecutor>();
        services.AddSingleton<ProjectRuntimeFactory>();
        services.AddSingleton<HeartbeatService>();
        // Hosted services stop in reverse order: the drain first (everything else still running), the
        // lease keeper last, so leases stay renewed while projects are handed over.
        services.AddHostedService<LeaseKeeper>();
        services.AddHostedService(sp => sp.GetRequiredService<HeartbeatService>());
        services.AddHostedService<DesiredStateService>();
        services.AddHostedService<StatusService>();
        services.AddHostedService<CommandService>();
        services.AddHostedService<MediaMtxEventService>();
        services.AddHostedService<ThumbnailService>();
        services.AddHostedService<PlacementService>();
        services.AddHostedService<DrainService>();
    }
}
