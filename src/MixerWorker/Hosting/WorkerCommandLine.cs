using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using MixerWorker.ControlPlane;
using MixerWorker.Headless;
using MixerWorker.Pipeline.Engine;
using MixerWorker.Pipeline.Interop;
using MixerWorker.Pipeline.Scene;
using Serilog;

namespace MixerWorker.Hosting;

/// <summary>Chooses what the process does from its first argument.</summary>
internal static class WorkerCommandLine
{
    internal static async Task<int> RunAsync(string[] args)
    {
        switch (args.FirstOrDefault())
        {
            case null:
                return await RunHostAsync([], b => b.AddControlPlane());
            case "ctl":
                return await MixerCtl.RunAsync(args[1..], LoadConfiguration());
            case "selfcheck":
                return SelfCheck();
            case "run" when args.Length >= 2 && !args[1].StartsWith('-'):
                return await RunSceneAsync(args[1], args[2..]);
            default:
                Console.Error.WriteLine("usage: MixerWorker                  run the worker, driven through Redis\n" +
                                        "       MixerWorker ctl ...          operator client (MixerWorker ctl help)\n" +
                                        "       MixerWorker selfcheck\n" +
                                        "       MixerWorker run <scene.json> [--duration SECONDS] [--script SHOW.json]");
                return 2;
        }
    }

    private static int SelfCheck()
    {
        try
        {
            EngineSelfCheck.Run();
            Console.WriteLine($"GStreamer {GstRuntime.Version}: every element the engine needs is present; libsrt loads");
            return 0;
        }
        catch (GstMissingException e)
        {
            Console.Error.WriteLine(e.Message);
            return 1;
        }
    }

    private static Task<int> RunSceneAsync(string scenePath, string[] rest) => RunHostAsync(rest, builder =>
    {
        builder.Configuration.AddInMemoryCollection(HeadlessRunOptions.FromArguments(scenePath, rest));
        builder.Services.AddOptions<HeadlessRunOptions>().Bind(builder.Configuration.GetSection(HeadlessRunOptions.Section)).ValidateOnStart();
        builder.Services.AddHostedService<HeadlessShowService>();
    });

    private static async Task<int> RunHostAsync(string[] args, Action<HostApplicationBuilder> configure)
    {
        // The first scene read (the run's file, or the project a daemon takes over) would otherwise pay
        // for the serializer's set-up on the start-up path; the host's start leaves the other core free.
        _ = Task.Run(SceneJson.WarmUp);
        try
        {
            var builder = Host.CreateApplicationBuilder(HostSettings(args));
            builder.AddWorkerLogging();
            builder.Services.AddMixerOptions(builder.Configuration);
            builder.Services.AddHostedService<NativeLogRouting>();
            configure(builder);
            using var host = builder.Build();
            await host.RunAsync();
            return Environment.ExitCode;
        }
        catch (OptionsValidationException e)
        {
            Log.Logger.Error("configuration is invalid: {Errors}", string.Join("; ", e.Failures));
            return 2;
        }
        finally { await Log.CloseAndFlushAsync(); }
    }

    // appsettings.json sits beside the binary, not in whatever directory the operator runs from,
    // and is read once: a file watcher on a busy working directory costs CPU for nothing.
    private static HostApplicationBuilderSettings HostSettings(string[] args) => new()
    {
        Args = args,
        ContentRootPath = AppContext.BaseDirectory,
        Configuration = new ConfigurationManager { ["hostBuilder:reloadConfigOnChange"] = "false" },
    };

    /// <summary>The same sources as the worker (appsettings.json beside the binary, then the environment), for the client.</summary>
    private static IConfiguration LoadConfiguration() => new ConfigurationBuilder()
        .SetBasePath(AppContext.BaseDirectory)
        .AddJsonFile("appsettings.json", optional: true, reloadOnChange: false)
        .AddEnvironmentVariables()
        .Build();
}
