using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using MixerWorker.ControlPlane;
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
        services.AddSingleton<IValidateOptions<RedisOptions>, RedisOptions.Validator>();
        services.AddSingleton<IValidateOptions<WorkerOptions>, WorkerOptions.Validator>();
        services.AddSingleton<IValidateOptions<ShutdownOptions>, ShutdownOptions.Validator>();
        services.AddOptions<HostOptions>().Configure<IOptions<ShutdownOptions>>((host, shutdown) =>
            host.ShutdownTimeout = TimeSpan.FromSeconds(shutdown.Value.GraceSeconds));

        services.AddSingleton<RedisConnection>();
        services.AddSingleton<RunningProjects>();
        services.AddSingleton<IProjectAssignment, RunEveryProject>();
        services.AddSingleton<ProjectConverger>();
        services.AddSingleton<CommandExecutor>();
        // Hosted services stop in reverse order: events, commands and status first, the mixers last.
        services.AddHostedService<DesiredStateService>();
        services.AddHostedService<StatusService>();
        services.AddHostedService<CommandService>();
        services.AddHostedService<MediaMtxEventService>();
        services.AddHostedService<ThumbnailService>();
    }
}
