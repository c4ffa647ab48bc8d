using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using MixerWorker.Pipeline.Engine;
using MixerWorker.Pipeline.Scene;
using MixerWorker.Pipeline.Srt;
using MixerWorker.Testbed.Feeds;
using MixerWorker.Testbed.Reading;
using MixerWorker.Testbed.StandIn;
using MixerWorker.Testbed.Stamps;
using MixerWorker.Testbed.Timing;
using Xunit.Abstractions;

namespace MixerWorker.Pipeline.Tests.Integration;

/// <summary>
/// A whole show on loopback: the MediaMTX stand-in, synthetic feeds publishing into it, the engine
/// reading them and publishing buses back, and readers checking what a viewer would get.
/// </summary>
public sealed class MixHarness : IAsyncDisposable
{
    public const string Project = "show";
    public const string IngestPassphrase = "ingest-secret-1234";
    public const string OutputPassphrase = "output-secret-5678";
    public const string Token = "tok-abc.123";

    private readonly List<SyntheticFeed> _feeds = [];
    private readonly List<OutputReader> _readers = [];
    private readonly ITestOutputHelper? _output;

    public MediaMtxStandIn StandIn { get; }
    public ProjectMixer? Mixer { get; private set; }
    public ListLogger Log { get; }

    public MixHarness(ITestOutputHelper? output = null, string? requiredToken = Token)
    {
        MediaTestLock.Acquire(TimeSpan.FromMinutes(3));
        _output = output;
        Log = new ListLogger(output);
        StandIn = MediaMtxStandIn.Start(new StandInOptions
        {
            IngestPassphrase = IngestPassphrase, OutputPassphrase = OutputPassphrase, RequiredToken = requiredToken,
        });
    }

    public MixerOptions Options(string? ingestPassphrase = IngestPassphrase) => new()
    {
        MediaMtx = new MediaMtxConnection
        {
            Host = "127.0.0.1", SrtPort = StandIn.Port, IngestPassphrase = ingestPassphrase,
            OutputPassphrase = OutputPassphrase, Token = Token, LatencyMs = 80,
        },
        ReconnectInitialDelay = TimeSpan.FromMilliseconds(200),
        ReconnectMaxDelay = TimeSpan.FromSeconds(1),
        InputStallTimeout = TimeSpan.FromSeconds(1),
        FirstFrameTimeout = TimeSpan.FromSeconds(6),
    };

    public SyntheticFeed StartFeed(FeedSpec spec, string? passphrase = IngestPassphrase)
    {
        var feed = SyntheticFeed.Start(spec, Project, "127.0.0.1", StandIn.Port, passphrase, Token);
        _feeds.Add(feed);
        return feed;
    }

    /// <summary>A feed this harness started, by input name.</summary>
    public SyntheticFeed Feed(string input) => _feeds.Single(f => f.Spec.Input == input);

    public async Task WaitForPublisherAsync(string path, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!StandIn.PublishedPaths().Contains(path))
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"nobody published {path}");
            await Task.Delay(50);
        }
    }

    public async Task<ProjectMixer> StartMixerAsync(SceneDefinition scene, MixerOptions? options = null)
    {
        Mixer = await ProjectMixer.StartAsync(scene, options ?? Options(), Log);
        return Mixer;
    }

    /// <summary>A running show: the feeds published and seen by the stand-in, then the mixer on <paramref name="scene"/>.</summary>
    public static async Task<MixHarness> StartShowAsync(ITestOutputHelper output, SceneDefinition scene, IEnumerable<FeedSpec> feeds,
        Func<MixHarness, MixerOptions>? options = null)
    {
        var h = new MixHarness(output);
        try
        {
            var list = feeds.ToList();
            foreach (var f in list) h.StartFeed(f);
            foreach (var f in list) await h.WaitForPublisherAsync($"ingest/{Project}/{f.Input}", TimeSpan.FromSeconds(10));
            await h.StartMixerAsync(scene, options?.Invoke(h));
            return h;
        }
        catch
        {
            await h.DisposeAsync(); // the caller never gets it to dispose: feeds and stand-in would run on
            throw;
        }
    }

    /// <summary>Reads a bus as a viewer does; with <paramref name="stamps"/>, reads the feeds' stamps in those boxes instead of keeping pictures.</summary>
    public OutputReader Read(string bus, string? recordPath = null, IReadOnlyList<StampBox>? stamps = null)
    {
        var reader = new OutputReader("127.0.0.1", StandIn.Port, $"read:out/{Project}/{bus}:token={Token}", OutputPassphrase, recordPath, stamps);
        _readers.Add(reader);
        return reader;
    }

    /// <summary>
    /// Reads a feed straight from the stand-in, without the worker: the baseline of latency measurements
    /// (its stamps) or of what the feed itself sends (<paramref name="stamps"/> false: pictures and sound).
    /// </summary>
    public OutputReader ReadFeed(FeedSpec feed, bool stamps = true)
    {
        var reader = new OutputReader("127.0.0.1", StandIn.Port, $"read:ingest/{Project}/{feed.Input}:token={Token}", IngestPassphrase,
            stampBoxes: stamps ? [StampBox.Whole(feed.Input, feed.Fps, feed.Width, feed.Height)] : null);
        _readers.Add(reader);
        return reader;
    }

    public static BusDefinition Bus(string name, int width, int height, params Box[] boxes) => new()
    {
        Name = name, Format = new OutputFormat { Width = width, Height = height, Fps = 30, VideoBitrateKbps = 600, AudioBitrateKbps = 64 },
        Layout = boxes,
    };

    public static Box At(string source, int x, int y, int w, int h, int z = 0) => new() { Source = source, X = x, Y = y, Width = w, Height = h, Z = z, Fit = Fit.Fill };

    public async ValueTask DisposeAsync()
    {
        foreach (var r in _readers) r.Dispose();
        if (Mixer is not null) await Mixer.DisposeAsync();
        foreach (var f in _feeds) f.Dispose();
        StandIn.Dispose();
    }
}

/// <summary>Keeps every log line (to assert on, e.g. that no secret leaks) and echoes it to the test output.</summary>
public sealed class ListLogger(ITestOutputHelper? output) : ILogger
{
    private readonly List<string> _lines = [];

    public IReadOnlyList<string> Lines { get { lock (_lines) return [.. _lines]; } }

    /// <summary>Waits until a line containing <paramref name="text"/> has been logged <paramref name="times"/> times; fails after <paramref name="timeout"/> (20 s).</summary>
    public async Task WaitForAsync(string text, int times = 1, TimeSpan? timeout = null)
    {
        for (var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(20)); Lines.Count(l => l.Contains(text, StringComparison.Ordinal)) < times; await Task.Delay(100))
            Xunit.Assert.True(DateTime.UtcNow < deadline, $"never logged {times} times: {text}");
    }

    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => NullScope.Instance;
    // MIXER_TEST_LOG=debug adds the engine's debug lines (timeline corrections, pipeline warnings) to a test's output.
    private static readonly LogLevel Least = Environment.GetEnvironmentVariable("MIXER_TEST_LOG") == "debug" ? LogLevel.Debug : LogLevel.Information;

    public bool IsEnabled(LogLevel logLevel) => logLevel >= Least;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        if (!IsEnabled(logLevel)) return;
        var line = $"{DateTime.UtcNow:HH:mm:ss.fff} {logLevel}: {formatter(state, exception)}{(exception is null ? "" : " " + exception)}";
        lock (_lines) _lines.Add(line);
        try { output?.WriteLine(line); } catch (InvalidOperationException) { /* test already finished */ }
    }

    private sealed class NullScope : IDisposable
    {
        public static readonly NullScope Instance = new();
        public void Dispose() { }
    }
}
