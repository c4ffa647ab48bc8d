using System.Globalization;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using MixerWorker.Pipeline.Encoding;
using MixerWorker.Pipeline.Engine;
using MixerWorker.Pipeline.Srt;
using Serilog;
using Serilog.Events;
using Serilog.Formatting.Compact;

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
    private const string TextTemplate = "{Timestamp:HH:mm:ss.fff} {Level:u3} {Message:lj}{NewLine}{Exception}";

    /// <summary>
    /// Console logging through Serilog: readable text, or with LOGGING__FORMAT=json one compact JSON
    /// object per line (Serilog's CLEF: @t, @m, @i, @l, @x and the properties) for log collectors.
    /// Secrets are never passed to a logger in the first place. An unknown format stops the start.
    /// </summary>
    internal static void AddWorkerLogging(this HostApplicationBuilder builder)
    {
        var format = builder.Configuration["Logging:Format"];
        var json = format?.Trim().ToLowerInvariant() switch
        {
            null or "" or "text" => false,
            "json" => true,
            _ => (bool?)null,
        };
        var config = new LoggerConfiguration()
            .MinimumLevel.Information()
            .MinimumLevel.Override("Microsoft", LogEventLevel.Warning)
            // GST_DEBUG already chose what GStreamer says; whatever it says is kept.
            .MinimumLevel.Override(NativeLogs.GStreamerCategory, LogEventLevel.Verbose);
        Log.Logger = (json == true ? config.WriteTo.Console(new RenderedCompactJsonFormatter()) : config.WriteTo.Console(outputTemplate: TextTemplate)).CreateLogger();
        if (json is null)
            throw new OptionsValidationException("Logging", typeof(LoggerConfiguration), [$"LOGGING__FORMAT must be text or json, not '{format}'"]);
        builder.Services.AddSerilog();
    }

    /// <summary>
    /// Builds the engine's options from configuration and refuses to start when they are wrong,
    /// naming the variable to fix. MixerOptions is an immutable record, so it is built in one go by
    /// a factory rather than bound property by property.
    /// </summary>
    internal static void AddMixerOptions(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddSingleton<IOptionsFactory<MixerOptions>>(new MixerOptionsFactory(configuration));
        services.AddOptions<MixerOptions>().ValidateOnStart();
        services.AddSingleton<IProjectMixerFactory>(sp => new ProjectMixerFactory(sp.GetRequiredService<IOptions<MixerOptions>>().Value, sp.GetRequiredService<ILoggerFactory>()));
    }

    private sealed class MixerOptionsFactory(IConfiguration c) : IOptionsFactory<MixerOptions>
    {
        public MixerOptions Create(string name)
        {
            var mediaMtx = c.GetSection("MediaMtx").Get<MediaMtxOptions>() ?? new MediaMtxOptions();
            var options = new MixerOptions
            {
                MediaMtx = new MediaMtxConnection
                {
                    Host = mediaMtx.Host,
                    SrtPort = mediaMtx.SrtPort,
                    Token = NullIfEmpty(mediaMtx.Token),
                    IngestPassphrase = NullIfEmpty(c["INGEST_SRT_PASSPHRASE"]),
                    OutputPassphrase = NullIfEmpty(c["OUTPUT_SRT_PASSPHRASE"]),
                    LatencyMs = c.GetValue("Srt:LatencyMs", 120),
                },
                Encoder = c.GetValue("Encoder:Backend", EncoderPreference.Auto),
                // GRAPHICS__DIRECTORY: where graphics layers' PNG/SVG files live.
                GraphicsDirectory = NullIfEmpty(c["Graphics:Directory"]),
            };
            var unreadable = new List<string>();
            // RECONNECT__INITIALDELAYMS / RECONNECT__MAXDELAYMS: the inputs' and outputs' backoff; RECONNECT__PROBEINTERVALMS: how often an empty ingest path is asked again.
            options = options with
            {
                ReconnectInitialDelay = Ms("Reconnect:InitialDelayMs", options.ReconnectInitialDelay),
                ReconnectMaxDelay = Ms("Reconnect:MaxDelayMs", options.ReconnectMaxDelay),
                ReconnectProbeInterval = Ms("Reconnect:ProbeIntervalMs", options.ReconnectProbeInterval),
                // THUMBNAILS__INTERVALMS (0: off) / THUMBNAILS__WIDTH: the buses' thumbnails.
                ThumbnailInterval = Ms("Thumbnails:IntervalMs", options.ThumbnailInterval),
                ThumbnailWidth = c.GetValue("Thumbnails:Width", options.ThumbnailWidth),
                // TIMING__INPUTJITTERMS / TIMING__MIXERLATENCYMS: the buses' deadline (docs/architecture.md, "Live timing").
                InputJitter = Ms("Timing:InputJitterMs", options.InputJitter),
                MixerLatency = Ms("Timing:MixerLatencyMs", options.MixerLatency),
                // STALL__INPUTTIMEOUTMS / STALL__BUSTIMEOUTMS: when an input counts as lost, a bus as stopped and is rebuilt.
                InputStallTimeout = Ms("Stall:InputTimeoutMs", options.InputStallTimeout),
                BusStallTimeout = Ms("Stall:BusTimeoutMs", options.BusStallTimeout),
            };
            var errors = unreadable.Concat(options.Validate()).ToList();
            return errors.Count == 0 ? options : throw new OptionsValidationException(name, typeof(MixerOptions), errors);

            // Milliseconds; text that is no number is refused by name, like a number out of range.
            TimeSpan Ms(string key, TimeSpan fallback)
            {
                var text = c[key];
                if (string.IsNullOrWhiteSpace(text)) return fallback;
                // Beyond 10^12 ms (31 years) a TimeSpan would overflow soon; every bound is far below.
                if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var ms) && Math.Abs(ms) < 1e12)
                    return TimeSpan.FromMilliseconds(ms);
                unreadable.Add($"{key.Replace(":", "__").ToUpperInvariant()} must be a number of milliseconds, not '{text}'");
                return fallback;
            }
        }

        private static string? NullIfEmpty(string? s) => string.IsNullOrEmpty(s) ? null : s;
    }
}
