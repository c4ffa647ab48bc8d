using System.Text.Json;
using System.Threading.Channels;
using MixerWorker.ControlPlane;
using MixerWorker.Pipeline.Scene;
using MixerWorker.Testbed.Feeds;
using MixerWorker.Testbed.Imaging;
using MixerWorker.Testbed.Reading;
using MixerWorker.Testbed.StandIn;
using MixerWorker.Testbed.Stamps;
using MixerWorker.Testbed.Timing;
using StackExchange.Redis;
using Xunit;
using Xunit.Abstractions;

namespace MixerWorker.Tests;

/// <summary>
/// Everything around a worker process: a password-protected redis-server, the MediaMTX stand-in with
/// passphrases and a token, synthetic feeds, output readers, and a Redis client playing the API.
/// </summary>
public sealed class WorkerHarness : IAsyncDisposable
{
    public const string Project = "show";
    public const string RedisPassword = "redis-pw-5150-secret";
    public const string IngestPassphrase = "ingest-secret-1234";
    public const string OutputPassphrase = "output-secret-5678";
    public const string Token = "tok-abc.123";
    private static readonly string[] Secrets = [RedisPassword, IngestPassphrase, OutputPassphrase, Token];

    private readonly ITestOutputHelper _output;
    private readonly List<SyntheticFeed> _feeds = [];
    private readonly List<OutputReader> _readers = [];
    private readonly List<WorkerProcess> _workers = [];
    private readonly Channel<ProjectEvent> _events = Channel.CreateUnbounded<ProjectEvent>();
    private readonly List<string> _rawEvents = [];
    private ConnectionMultiplexer? _client;

    public RedisServer Redis { get; }
    public MediaMtxStandIn StandIn { get; }
    public RedisKeys Keys { get; } = new("mixer");

    private WorkerHarness(RedisServer redis, ITestOutputHelper output)
    {
        Redis = redis;
        _output = output;
        StandIn = MediaMtxStandIn.Start(new StandInOptions { IngestPassphrase = IngestPassphrase, OutputPassphrase = OutputPassphrase, RequiredToken = Token });
        // A white 40x20 logo for the graphics layer of the two-input scene.
        GraphicsDirectory = Directory.CreateTempSubdirectory("mixer-graphics-").FullName;
        PngWriter.Write(new RgbFrame(40, 20, Enumerable.Repeat((byte)255, 40 * 20 * 3).ToArray(), DateTimeOffset.UtcNow), Path.Combine(GraphicsDirectory, Logo));
    }

    public const string Logo = "logo.png";
    public string GraphicsDirectory { get; }

    public static async Task<WorkerHarness> StartAsync(ITestOutputHelper output)
    {
        MediaTestLock.Acquire(TimeSpan.FromMinutes(3));
        var h = new WorkerHarness(await RedisServer.StartAsync(RedisPassword), output);
        await h.ConnectClientAsync();
        return h;
    }

    /// <summary>The test's own client, which also collects every event of the project; call again after a Redis restart.</summary>
    public async Task ConnectClientAsync()
    {
        if (_client is not null) await _client.DisposeAsync();
        _client = await Redis.ConnectAsync();
        await _client.GetSubscriber().SubscribeAsync(Keys.Events(Project), (_, m) =>
        {
            lock (_rawEvents) _rawEvents.Add(m.ToString());
            if (ParseEvent(m.ToString()) is { } e) _events.Writer.TryWrite(e);
        });
    }

    public IDatabase Db => _client!.GetDatabase();

    public Dictionary<string, string> Environment(params (string Key, string Value)[] extra)
    {
        var env = new Dictionary<string, string>
        {
            ["REDIS__CONFIGURATION"] = Redis.Configuration,
            ["WORKER__ID"] = "worker-under-test",
            ["WORKER__STATUSINTERVALMS"] = "250",
            ["WORKER__RESYNCSECONDS"] = "2",
            ["MEDIAMTX__HOST"] = "127.0.0.1",
            ["MEDIAMTX__SRTPORT"] = StandIn.Port.ToString(),
            ["MEDIAMTX__TOKEN"] = Token,
            ["INGEST_SRT_PASSPHRASE"] = IngestPassphrase,
            ["OUTPUT_SRT_PASSPHRASE"] = OutputPassphrase,
            ["SRT__LATENCYMS"] = "80",
            ["RECONNECT__INITIALDELAYMS"] = "200",
            ["RECONNECT__MAXDELAYMS"] = "1000",
            ["SHUTDOWN__GRACESECONDS"] = "10",
            ["GRAPHICS__DIRECTORY"] = GraphicsDirectory,
        };
        foreach (var (k, v) in extra) env[k] = v;
        return env;
    }

    public WorkerProcess StartWorker(params (string Key, string Value)[] extra)
    {
        var worker = WorkerProcess.Start(Environment(extra), _output);
        _workers.Add(worker);
        return worker;
    }

    public SyntheticFeed StartFeed(FeedSpec spec)
    {
        var feed = SyntheticFeed.Start(spec, Project, "127.0.0.1", StandIn.Port, IngestPassphrase, Token);
        _feeds.Add(feed);
        return feed;
    }

    public async Task WaitForPublisherAsync(string path, TimeSpan timeout) =>
        await Eventually(() => Task.FromResult(StandIn.PublishedPaths().Contains(path)), timeout, $"nobody published {path}");

    /// <summary>A reader of a bus; with <paramref name="stamps"/>, it reads those boxes' stamps (StampAnalysis).</summary>
    public OutputReader Read(string bus, IReadOnlyList<StampBox>? stamps = null)
    {
        var reader = new OutputReader("127.0.0.1", StandIn.Port, $"read:out/{Project}/{bus}:token={Token}", OutputPassphrase, stampBoxes: stamps);
        _readers.Add(reader);
        return reader;
    }

    /// <summary>Writes a desired state the way the API does; <paramref name="notify"/> false plays a lost notification.</summary>
    public async Task WriteDesiredAsync(string payload, bool notify = true, string project = Project)
    {
        await Db.SetAddAsync(Keys.Projects, project);
        await Db.StringSetAsync(Keys.Desired(project), payload);
        if (notify) await Db.PublishAsync(Keys.Events(project), ControlPlaneJson.Write(new ProjectEvent { Type = EventTypes.Desired, Project = project }));
    }

    public Task WriteDesiredAsync(SceneDefinition scene, bool notify = true) => WriteDesiredAsync(SceneJson.Write(scene), notify);

    /// <summary>Adds a command the way the API and mixerctl do (XADD MAXLEN ~ 1000, then a wake-up); returns the entry id.</summary>
    public async Task<string> AddCommandAsync(string json, bool notify = true, string field = "command", string? entryId = null)
    {
        var tx = Db.CreateTransaction();
        var added = tx.StreamAddAsync(Keys.Commands(Project), field, json, entryId is null ? (RedisValue?)null : entryId, maxLength: 1000, useApproximateMaxLength: true);
        if (notify) _ = tx.PublishAsync(Keys.Events(Project), ControlPlaneJson.Write(new ProjectEvent { Type = EventTypes.Command, Project = Project }));
        await tx.ExecuteAsync();
        return (await added).ToString();
    }

    public Task<string> AddCommandAsync(ShowCommand command, bool notify = true) => AddCommandAsync(CommandJson.Write(command), notify);

    /// <summary>Every event published on the project's channel so far, in order.</summary>
    public IReadOnlyList<ProjectEvent> Events()
    {
        lock (_rawEvents) return [.. _rawEvents.Select(ParseEvent).OfType<ProjectEvent>()];
    }

    // Tests that publish junk on the channel themselves (the fuzz run) must not trip over it here.
    private static ProjectEvent? ParseEvent(string message)
    {
        try { return JsonSerializer.Deserialize<ProjectEvent>(message, ControlPlaneJson.Options); }
        catch (JsonException) { return null; }
    }

    /// <summary>The worker's answer (commandApplied or error) to the command added as <paramref name="entry"/>.</summary>
    public Task<ProjectEvent> AnswerAsync(string entry, TimeSpan? timeout = null) =>
        WaitForEventAsync(e => e.Entry == entry && e.Type is EventTypes.CommandApplied or EventTypes.Error, timeout ?? TimeSpan.FromSeconds(15), $"no answer to command entry {entry}");

    /// <summary>
    /// The first event so far that matches, or the first to come. Events reach the test on their own connection, apart
    /// from the status key and the worker's output: what the status already shows can have its event still on the way.
    /// </summary>
    public async Task<ProjectEvent> WaitForEventAsync(Func<ProjectEvent, bool> match, TimeSpan timeout, string failure)
    {
        ProjectEvent? found = null;
        await Eventually(() => Task.FromResult((found = Events().FirstOrDefault(match)) is not null), timeout, failure);
        return found!;
    }

    public async Task<SceneDefinition?> DesiredAsync()
    {
        var value = await Db.StringGetAsync(Keys.Desired(Project));
        return value.IsNull ? null : SceneJson.Parse(value.ToString());
    }

    public async Task<ProjectStatus?> StatusAsync()
    {
        var value = await Db.StringGetAsync(Keys.Status(Project));
        return value.IsNull ? null : JsonSerializer.Deserialize<ProjectStatus>(value.ToString(), ControlPlaneJson.Options);
    }

    public async Task<ProjectStatus> WaitForStatusAsync(Func<ProjectStatus, bool> match, TimeSpan timeout)
    {
        ProjectStatus? last = null;
        await Eventually(async () => (last = await StatusAsync()) is { } s && match(s), timeout, "the status did not reach the expected state");
        return last!;
    }

    public async Task<ProjectEvent> NextEventAsync(Func<ProjectEvent, bool> match, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            while (true)
            {
                var e = await _events.Reader.ReadAsync(cts.Token);
                if (match(e)) return e;
            }
        }
        catch (OperationCanceledException) { throw new TimeoutException($"no matching event within {timeout.TotalSeconds:F0} s"); }
    }

    /// <summary>No password, passphrase or token in anything a worker printed or published.</summary>
    public void AssertNoSecretLeaked()
    {
        string[] texts;
        lock (_rawEvents) texts = [.. _workers.Select(w => w.Output), .. _rawEvents];
        Assert.NotEmpty(texts);
        foreach (var secret in Secrets)
            Assert.DoesNotContain(texts, t => t.Contains(secret, StringComparison.Ordinal));
    }

    /// <summary>No password, passphrase or token in <paramref name="text"/> (e.g. what mixerctl printed).</summary>
    public static void AssertNoSecretIn(string text)
    {
        foreach (var secret in Secrets) Assert.DoesNotContain(secret, text, StringComparison.Ordinal);
    }

    public static async Task Eventually(Func<Task<bool>> condition, TimeSpan timeout, string failure)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException(failure);
            await Task.Delay(50);
        }
    }

    public const string Input = "cam-a";

    /// <summary>One input shown in a box <paramref name="boxWidth"/> wide from the left on a small program bus.
    /// A narrower box is a change the engine makes live, without touching the output connection.</summary>
    public static SceneDefinition Scene(long revision, int boxWidth = 160) => new()
    {
        Project = Project,
        Revision = revision,
        Inputs = [new InputDefinition { Name = Input }],
        Buses =
        [
            new BusDefinition
            {
                Name = "program",
                Format = new OutputFormat { Width = 160, Height = 90, Fps = 30, VideoBitrateKbps = 300, AudioBitrateKbps = 64 },
                Layout = [new Box { Source = Input, Width = boxWidth, Height = 90, Fit = Fit.Fill }],
            },
        ],
    };

    public const string InputB = "cam-b";

    /// <summary>Two inputs; the program bus shows cam-a full frame with cam-b full frame in preview (and, if asked, a hidden logo layer).</summary>
    public static SceneDefinition TwoInputScene(long revision, bool withGraphics = false) => new()
    {
        Project = Project,
        Revision = revision,
        Inputs = [new InputDefinition { Name = Input }, new InputDefinition { Name = InputB }],
        Buses =
        [
            new BusDefinition
            {
                Name = "program",
                Format = new OutputFormat { Width = 160, Height = 90, Fps = 30, VideoBitrateKbps = 300, AudioBitrateKbps = 64 },
                Layout = [FullFrame(Input)],
                Preview = new Shot { Boxes = [FullFrame(InputB)] },
                Graphics = withGraphics ? [new GraphicLayer { File = Logo, X = 0, Y = 0, Width = 40, Height = 20, FadeMs = 0 }] : [],
            },
        ],
    };

    public static Box FullFrame(string input) => new() { Source = input, Width = 160, Height = 90, Fit = Fit.Fill };

    public async ValueTask DisposeAsync()
    {
        foreach (var r in _readers) r.Dispose();
        foreach (var w in _workers) await w.DisposeAsync();
        foreach (var f in _feeds) f.Dispose();
        if (_client is not null) await _client.DisposeAsync();
        StandIn.Dispose();
        await Redis.DisposeAsync();
        try { Directory.Delete(GraphicsDirectory, recursive: true); } catch (IOException) { }
    }
}
