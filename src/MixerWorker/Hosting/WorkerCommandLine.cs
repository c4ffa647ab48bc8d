using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using MixerWorker.Headless;
using MixerWorker.Pipeline.Interop;
using Serilog;

namespace MixerWorker.Hosting;

/// <summary>Chooses what the process does from its first argument.</summary>
internal static class WorkerCommandLine
{
    internal static async Task<int> RunAsync(string[] args)
    {
        switch (args.FirstOrDefault())
        {
            case "selfcheck":
                return SelfCheck();
            case "run" when args.Length >= 2 && !args[1].StartsWith('-'):
                return await RunSceneAsync(args[1], args[2..]);
            default:
                Console.Error.WriteLine("usage: MixerWorker selfcheck | run <scene.json> [--duration SECONDS] [--script SHOW.json]");
                return 2;
        }
    }

    private static int SelfCheck()
    {
        try
        {
            GstRuntime.SelfCheck();
            Console.WriteLine($"GStreamer {GstRuntime.Version}: every element the engine needs is present");
            return 0;
        }
        catch (GstMissingException e)
        {
            Console.Error.WriteLine(e.Message);
            return 1;
        }
    }

    private static async Task<int> RunSceneAsync(string scenePath, string[] rest)
    {
        // appsettings.json sits beside the binary, not in whatever directory the operator runs from,
        // and is read once: a file watcher on a busy working directory costs CPU for nothing.
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings
        {
            Args = rest,
            ContentRootPath = AppContext.BaseDirectory,
            Configuration = new ConfigurationManager { ["hostBuilder:reloadConfigOnChange"] = "false" },
        });
        builder.Configuration.AddInMemoryCollection(HeadlessRunOptions.FromArguments(scenePath, rest));
        builder.AddWorkerLogging();
        builder.Services.AddMixerOptions(builder.Configuration);
        builder.Services.AddOptions<HeadlessRunOptions>().Bind(builder.Configuration.GetSection(HeadlessRunOptions.Section)).ValidateOnStart();
        builder.Services.AddHostedService<HeadlessShowService>();
        try
        {
            using var host = builder.Build();
            await host.RunAsync();
            return Environment.ExitCode;
        }
        catch (Microsoft.Extensions.Options.OptionsValidationException e)
        {
            Log.Logger.Error("configuration is invalid: {Errors}", string.Join("; ", e.Failures));
            return 2;
        }
        finally { await Log.CloseAndFlushAsync(); }
    }
}
