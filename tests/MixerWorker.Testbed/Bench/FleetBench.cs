using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using MixerWorker.Testbed.Feeds;
using MixerWorker.Testbed.Reading;
using MixerWorker.Testbed.StandIn;
using StackExchange.Redis;

namespace MixerWorker.Testbed.Bench;

/// <summary>
/// Hand-over of a show between worker processes (bench/fleet-handover.sh starts the redis-server).
/// Three workers; the project runs on one; each run kills its owner (kill -9) or stops it (SIGTERM)
/// and measures, at an output reader going through the MediaMTX stand-in: the time to the successor's
/// publish connection, to the first Program frame from it, and the largest gap between frames the
/// reader saw. A fresh worker replaces the stopped one before the next run, so three always run.
/// The publish time is the successor's first message at the stand-in (where MediaMTX replaces the
/// old publisher), not its handshake.
/// </summary>
internal static class FleetBench
{
    private const string Project = "demo";
    private const string Ingest = "bench-ingest-pass-1";
    private const string Output = "bench-output-pass-2";

    private sealed record Run(string Mode, int Index, string From, double ToPublishMs, double ToFirstFrameMs, double MaxGapMs, double? ExitMs, bool Replaced);

    internal static async Task<int> RunAsync(Dictionary<string, string> o)
    {
        var redisConfig = o.GetValueOrDefault("redis") ?? throw new ArgumentException("--redis host:port is required");
        var dll = o.GetValueOrDefault("worker") ?? throw new ArgumentException("--worker path/to/MixerWorker.dll is required");
        var runs = int.Parse(o.GetValueOrDefault("runs", "20"), CultureInfo.InvariantCulture);
        var width = int.Parse(o.GetValueOrDefault("width", "640"), CultureInfo.InvariantCulture);
        var height = int.Parse(o.GetValueOrDefault("height", "360"), CultureInfo.InvariantCulture);
        var logDir = o.GetValueOrDefault("logs") ?? Path.GetTempPath();
        var outFile = o.GetValueOrDefault("out");
        var modes = o.GetValueOrDefault("modes", "kill,term").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (modes.Length == 0 || modes.Any(m => m is not ("kill" or "term"))) throw new ArgumentException("--modes takes kill, term or both (kill,term)");

        using var standIn = MediaMtxStandIn.Start(new StandInOptions { IngestPassphrase = Ingest, OutputPassphrase = Output });
        FeedSpec[] specs = [FeedSpec.Numbered(0) with { Width = width, Height = height }, FeedSpec.Numbered(1) with { Width = width, Height = height }];
        var feeds = specs.Select(s => SyntheticFeed.Start(s, Project, "127.0.0.1", standIn.Port, Ingest, null)).ToList();
        await using var redis = await ConnectionMultiplexer.ConnectAsync(redisConfig + ",allowAdmin=true"); // FLUSHDB below
        var db = redis.GetDatabase();
        await db.ExecuteAsync("FLUSHDB");
        var scene = $$"""
            {"project":"{{Project}}","revision":1,"inputs":[{"name":"{{specs[0].Input}}"},{"name":"{{specs[1].Input}}"}],
             "buses":[{"name":"program","format":{"width":{{width}},"height":{{height}},"fps":30,"videoBitrateKbps":1000},
               "layout":[{"source":"{{specs[0].Input}}","width":{{width}},"height":{{height}},"fit":"fill"},
                         {"source":"{{specs[1].Input}}","x":{{width / 2}},"y":{{height / 2}},"width":{{width / 3}},"height":{{height / 3}},"z":1,"fit":"fill"}]}]}
            """;
        await db.StringSetAsync($"mixer:{{{Project}}}:desired", scene);
        await db.SetAddAsync("mixer:projects", Project);

        var workers = new Dictionary<string, Process>();
        var next = 1;
        Process Start()
        {
            var id = $"w{next++}";
            workers[id] = StartWorker(dll, redisConfig, id, standIn.Port, Path.Combine(logDir, $"{id}.log"));
            return workers[id];
        }
        for (var i = 0; i < 3; i++) Start();
        using var reader = new OutputReader("127.0.0.1", standIn.Port, $"read:out/{Project}/program", Output);
        var results = new List<Run>();
        try
        {
            await reader.WaitForFrameAsync(TimeSpan.FromSeconds(60));
            await Task.Delay(3000);
            foreach (var mode in modes)
                for (var i = 1; i <= runs; i++)
                {
                    var owner = await OwnerAsync(db);
                    if (owner is null || !workers.TryGetValue(owner, out var process)) throw new InvalidOperationException($"no known owner ({owner})");
                    await WaitForFramesAsync(reader);
                    reader.StartRecordingFrames();
                    var before = standIn.Publishers($"out/{Project}/program").Count;
                    var t0 = DateTimeOffset.UtcNow;
                    var clock = Stopwatch.StartNew();
                    if (mode == "kill") process.Kill(entireProcessTree: true);
                    else Terminate(process);
                    var session = await WaitAsync(() => standIn.Publishers($"out/{Project}/program") is var s && s.Count > before ? s[^1] : null, TimeSpan.FromSeconds(30), "no new publisher");
                    var first = await WaitAsync(() => reader.RecordedFrames.FirstOrDefault(f => f.At >= session.Started), TimeSpan.FromSeconds(30), "no frame from the new publisher");
                    double? exitMs = null;
                    if (mode == "term")
                    {
                        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
                        exitMs = clock.Elapsed.TotalMilliseconds;
                    }
                    else await process.WaitForExitAsync();
                    await Task.Delay(1500);
                    var frames = reader.RecordedFrames;
                    var gap = frames.Count < 2 ? double.NaN : frames.Zip(frames.Skip(1), (a, b) => (b.At - a.At).TotalMilliseconds).Max();
                    var previous = standIn.Publishers($"out/{Project}/program")[^2];
                    var run = new Run(mode, i, owner, (session.Started - t0).TotalMilliseconds, (first.At - t0).TotalMilliseconds, gap, exitMs, previous.WasReplaced);
                    results.Add(run);
                    Console.WriteLine(FormattableString.Invariant($"{mode} {i}: {owner} → publish {run.ToPublishMs:F0} ms, first frame {run.ToFirstFrameMs:F0} ms, largest gap {run.MaxGapMs:F0} ms{(exitMs is { } e ? $", exit {e:F0} ms" : "")}"));
                    workers.Remove(owner);
                    process.Dispose();
                    Start();
                    await WaitAsync(async () => (await db.SortedSetLengthAsync("mixer:workers") >= 3 && await CountLiveAsync(db) >= 3) ? (object)true : null, TimeSpan.FromSeconds(30), "the replacement worker did not come up");
                    await Task.Delay(2500); // the newcomer's claim window, and a steady state
                }
        }
        finally
        {
            foreach (var p in workers.Values) { try { p.Kill(entireProcessTree: true); } catch (InvalidOperationException) { } p.Dispose(); }
            foreach (var f in feeds) f.Dispose();
        }

        var report = Report(results, modes, runs, width, height);
        Console.WriteLine(report);
        if (outFile is not null) await File.AppendAllTextAsync(outFile, report);
        return 0;
    }

    private static async Task<long> CountLiveAsync(IDatabase db)
    {
        var ids = await db.SortedSetRangeByRankAsync("mixer:workers");
        var live = 0;
        foreach (var id in ids) if (await db.KeyExistsAsync($"mixer:worker:{id}")) live++;
        return live;
    }

    private static async Task<string?> OwnerAsync(IDatabase db)
    {
        var value = (string?)await db.StringGetAsync($"mixer:{{{Project}}}:lease");
        return value?.Split(':', 3) is [_, _, var worker] ? worker : null;
    }

    private static async Task WaitForFramesAsync(OutputReader reader)
    {
        var f = await reader.WaitForFrameAsync(TimeSpan.FromSeconds(30));
        _ = f;
    }

    private static async Task<T> WaitAsync<T>(Func<T?> probe, TimeSpan timeout, string failure) where T : class =>
        await WaitAsync(() => Task.FromResult(probe()), timeout, failure);

    private static async Task<T> WaitAsync<T>(Func<Task<T?>> probe, TimeSpan timeout, string failure) where T : class
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            if (await probe() is { } v) return v;
            await Task.Delay(10);
        }
        throw new TimeoutException(failure);
    }

    private static Process StartWorker(string dll, string redisConfig, string id, int srtPort, string log)
    {
        var psi = new ProcessStartInfo("dotnet") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add(dll);
        foreach (var key in psi.Environment.Keys.Where(k => k.Contains("__") || k.EndsWith("PASSPHRASE", StringComparison.Ordinal)).ToList()) psi.Environment.Remove(key);
        psi.Environment["REDIS__CONFIGURATION"] = redisConfig;
        psi.Environment["WORKER__ID"] = id;
        psi.Environment["MEDIAMTX__HOST"] = "127.0.0.1";
        psi.Environment["MEDIAMTX__SRTPORT"] = srtPort.ToString(CultureInfo.InvariantCulture);
        psi.Environment["INGEST_SRT_PASSPHRASE"] = Ingest;
        psi.Environment["OUTPUT_SRT_PASSPHRASE"] = Output;
        foreach (var (k, v) in Environment.GetEnvironmentVariables().Cast<System.Collections.DictionaryEntry>()
                     .Select(e => ((string)e.Key, (string?)e.Value)).Where(e => e.Item1.StartsWith("FLEET__", StringComparison.Ordinal)))
            psi.Environment[k] = v;
        var p = ChildProcesses.Start(psi);
        var sink = TextWriter.Synchronized(new StreamWriter(log, append: true) { AutoFlush = true });
        p.OutputDataReceived += (_, e) => { if (e.Data is not null) sink.WriteLine(e.Data); };
        p.ErrorDataReceived += (_, e) => { if (e.Data is not null) sink.WriteLine(e.Data); };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        return p;
    }

    private static void Terminate(Process p)
    {
        using var kill = Process.Start("kill", ["-TERM", p.Id.ToString(CultureInfo.InvariantCulture)]);
        kill.WaitForExit();
    }

    private static string Report(List<Run> results, string[] modes, int runs, int width, int height)
    {
        var sb = new StringBuilder();
        sb.AppendLine("## Fleet hand-over (bench/fleet-handover.sh)");
        sb.AppendLine();
        sb.AppendLine(FormattableString.Invariant($"Three worker processes, one project (2 inputs, Program {width}x{height}p30 x264), {runs} runs per mode. Times from the kill -9 / SIGTERM of the owner; the reader is an SRT caller through the MediaMTX stand-in (80 ms latency, reconnects 200 ms after its connection is closed)."));
        sb.AppendLine();
        sb.AppendLine("| mode | measure | runs | p50 ms | p95 ms | max ms |");
        sb.AppendLine("|---|---|---|---|---|---|");
        foreach (var mode in modes)
        {
            var r = results.Where(x => x.Mode == mode).ToList();
            sb.AppendLine(Row(mode, "successor's publish connection", r.Select(x => x.ToPublishMs)));
            sb.AppendLine(Row(mode, "first Program frame from the successor", r.Select(x => x.ToFirstFrameMs)));
            sb.AppendLine(Row(mode, "largest gap between frames at the reader", r.Select(x => x.MaxGapMs)));
            if (mode == "term") sb.AppendLine(Row(mode, "the old owner's exit", r.Select(x => x.ExitMs ?? double.NaN)));
        }
        if (modes.Contains("term"))
        {
            sb.AppendLine();
            sb.AppendLine(FormattableString.Invariant($"SIGTERM hand-overs where the successor replaced a publisher still on air (make-before-break): {results.Count(x => x.Mode == "term" && x.Replaced)} of {results.Count(x => x.Mode == "term")}."));
        }
        sb.AppendLine();
        sb.AppendLine("<details><summary>every run</summary>");
        sb.AppendLine();
        sb.AppendLine("| mode | run | from | publish ms | first frame ms | largest gap ms | exit ms |");
        sb.AppendLine("|---|---|---|---|---|---|---|");
        foreach (var x in results)
            sb.AppendLine(FormattableString.Invariant($"| {x.Mode} | {x.Index} | {x.From} | {x.ToPublishMs:F0} | {x.ToFirstFrameMs:F0} | {x.MaxGapMs:F0} | {(x.ExitMs is { } e ? e.ToString("F0", CultureInfo.InvariantCulture) : "-")} |"));
        sb.AppendLine();
        sb.AppendLine("</details>");
        sb.AppendLine();
        return sb.ToString();
    }

    private static string Row(string mode, string what, IEnumerable<double> values)
    {
        var s = values.Where(v => !double.IsNaN(v)).Order().ToArray();
        string P(double q) => s.Length == 0 ? "-" : s[Math.Min(s.Length - 1, (int)Math.Ceiling(q * s.Length) - 1)].ToString("F0", CultureInfo.InvariantCulture);
        return $"| {mode} | {what} | {s.Length} | {P(0.5)} | {P(0.95)} | {(s.Length == 0 ? "-" : s[^1].ToString("F0", CultureInfo.InvariantCulture))} |";
    }
}
