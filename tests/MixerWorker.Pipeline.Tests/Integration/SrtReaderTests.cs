using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging.Abstractions;
using MixerWorker.Pipeline.Builders;
using MixerWorker.Pipeline.Engine;
using MixerWorker.Pipeline.Interop;
using MixerWorker.Pipeline.Sources;
using MixerWorker.Pipeline.Srt;
using MixerWorker.Testbed.Feeds;
using MixerWorker.Testbed.StandIn;
using Xunit;
using Xunit.Abstractions;
using static MixerWorker.Pipeline.Tests.Integration.MixHarness;

namespace MixerWorker.Pipeline.Tests.Integration;

/// <summary>
/// The engine's own SRT caller: what it reports when a connection cannot be made or ends, and that
/// stopping it (alone, or inside an input's bin) is prompt whatever it is doing. Stopping a live
/// srtsrc used to hang now and then; these loops are what would show such a hang again.
/// </summary>
public sealed class SrtReaderTests(ITestOutputHelper output)
{
    private const string WrongPassphrase = "not-the-ingest-passphrase";
    private static readonly TimeSpan Prompt = TimeSpan.FromSeconds(2);

    private static SrtEndpoint Endpoint(int port, string path, string? passphrase = IngestPassphrase, string host = "127.0.0.1", bool token = true) =>
        new(host, port, token ? $"read:{path}:token={Token}" : $"read:{path}", passphrase, 80, HasToken: token);

    /// <summary>A reader with its outcome captured: what it delivered and why it ended.</summary>
    private sealed class Probe : IDisposable
    {
        private readonly TaskCompletionSource<string> _ended = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource _data = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource _exited = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private long _bytes;

        internal SrtCallerReader Reader { get; }
        internal Task<string> Ended => _ended.Task;
        internal Task FirstData => _data.Task;
        internal Task Exited => _exited.Task;
        internal long Bytes => Interlocked.Read(ref _bytes);

        internal Probe(SrtEndpoint endpoint) => Reader = new SrtCallerReader(endpoint, "INGEST_SRT_PASSPHRASE", "srt:test",
            data =>
            {
                Interlocked.Add(ref _bytes, data.Length);
                _data.TrySetResult();
                return true;
            },
            (reason, _) => _ended.TrySetResult(reason),
            () => _exited.TrySetResult());

        public void Dispose() => Reader.Dispose();
    }

    // A publisher of plain messages (the reader does not look inside them) until disposed.
    private sealed class Publisher : IDisposable
    {
        private readonly CancellationTokenSource _stop = new();
        private readonly Thread _thread;
        private volatile string? _failure;
        private long _sent;

        /// <summary>What the publisher is doing, for a test that waits for data in vain.</summary>
        internal string State => _failure is { } f ? $"publisher stopped after {Interlocked.Read(ref _sent)} messages: {f}"
            : $"publisher sending ({Interlocked.Read(ref _sent)} messages so far)";

        internal Publisher(MediaMtxStandIn standIn, string path)
        {
            var client = SrtClient.Connect("127.0.0.1", standIn.Port, $"publish:{path}:token={Token}", new SrtClientOptions { Passphrase = IngestPassphrase });
            _thread = new Thread(() =>
            {
                using (client)
                {
                    var message = new byte[1316];
                    while (!_stop.IsCancellationRequested)
                    {
                        try { client.Send(message); }
                        catch (SrtException e) { _failure = e.Message; return; }
                        Interlocked.Increment(ref _sent);
                        Thread.Sleep(2);
                    }
                }
            }) { IsBackground = true, Name = "test-publisher" };
            _thread.Start();
        }

        public void Dispose()
        {
            _stop.Cancel();
            _thread.Join();
        }
    }

    private static MediaMtxStandIn StartStandIn() => MediaMtxStandIn.Start(new StandInOptions
    {
        IngestPassphrase = IngestPassphrase, OutputPassphrase = OutputPassphrase, RequiredToken = Token,
    });

    private static async Task WaitForPublisher(MediaMtxStandIn standIn, string path)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (!standIn.PublishedPaths().Contains(path))
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"nobody published {path}");
            await Task.Delay(20);
        }
    }

    /// <summary>
    /// Waits for a reader's first data and, when none comes, fails saying where it stopped: the reader's
    /// own reason, whether it connected, what the publisher and the stand-in's path saw, and how the stand-in
    /// recorded the latest read of the path (which side closed it).
    /// </summary>
    private static async Task AwaitFirstDataAsync(Probe probe, MediaMtxStandIn standIn, string path, Publisher? publisher, string which)
    {
        var timeout = Task.Delay(TimeSpan.FromSeconds(10));
        var first = await Task.WhenAny(probe.FirstData, probe.Ended, timeout);
        if (first == probe.FirstData) return;
        var why = first == probe.Ended ? $"the reader ended: {await probe.Ended}" : "no data within 10 s";
        Assert.Fail($"{which}: {why}; reader connected {probe.Reader.IsConnected}, {probe.Bytes} bytes; " +
            $"{publisher?.State ?? "no test publisher"}; stand-in path: {standIn.GetPathStats(path)?.ToString() ?? "none"}; " +
            LatestRead(standIn, path));
    }

    // The tests connect their readers one at a time, so the latest read of the path is the reader that failed.
    private static string LatestRead(MediaMtxStandIn standIn, string path) =>
        standIn.Attempts().LastOrDefault(a => a.Path == path && a.Action == StreamIdParser.Read) is { } read
            ? $"stand-in's latest read: {read.Outcome}{(read.Reason is null ? "" : $" ({read.Reason})")}" +
              (read.ClosedAt is { } closed ? $", closed {(closed - read.At).TotalMilliseconds:F0} ms after its handshake began" : ", not closed")
            : "the stand-in saw no read of the path";

    private static TimeSpan Time(Action action)
    {
        var sw = Stopwatch.StartNew();
        action();
        return sw.Elapsed;
    }

    private void Report(string what, List<TimeSpan> times) =>
        output.WriteLine($"{what}: {times.Count} stops, median {times.Order().ElementAt(times.Count / 2).TotalMilliseconds:F1} ms, max {times.Max().TotalMilliseconds:F1} ms");

    [Fact]
    public async Task A_reader_that_is_receiving_stops_promptly_twenty_times_in_a_row()
    {
        using var standIn = StartStandIn();
        using var publisher = new Publisher(standIn, "ingest/show/cam-a");
        await WaitForPublisher(standIn, "ingest/show/cam-a");
        var times = new List<TimeSpan>();
        for (var i = 0; i < 20; i++)
        {
            var probe = new Probe(Endpoint(standIn.Port, "ingest/show/cam-a"));
            await AwaitFirstDataAsync(probe, standIn, "ingest/show/cam-a", publisher, $"reader {i + 1}");
            await Task.Delay(50);
            var stopped = false;
            times.Add(Time(() => stopped = probe.Reader.Stop(Prompt)));
            Assert.True(stopped, $"stop {i + 1} did not finish within {Prompt.TotalSeconds} s");
            Assert.True(probe.Exited.IsCompleted);
            if (probe.Ended.IsCompleted) Assert.Fail($"a stop is not a failure, yet the reader reported: {await probe.Ended}");
            Assert.True(probe.Bytes > 0);
        }
        Report("receiving", times);
    }

    // libsrt reads as broken, with no reason, for a moment while a connect completes (SrtCallerReader.ReadConnect):
    // the CI failure this guards against was a reader that gave up on a connect that was succeeding.
    [Fact]
    public void A_break_without_a_reason_is_believed_only_once_it_has_lasted()
    {
        const int broken = LibSrt.SRTS_BROKEN, unknown = LibSrt.SRT_REJ_UNKNOWN;
        Assert.Equal(SrtCallerReader.ConnectProgress.Connecting, SrtCallerReader.ReadConnect(broken, unknown, 0));
        Assert.Equal(SrtCallerReader.ConnectProgress.Connecting, SrtCallerReader.ReadConnect(broken, unknown, SrtCallerReader.UnexplainedBreakMs - 1));
        Assert.Equal(SrtCallerReader.ConnectProgress.Connected, SrtCallerReader.ReadConnect(LibSrt.SRTS_CONNECTED, unknown, 0));
        Assert.Equal(SrtCallerReader.ConnectProgress.Failed, SrtCallerReader.ReadConnect(broken, unknown, SrtCallerReader.UnexplainedBreakMs));
        // A refusal or a timeout carries its reason and is final at once.
        foreach (var reason in new[] { LibSrt.SRT_REJ_BADSECRET, LibSrt.SRT_REJ_TIMEOUT, LibSrt.SRT_REJX_NOTFOUND })
            Assert.Equal(SrtCallerReader.ConnectProgress.Failed, SrtCallerReader.ReadConnect(broken, reason, 0));
        Assert.Equal(SrtCallerReader.ConnectProgress.Failed, SrtCallerReader.ReadConnect(LibSrt.SRTS_CLOSED, unknown, 0));
    }

    [Fact]
    public async Task A_reader_connecting_to_a_host_that_never_answers_stops_promptly()
    {
        using var blackHole = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0)); // takes the handshake, never answers
        var port = ((IPEndPoint)blackHole.Client.LocalEndPoint!).Port;
        var times = new List<TimeSpan>();
        for (var i = 0; i < 5; i++)
        {
            var probe = new Probe(Endpoint(port, "ingest/show/cam-a"));
            await Task.Delay(300);
            Assert.False(probe.Reader.IsConnected);
            var stopped = false;
            times.Add(Time(() => stopped = probe.Reader.Stop(Prompt)));
            Assert.True(stopped, "the stop waited for the connect");
            Assert.False(probe.Ended.IsCompleted);
        }
        Report("connecting", times);
        Assert.True(times.Max() < TimeSpan.FromMilliseconds(500), $"slowest stop {times.Max().TotalMilliseconds:F0} ms");
    }

    [Fact]
    public async Task A_host_that_never_answers_is_reported_as_such()
    {
        using var blackHole = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
        var port = ((IPEndPoint)blackHole.Client.LocalEndPoint!).Port;
        using var probe = new Probe(Endpoint(port, "ingest/show/cam-a"));
        var reason = await probe.Ended.WaitAsync(SrtCallerReader.ConnectTimeout + TimeSpan.FromSeconds(5));
        output.WriteLine(reason);
        Assert.Equal($"MediaMTX at 127.0.0.1:{port} did not answer within {SrtCallerReader.ConnectTimeout.TotalSeconds:F0} s", reason);
    }

    [Fact]
    public async Task A_wrong_passphrase_is_named_by_its_variable_and_never_quoted()
    {
        using var standIn = StartStandIn();
        using var publisher = new Publisher(standIn, "ingest/show/cam-a");
        await WaitForPublisher(standIn, "ingest/show/cam-a");

        using var wrong = new Probe(Endpoint(standIn.Port, "ingest/show/cam-a", WrongPassphrase));
        var reason = await wrong.Ended.WaitAsync(TimeSpan.FromSeconds(10));
        output.WriteLine(reason);
        Assert.Equal("SRT authentication failed: wrong passphrase (check INGEST_SRT_PASSPHRASE)", reason);

        using var missing = new Probe(Endpoint(standIn.Port, "ingest/show/cam-a", passphrase: null));
        reason = await missing.Ended.WaitAsync(TimeSpan.FromSeconds(10));
        output.WriteLine(reason);
        Assert.Contains("INGEST_SRT_PASSPHRASE", reason);
        Assert.Contains("none is set", reason);
        foreach (var secret in new[] { WrongPassphrase, IngestPassphrase, Token })
            Assert.DoesNotContain(secret, reason);
    }

    [Fact]
    public async Task Refused_reads_say_why()
    {
        using var standIn = StartStandIn();
        using (var absent = new Probe(Endpoint(standIn.Port, "ingest/show/cam-z")))
            Assert.Equal("no publisher on ingest/show/cam-z (MediaMTX refused the read)", await absent.Ended.WaitAsync(TimeSpan.FromSeconds(10)));

        using var publisher = new Publisher(standIn, "ingest/show/cam-a");
        await WaitForPublisher(standIn, "ingest/show/cam-a");
        using (var noToken = new Probe(Endpoint(standIn.Port, "ingest/show/cam-a", token: false)))
            Assert.Equal("MediaMTX wants a token for ingest/show/cam-a and none is set (MEDIAMTX__TOKEN)", await noToken.Ended.WaitAsync(TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public async Task A_host_name_that_does_not_resolve_is_reported()
    {
        using var probe = new Probe(Endpoint(8000, "ingest/show/cam-a", host: "no-such-mediamtx.invalid"));
        var reason = await probe.Ended.WaitAsync(TimeSpan.FromSeconds(30));
        output.WriteLine(reason);
        Assert.StartsWith("cannot resolve MediaMTX host 'no-such-mediamtx.invalid'", reason);
    }

    [Fact]
    public async Task A_publisher_that_leaves_ends_the_connection_with_a_reason()
    {
        using var standIn = StartStandIn();
        using var publisher = new Publisher(standIn, "ingest/show/cam-a");
        await WaitForPublisher(standIn, "ingest/show/cam-a");
        using var probe = new Probe(Endpoint(standIn.Port, "ingest/show/cam-a"));
        await AwaitFirstDataAsync(probe, standIn, "ingest/show/cam-a", publisher, "the reader");
        // libsrt 1.5.1 can lose a SHUTDOWN that arrives within a few ms of connecting (StandInTestUtil).
        await Task.Delay(300);
        Assert.True(standIn.KickPublisher("ingest/show/cam-a"));
        var reason = await probe.Ended.WaitAsync(TimeSpan.FromSeconds(10));
        output.WriteLine(reason);
        Assert.StartsWith("the feed ended", reason);
        await probe.Exited.WaitAsync(TimeSpan.FromSeconds(2));
    }

    // The stop that used to hang: an input's whole bin, connected and decoding, removed from a playing pipeline.
    [Fact]
    public async Task Disposing_a_streaming_source_returns_promptly_twenty_times_in_a_row()
    {
        var faults = Callbacks.FaultCount; // GraphThreadTests raises one on purpose in this process
        await using var h = new MixHarness(output);
        var feed = FeedSpec.Numbered(0);
        h.StartFeed(feed);
        await h.WaitForPublisherAsync($"ingest/{Project}/{feed.Input}", TimeSpan.FromSeconds(10));
        var endpoint = h.Options().MediaMtx.Ingest(Project, feed.Input);

        using var graph = new Graph("reader-test");
        var pipeline = graph.Pipeline;
        var branch = new InputBranch(graph, feed.Input, TimeSpan.FromMilliseconds(60));
        Assert.NotEqual(StateChange.Failure, pipeline.SetState(State.Playing));
        var times = new List<TimeSpan>();
        try
        {
            for (var generation = 1; generation <= 20; generation++)
            {
                var session = new ConnectionSession(generation);
                var source = new SrtSource(graph, branch, endpoint, generation, session, TimeSpan.FromMilliseconds(60), s => s, NullLogger.Instance, _ => { });
                try
                {
                    await session.Ready.WaitAsync(TimeSpan.FromSeconds(10)); // decoded frames are flowing
                    await Task.Delay(100);
                }
                finally
                {
                    var disposing = Task.Run(source.Dispose);
                    Assert.True(await Task.WhenAny(disposing, Task.Delay(TimeSpan.FromSeconds(10))) == disposing, $"stop {generation} hung");
                    await disposing;
                }
                times.Add(source.StopTime);
                Assert.True(source.StopTime < Prompt, $"stop {generation} took {source.StopTime.TotalMilliseconds:F0} ms");
                if (session.HasEnded) Assert.Fail($"the feed should not have ended by itself: {await session.Ended}");
            }
        }
        finally
        {
            pipeline.SetState(State.Null);
            branch.Dispose();
        }
        Report("source", times);
        Assert.Equal(faults, Callbacks.FaultCount);
        Assert.Equal(0, graph.CallbackFaults);
    }
}
