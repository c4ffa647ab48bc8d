using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using MixerWorker.Fleet;
using MixerWorker.Hosting;
using MixerWorker.Pipeline.Engine;
using Xunit.Abstractions;

namespace MixerWorker.Tests.Fleet;

/// <summary>
/// The worker daemon (every control-plane service, real Redis) built in the test process, with a fake
/// engine: many of them can share one redis-server cheaply. Stopping it is what SIGTERM does (drain).
/// </summary>
public sealed class InProcessWorker : IAsyncDisposable
{
    private readonly IHost _host;
    private bool _stopped;

    // Separate processes would each have a thread pool of their own; several workers in one process
    // must not wait for the pool to grow (half a second per thread) when one of them is busy.
    static InProcessWorker() => ThreadPool.SetMinThreads(Math.Max(32, Environment.ProcessorCount), Math.Max(32, Environment.ProcessorCount));

    private InProcessWorker(string id, IHost host, TestLog log, FixedCpuMeter meter)
    {
        (Id, _host, Log, Meter) = (id, host, log, meter);
    }

    public string Id { get; }
    public TestLog Log { get; }
    public FixedCpuMeter Meter { get; }
    public IServiceProvider Services => _host.Services;

    public static async Task<InProcessWorker> StartAsync(string id, IReadOnlyDictionary<string, string?> settings, FakeMixerLedger ledger, ITestOutputHelper output)
    {
        var configuration = new ConfigurationManager();
        configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Worker:Id"] = id,
            ["MediaMtx:Host"] = "127.0.0.1",
            ["MediaMtx:SrtPort"] = "9",
        });
        configuration.AddInMemoryCollection(settings);
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true, Configuration = configuration });
        var log = new TestLog(id, output);
        builder.Logging.ClearProviders();
        builder.Logging.AddProvider(log);
        builder.Services.AddMixerOptions(builder.Configuration);
        builder.AddControlPlane();
        builder.Services.AddSingleton<IProjectMixerFactory>(new FakeMixerFactory(id, ledger));
        var meter = new FixedCpuMeter(0);
        builder.Services.AddSingleton<ICpuMeter>(meter);
        var host = builder.Build();
        await host.StartAsync();
        return new InProcessWorker(id, host, log, meter);
    }

    /// <summary>What SIGTERM does: the host stops, the drain hands projects over first.</summary>
    public async Task StopAsync()
    {
        if (_stopped) return;
        _stopped = true;
        await _host.StopAsync();
    }

    public async ValueTask DisposeAsync()
    {
        try { await StopAsync(); }
        catch (OperationCanceledException) { }
        _host.Dispose();
    }
}
