using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using MixerWorker.Pipeline.Encoding;
using MixerWorker.Pipeline.Engine;
using MixerWorker.Pipeline.Srt;
using Serilog;
using Serilog.Events;

namespace MixerWorker.Hosting;

/// <summary>The MediaMtx section (env MEDIAMTX__HOST, MEDIAMTX__SRTPORT, MEDIAMTX__TOKEN).</summary>
public sealed class MediaMtxOptions
{
    public string Host { get; set; } = "mediamtx";
    public int SrtPort { get; set; } = 8000;
    public string? Token { get; set; }
}

internal static class WorkerSetup
{
    /// <summary>Console logging through Serilog; secrets are never passed to a logger in the first place.</summary>
    internal static void AddWorkerLogging(this HostApplicationBuilder builder)
    {
        Log.Logger = new LoggerConfiguration()
            .MinimumLevel.Information()
            .MinimumLevel.Override("Microsoft", LogEventLevel.Warning)
            .WriteTo.Console(outputTemplate: "{Timestamp:HH:mm:ss.fff} {Level:u3} {Message:lj}{NewLine}{Exception}")
            .CreateLogger();
        builder.Services.AddSerilog();
    }

    /// <summary>
    /// Builds the engine's options from configuration and refuses to start when they are wrong,
    /// naming the variable to fix.
    /// </summary>
    internal static void AddMixerOptions(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<MixerOptions>()
            .Configure(o => Fill(o, configuration))
            .ValidateOnStart();
        services.AddSingleton<IValidateOptions<MixerOptions>, MixerOptionsValidator>();
    }

    private static void Fill(MixerOptions target, IConfiguration c)
    {
        var mediaMtx = c.GetSection("MediaMtx").Get<MediaMtxOptions>() ?? new MediaMtxOptions();
        var built = new MixerOptions
        {
            MediaMtx = new MediaMtxConnection
            {
                Host = mediaMtx.Host,
                SrtPort = mediaMtx.SrtPort,
                Token = string.IsNullOrEmpty(mediaMtx.Token) ? null : mediaMtx.Token,
                IngestPassphrase = NullIfEmpty(c["INGEST_SRT_PASSPHRASE"]),
                OutputPassphrase = NullIfEmpty(c["OUTPUT_SRT_PASSPHRASE"]),
                LatencyMs = c.GetValue("Srt:LatencyMs", 120),
            },
            Encoder = c.GetValue("Encoder:Backend", EncoderPreference.Auto),
        };
        // MixerOptions is an immutable record; options binding needs the instance filled in place.
        Copy(built, target);
    }

    private static void Copy(MixerOptions from, MixerOptions to)
    {
        foreach (var p in typeof(MixerOptions).GetProperties().Where(p => p.CanWrite)) p.SetValue(to, p.GetValue(from));
    }

    private static string? NullIfEmpty(string? s) => string.IsNullOrEmpty(s) ? null : s;

    private sealed class MixerOptionsValidator : IValidateOptions<MixerOptions>
    {
        public ValidateOptionsResult Validate(string? name, MixerOptions options)
        {
            var errors = options.Validate();
            return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
        }
    }
}
