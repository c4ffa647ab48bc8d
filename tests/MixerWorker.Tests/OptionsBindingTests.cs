using System.Globalization;
using System.Reflection;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using MixerWorker.ControlPlane;
using MixerWorker.Fleet;
using MixerWorker.Hosting;
using MixerWorker.Observability;
using MixerWorker.Pipeline.Encoding;
using MixerWorker.Pipeline.Engine;
using MixerWorker.Pipeline.Srt;
using Xunit;

namespace MixerWorker.Tests;

/// <summary>
/// The host binds its options with generated code (EnableConfigurationBindingGenerator), which runs only
/// where the host itself calls Bind/Get/GetValue: these tests go through the host's own registrations.
/// A binder that skips a key, or loses a property's default when its key is absent, fails here.
/// </summary>
public sealed class OptionsBindingTests
{
    private static readonly Type[] DaemonOptions = [typeof(RedisOptions), typeof(WorkerOptions), typeof(ShutdownOptions), typeof(FleetOptions), typeof(MetricsOptions)];

    [Fact]
    public void Every_daemon_options_class_keeps_its_defaults_when_its_keys_are_absent()
    {
        using var host = Daemon(new() { ["Redis:Configuration"] = "localhost:6379" });
        foreach (var type in DaemonOptions)
        {
            var bound = Configured(host.Services, type);
            var fresh = Activator.CreateInstance(type)!;
            if (bound is RedisOptions r) r.Configuration = null;
            foreach (var (key, expected, actual) in Compare(Section(type), fresh, bound))
                Assert.True(Equals(expected, actual), $"{key}: default {expected}, bound {actual}");
        }
    }

    [Fact]
    public void Every_daemon_options_key_reaches_its_property()
    {
        var values = new Dictionary<string, string?>();
        var expected = new List<(string Key, object Value)>();
        foreach (var type in DaemonOptions)
            Plan(Section(type), Activator.CreateInstance(type)!, values, expected);
        Assert.Contains(expected, e => e.Key == "Fleet:Cost:BusCpusPerMpx"); // nested classes are walked too
        using var host = Daemon(values);
        foreach (var type in DaemonOptions)
        {
            var bound = Configured(host.Services, type);
            foreach (var (key, _, actual) in Compare(Section(type), Activator.CreateInstance(type)!, bound))
            {
                var wanted = expected.Single(e => e.Key == key).Value;
                Assert.True(Equals(wanted, actual), $"{key}: set to {wanted}, bound {actual}");
            }
        }
    }

    [Fact]
    public void The_engine_options_keep_their_defaults_and_take_every_key()
    {
        Assert.Equal(new MixerOptions(), Mixer(new()));
        var set = Mixer(new()
        {
            ["MediaMtx:Host"] = "mtx.example", ["MediaMtx:SrtPort"] = "8890", ["MediaMtx:Token"] = "t0k",
            ["INGEST_SRT_PASSPHRASE"] = "ingest-secret", ["OUTPUT_SRT_PASSPHRASE"] = "output-secret",
            ["Srt:LatencyMs"] = "200", ["Encoder:Backend"] = "Software", ["Graphics:Directory"] = AppContext.BaseDirectory,
            ["Reconnect:InitialDelayMs"] = "100", ["Reconnect:MaxDelayMs"] = "300", ["Reconnect:ProbeIntervalMs"] = "700",
            ["Thumbnails:IntervalMs"] = "0", ["Thumbnails:Width"] = "160",
            ["Timing:InputJitterMs"] = "80", ["Timing:MixerLatencyMs"] = "40",
            ["Stall:InputTimeoutMs"] = "3500", ["Stall:BusTimeoutMs"] = "8000",
        });
        Assert.Equal(new MixerOptions
        {
            MediaMtx = new MediaMtxConnection
            {
                Host = "mtx.example", SrtPort = 8890, Token = "t0k", IngestPassphrase = "ingest-secret",
                OutputPassphrase = "output-secret", LatencyMs = 200,
            },
            Encoder = EncoderPreference.Software, GraphicsDirectory = AppContext.BaseDirectory,
            ReconnectInitialDelay = TimeSpan.FromMilliseconds(100), ReconnectMaxDelay = TimeSpan.FromMilliseconds(300),
            ReconnectProbeInterval = TimeSpan.FromMilliseconds(700), ThumbnailInterval = TimeSpan.Zero, ThumbnailWidth = 160,
            InputJitter = TimeSpan.FromMilliseconds(80), MixerLatency = TimeSpan.FromMilliseconds(40),
            InputStallTimeout = TimeSpan.FromMilliseconds(3500), BusStallTimeout = TimeSpan.FromSeconds(8),
        }, set);
    }

    [Theory]
    [InlineData("Stall:BusTimeoutMs", "0", "STALL__BUSTIMEOUTMS")]
    [InlineData("Stall:BusTimeoutMs", "-5000", "STALL__BUSTIMEOUTMS")]
    [InlineData("Stall:BusTimeoutMs", "999", "STALL__BUSTIMEOUTMS")]
    [InlineData("Stall:BusTimeoutMs", "86400000", "STALL__BUSTIMEOUTMS")] // a day: a stall would be no news
    [InlineData("Stall:BusTimeoutMs", "5s", "STALL__BUSTIMEOUTMS")]
    [InlineData("Stall:BusTimeoutMs", "1e300", "STALL__BUSTIMEOUTMS")]
    [InlineData("Stall:InputTimeoutMs", "0", "STALL__INPUTTIMEOUTMS")]
    [InlineData("Stall:InputTimeoutMs", "-1", "STALL__INPUTTIMEOUTMS")]
    [InlineData("Stall:InputTimeoutMs", "100", "STALL__INPUTTIMEOUTMS")]
    [InlineData("Stall:InputTimeoutMs", "600000", "STALL__INPUTTIMEOUTMS")]
    [InlineData("Stall:InputTimeoutMs", "NaN", "STALL__INPUTTIMEOUTMS")]
    [InlineData("Timing:InputJitterMs", "sixty", "TIMING__INPUTJITTERMS")]
    public void A_bad_timeout_is_refused_naming_its_variable(string key, string value, string variable)
    {
        var refused = Assert.Throws<OptionsValidationException>(() => Mixer(new() { [key] = value }));
        var error = Assert.Single(refused.Failures);
        Assert.Contains(variable, error);
    }

    [Theory]
    [InlineData("1000", 1000)]
    [InlineData("300000", 300000)]
    [InlineData("2500.5", 2500.5)]
    public void A_bus_stall_timeout_within_its_bounds_is_taken(string value, double ms) =>
        Assert.Equal(TimeSpan.FromMilliseconds(ms), Mixer(new() { ["Stall:BusTimeoutMs"] = value }).BusStallTimeout);

    private static IHost Daemon(Dictionary<string, string?> values)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(values);
        builder.AddControlPlane();
        return builder.Build();
    }

    private static MixerOptions Mixer(Dictionary<string, string?> values)
    {
        var services = new ServiceCollection();
        services.AddMixerOptions(new ConfigurationBuilder().AddInMemoryCollection(values).Build());
        using var provider = services.BuildServiceProvider();
        return provider.GetRequiredService<IOptions<MixerOptions>>().Value;
    }

    /// <summary>The instance the host's configure steps produce, before validation (some keys set here would not validate).</summary>
    private static object Configured(IServiceProvider services, Type type)
    {
        var instance = Activator.CreateInstance(type)!;
        var configureType = typeof(IConfigureOptions<>).MakeGenericType(type);
        var configures = services.GetServices(configureType).ToList();
        Assert.True(configures.Count > 0, $"{type.Name}: no configure step registered");
        foreach (var configure in configures)
            configureType.GetMethod(nameof(IConfigureOptions<object>.Configure))!.Invoke(configure, [instance]);
        return instance;
    }

    private static string Section(Type type) => (string)type.GetField("Section")!.GetValue(null)!;

    private static IEnumerable<PropertyInfo> Bindable(Type type) =>
        type.GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.CanWrite && p.SetMethod!.IsPublic);

    private static bool Nested(Type type) => type.IsClass && type != typeof(string);

    private static IEnumerable<(string Key, object? Expected, object? Actual)> Compare(string prefix, object expected, object actual)
    {
        foreach (var p in Bindable(expected.GetType()))
        {
            var key = $"{prefix}:{p.Name}";
            if (Nested(p.PropertyType))
                foreach (var inner in Compare(key, p.GetValue(expected)!, p.GetValue(actual)!)) yield return inner;
            else
                yield return (key, p.GetValue(expected), p.GetValue(actual));
        }
    }

    /// <summary>A value unlike the default for every bindable property, written as configuration text.</summary>
    private static void Plan(string prefix, object defaults, Dictionary<string, string?> values, List<(string, object)> expected)
    {
        foreach (var p in Bindable(defaults.GetType()))
        {
            var key = $"{prefix}:{p.Name}";
            var type = Nullable.GetUnderlyingType(p.PropertyType) ?? p.PropertyType;
            var current = p.GetValue(defaults);
            object value;
            if (Nested(type)) { Plan(key, current!, values, expected); continue; }
            else if (type == typeof(string)) value = p.Name == "Configuration" ? "redis.example:6390" : $"{p.Name.ToLowerInvariant()}-x";
            else if (type == typeof(int)) value = (int)(current ?? 0) + 7;
            else if (type == typeof(double)) value = (double)(current ?? 0.0) + 0.25;
            else if (type == typeof(bool)) value = !(bool)current!;
            else if (type.IsEnum) value = Enum.GetValues(type).Cast<object>().First(v => !v.Equals(current));
            else throw new InvalidOperationException($"{key}: no test value for {type.Name}; add one");
            values[key] = Convert.ToString(value, CultureInfo.InvariantCulture);
            expected.Add((key, value));
        }
    }
}
