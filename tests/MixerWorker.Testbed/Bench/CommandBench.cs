using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using MixerWorker.Testbed.Feeds;
using MixerWorker.Testbed.Imaging;
using MixerWorker.Testbed.Reading;
using StackExchange.Redis;

namespace MixerWorker.Testbed.Bench;

/// <summary>
/// Command latency of a real worker process against a real redis-server, the stand-in and synthetic
/// feeds (bench/command-latency.sh starts those): XADD → the worker's commandApplied event, and XADD →
/// the first frame showing the new source on the program output, read back through the stand-in; then
/// the time a SIGKILLed worker needs, started again, to converge. Before that, without a worker, the
/// three ways of reading a stream that the worker could use (poll, pub/sub wake-up, blocking XREAD).
/// </summary>
internal static class CommandBench
{
    private const string Project = "demo";
    private static readonly FeedSpec[] Feeds = [.. Enumerable.Range(0, 3).Select(i => FeedSpec.Numbered(i))];

    internal static async Task<int> RunAsync(Dictionary<string, string> o)
    {
        var redisConfig = o.GetValueOrDefault("redis") ?? throw new ArgumentException("--redis host:port is required");
        var worker = o.GetValueOrDefault("worker") ?? throw new ArgumentException("--worker path/to/MixerWorker.dll is required");
        var srtPort = int.Parse(o.GetValueOrDefault("port", "18890"), CultureInfo.InvariantCulture);
        var count = int.Parse(o.GetValueOrDefault("count", "100"), CultureInfo.InvariantCulture);
        var restarts = int.Parse(o.GetValueOrDefault("restarts", "3"), CultureInfo.InvariantCulture);
        var readModeCount = int.Parse(o.GetValueOrDefault("read-modes", "200"), CultureInfo.InvariantCulture);
        var report = new StringBuilder();

        await using var redis = await ConnectionMultiplexer.ConnectAsync(redisConfig);
        var db = redis.GetDatabase();
        if (readModeCount > 0) report.Append(await StreamReadModesAsync(redisConfig, readModeCount));

        // The show: three cameras, program full frame cam-a with cam-b in preview, 640x360p30.
        var scene = $$$"""
            {"project":"{{{Project}}}","revision":1,"inputs":[{"name":"cam-a"},{"name":"cam-b"},{"name":"cam-c"}],
             "buses":[{"name":"program","format":{"width":640,"height":360,"fps":30,"videoBitrateKbps":1500},
               "layout":[{"source":"cam-a","width":640,"height":360,"fit":"fill"}],
               "preview":{"boxes":[{"source":"cam-b","width":640,"height":360,"fit":"fill"}]}}]}
            """;
        await db.KeyDeleteAsync([$"mixer:{{{Project}}}:desired", $"mixer:{{{Project}}}:commands", $"mixer:{{{Project}}}:command-cursor", $"mixer:{{{Project}}}:command-ids", $"mixer:{{{Project}}}:status"]);
        await db.StringSetAsync($"mixer:{{{Project}}}:desired", scene);
        await db.SetAddAsync("mixer:projects", Project);

        var events = new EventLog();
        await redis.GetSubscriber().SubscribeAsync(RedisChannel.Literal($"mixer:{{{Project}}}:events"), (_, m) => events.Add(m.ToString()));
        using var reader = new OutputReader("127.0.0.1", srtPort, $"read:out/{Project}/program", Environment.GetEnvironmentVariable("OUTPUT_SRT_PASSPHRASE"));

        var process = StartWorker(worker, redisConfig);
        try
        {
            var onAir = "cam-a";
            await reader.WaitForFrameAsync(TimeSpan.FromSeconds(30), f => Shows(f, onAir));
            await Task.Delay(2000); // settle: JIT, first keyframes

            // setPreview (the source not on air, in turn) then cut, count times in all.
            var applied = new List<double>();
            var appliedCut = new List<double>();
            var frames = new List<double>();
            var adds = new List<double>();
            string preview = "cam-b";
            var rng = new Random(7);
            for (var i = 0; i < count; i++)
            {
                string json;
                if (i % 2 == 0)
                {
                    preview = Feeds.Select(f => f.Input).Where(s => s != onAir).ElementAt(rng.Next(2));
                    json = $$$"""{"type":"setPreview","id":"bench-{{{i}}}","bus":"program","shot":{"boxes":[{"source":"{{{preview}}}","width":640,"height":360,"fit":"fill"}]}}""";
                }
                else json = $$"""{"type":"cut","id":"bench-{{i}}","bus":"program"}""";
                var t0 = DateTimeOffset.UtcNow;
                var clock = Stopwatch.StartNew();
                var tx = db.CreateTransaction();
                _ = tx.StreamAddAsync($"mixer:{{{Project}}}:commands", "command", json, maxLength: 1000, useApproximateMaxLength: true);
                _ = tx.PublishAsync(RedisChannel.Literal($"mixer:{{{Project}}}:events"), $$"""{"type":"command","project":"{{Project}}","command":"bench-{{i}}"}""");
                await tx.ExecuteAsync();
                adds.Add(clock.Elapsed.TotalMilliseconds);
                var answer = await events.WaitAsync(e => e.Command == $"bench-{i}" && e.Type is "commandApplied" or "error", TimeSpan.FromSeconds(10));
                if (answer.Type != "commandApplied") throw new InvalidOperationException($"command {i} refused: {answer.Raw}");
                var ms = (answer.ReceivedAt - t0).TotalMilliseconds;
                applied.Add(ms);
                if (i % 2 == 1)
                {
                    appliedCut.Add(ms);
                    (onAir, preview) = (preview, onAir);
                    var frame = await reader.WaitForFrameAsync(TimeSpan.FromSeconds(5), f => f.At > t0 && Shows(f, onAir));
                    frames.Add((frame.At - t0).TotalMilliseconds);
                }
                await Task.Delay(150 + rng.Next(150));
            }

            // SIGKILL, one cut added while no worker runs, start again: how long until it is all back.
            var restartRows = new List<string>();
            for (var r = 0; r < restarts; r++)
            {
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync();
                var id = $"restart-{r}";
                (onAir, preview) = (preview, onAir);
                var t0 = DateTimeOffset.UtcNow;
                var tx = db.CreateTransaction();
                _ = tx.StreamAddAsync($"mixer:{{{Project}}}:commands", "command", $$"""{"type":"cut","id":"{{id}}","bus":"program"}""", maxLength: 1000, useApproximateMaxLength: true);
                _ = tx.PublishAsync(RedisChannel.Literal($"mixer:{{{Project}}}:events"), $$"""{"type":"command","project":"{{Project}}"}""");
                await tx.ExecuteAsync();
                var started = DateTimeOffset.UtcNow;
                process = StartWorker(worker, redisConfig);
                var desiredApplied = await events.WaitAsync(e => e.Type == "applied" && e.ReceivedAt > started, TimeSpan.FromSeconds(60));
                var answer = await events.WaitAsync(e => e.Command == id && e.Type is "commandApplied" or "error", TimeSpan.FromSeconds(60));
                var connected = await events.WaitAsync(e => e.Type == "status" && e.ReceivedAt > started && e.OutputConnected, TimeSpan.FromSeconds(60));
                var frame = await reader.WaitForFrameAsync(TimeSpan.FromSeconds(60), f => f.At > started && Shows(f, onAir));
                restartRows.Add($"| {r + 1} | {S(desiredApplied.ReceivedAt - started)} | {S(answer.ReceivedAt - started)} | {S(connected.ReceivedAt - started)} | {S(frame.At - started)} |");
                await Task.Delay(3000);
            }

            report.AppendLine($"### Command latency ({count} commands: setPreview and cut in turn, 640x360p30, 3 inputs)");
            report.AppendLine();
            report.AppendLine("| Measure | n | p50 ms | p90 ms | p99 ms | max ms |");
            report.AppendLine("|---|---|---|---|---|---|");
            report.AppendLine(Row("XADD + PUBLISH round trip (client)", adds));
            report.AppendLine(Row("XADD → commandApplied received, every command", applied));
            report.AppendLine(Row("XADD → commandApplied received, cuts", appliedCut));
            report.AppendLine(Row("XADD → first program frame with the new source, decoded by a reader", frames));
            report.AppendLine();
            report.AppendLine("The frame column includes the media path after the change: compositor, x264, SRT to the stand-in and on to the reader (80 ms receive latency), and decoding.");
            report.AppendLine();
            report.AppendLine("### Restart: SIGKILL, one cut added while down, worker started again (seconds from the start)");
            report.AppendLine();
            report.AppendLine("| Run | desired state applied | waiting cut applied | output connected (status) | its picture on the reader |");
            report.AppendLine("|---|---|---|---|---|");
            foreach (var row in restartRows) report.AppendLine(row);
            report.AppendLine();
            Console.Write(report);
            if (o.TryGetValue("out", out var path)) await File.AppendAllTextAsync(path, report.ToString());
            return 0;
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync();
            }
        }
    }

    private static bool Shows(RgbFrame f, string input) =>
        Colors.Near(f.ColorAt(f.Width / 2, f.Height / 2, 5), Feeds.Single(s => s.Input == input).Rgb);

    private static string S(TimeSpan t) => t.TotalSeconds.ToString("F2", CultureInfo.InvariantCulture);

    private static string Row(string what, List<double> v)
    {
        var s = v.Order().ToArray();
        string P(double q) => s.Length == 0 ? "-" : s[Math.Min(s.Length - 1, (int)Math.Ceiling(q * s.Length) - 1)].ToString("F1", CultureInfo.InvariantCulture);
        return $"| {what} | {s.Length} | {P(0.5)} | {P(0.9)} | {P(0.99)} | {(s.Length == 0 ? "-" : s[^1].ToString("F1", CultureInfo.InvariantCulture))} |";
    }

    private static Process StartWorker(string dll, string redisConfig)
    {
        var psi = new ProcessStartInfo("dotnet") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add(dll);
        psi.Environment["REDIS__CONFIGURATION"] = redisConfig;
        psi.Environment["WORKER__ID"] = "bench";
        psi.Environment["WORKER__STATUSINTERVALMS"] = "100";
        var p = ChildProcesses.Start(psi);
        var log = Environment.GetEnvironmentVariable("BENCH_WORKER_LOG");
        var sink = log is null ? null : TextWriter.Synchronized(new StreamWriter(log, append: true) { AutoFlush = true });
        p.OutputDataReceived += (_, e) => { if (e.Data is not null) sink?.WriteLine(e.Data); };
        p.ErrorDataReceived += (_, e) => { if (e.Data is not null) sink?.WriteLine(e.Data); };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        return p;
    }

    /// <summary>A project's events as they arrive, with the local time of arrival.</summary>
    private sealed class EventLog
    {
        private readonly List<Event> _events = [];
        private readonly Lock _lock = new();

        public void Add(string raw)
        {
            var at = DateTimeOffset.UtcNow;
            using var doc = JsonDocument.Parse(raw);
            var root = doc.RootElement;
            string? Str(string name) => root.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
            var connected = root.TryGetProperty("status", out var status) && status.TryGetProperty("buses", out var buses)
                && buses.TryGetProperty("program", out var program) && program.TryGetProperty("output", out var output) && output.GetString() == "connected";
            lock (_lock) _events.Add(new Event(Str("type") ?? "", Str("command"), at, connected, raw));
        }

        public async Task<Event> WaitAsync(Func<Event, bool> match, TimeSpan timeout)
        {
            var deadline = DateTime.UtcNow + timeout;
            while (true)
            {
                lock (_lock) if (_events.FirstOrDefault(match) is { } e) return e;
                if (DateTime.UtcNow > deadline) throw new TimeoutException("no matching event");
                await Task.Delay(2);
            }
        }
    }

    private sealed record Event(string Type, string? Command, DateTimeOffset ReceivedAt, bool OutputConnected, string Raw);

    /// <summary>
    /// XADD → entry seen by a reader, for the three ways a StackExchange.Redis client can wait for a
    /// stream: non-blocking XREAD every 10 ms; a pub/sub wake-up published with the XADD (what the worker
    /// does, with a slow poll behind it); blocking XREAD on a dedicated connection (one per stream).
    /// </summary>
    private static async Task<string> StreamReadModesAsync(string redisConfig, int n)
    {
        var sb = new StringBuilder();
        sb.AppendLine($"### Reading a stream: XADD → entry in the reader's hands ({n} entries each, 20-40 ms apart, no worker)");
        sb.AppendLine();
        sb.AppendLine("| Mode | n | p50 ms | p90 ms | p99 ms | max ms |");
        sb.AppendLine("|---|---|---|---|---|---|");
        foreach (var mode in new[] { "poll every 10 ms", "pub/sub wake-up", "blocking XREAD, dedicated connection" })
            sb.AppendLine(Row(mode, await ReadModeAsync(redisConfig, mode, n)));
        sb.AppendLine();
        return sb.ToString();
    }

    private static async Task<List<double>> ReadModeAsync(string redisConfig, string mode, int n)
    {
        await using var writer = await ConnectionMultiplexer.ConnectAsync(redisConfig);
        await using var worker = await ConnectionMultiplexer.ConnectAsync(redisConfig);
        var db = writer.GetDatabase();
        var wdb = worker.GetDatabase();
        RedisKey key = "bench:{read-modes}:stream";
        var channel = RedisChannel.Literal("bench:{read-modes}:wake");
        await db.KeyDeleteAsync(key);
        var received = new ConcurrentDictionary<string, long>();
        var last = "0-0";
        using var stop = new CancellationTokenSource();
        var wake = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
        async Task DrainAsync()
        {
            foreach (var e in await wdb.StreamReadAsync(key, last, 100))
            {
                received[e.Values[0].Value.ToString()] = Stopwatch.GetTimestamp();
                last = e.Id.ToString();
            }
        }
        var reader = mode switch
        {
            "poll every 10 ms" => Task.Run(async () =>
            {
                while (!stop.IsCancellationRequested) { await DrainAsync(); await Task.Delay(10); }
            }),
            "pub/sub wake-up" => Task.Run(async () =>
            {
                await worker.GetSubscriber().SubscribeAsync(channel, (_, _) => wake.Writer.TryWrite(true));
                while (!stop.IsCancellationRequested)
                {
                    using var poll = CancellationTokenSource.CreateLinkedTokenSource(stop.Token);
                    poll.CancelAfter(250);
                    try { await wake.Reader.ReadAsync(poll.Token); } catch (OperationCanceledException) { }
                    await DrainAsync();
                }
            }),
            _ => Task.Run(async () =>
            {
                // RESP2 so that XREAD's reply is nested arrays; the timeouts must outlast BLOCK.
                await using var dedicated = await ConnectionMultiplexer.ConnectAsync(redisConfig + ",protocol=resp2,syncTimeout=10000,asyncTimeout=10000");
                var ddb = dedicated.GetDatabase();
                while (!stop.IsCancellationRequested)
                {
                    var r = await ddb.ExecuteAsync("XREAD", "COUNT", 100, "BLOCK", 500, "STREAMS", key, last);
                    if (r.IsNull) continue;
                    foreach (var item in (RedisResult[])((RedisResult[])((RedisResult[])r!)[0]!)[1]!)
                    {
                        var parts = (RedisResult[])item!;
                        received[((RedisResult[])parts[1]!)[1].ToString()!] = Stopwatch.GetTimestamp();
                        last = parts[0].ToString()!;
                    }
                }
            }),
        };
        await Task.Delay(300);
        var sent = new Dictionary<string, long>();
        var rng = new Random(3);
        for (var i = 0; i < n; i++)
        {
            var id = $"e{i}";
            var t0 = Stopwatch.GetTimestamp();
            var tx = db.CreateTransaction();
            _ = tx.StreamAddAsync(key, "command", id, maxLength: 1000, useApproximateMaxLength: true);
            if (mode == "pub/sub wake-up") _ = tx.PublishAsync(channel, id);
            await tx.ExecuteAsync();
            sent[id] = t0;
            await Task.Delay(20 + rng.Next(20));
        }
        await Task.Delay(600);
        stop.Cancel();
        try { await reader; } catch (OperationCanceledException) { }
        await db.KeyDeleteAsync(key);
        return [.. sent.Where(s => received.ContainsKey(s.Key)).Select(s => Stopwatch.GetElapsedTime(s.Value, received[s.Key]).TotalMilliseconds)];
    }
}
