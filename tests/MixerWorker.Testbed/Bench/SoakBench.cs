using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using MixerWorker.Testbed.Feeds;
using MixerWorker.Testbed.Imaging;
using MixerWorker.Testbed.Reading;
using MixerWorker.Testbed.StandIn;
using StackExchange.Redis;

namespace MixerWorker.Testbed.Bench;

/// <summary>
/// A long show on a real worker process (daemon, Redis, stand-in): three cameras into Program (cam-a
/// on air, cuts between cameras) and AUX1 (a 2x2 grid of every input), an operator command every few
/// seconds, one camera dropped and restored every minute, a garbage feed every ten minutes. Every
/// sample interval: the worker's RSS and thread count, CPU, both outputs' frame counts and largest
/// frame gap, the inputs' states. At the end: growth after warm-up, the largest gaps, how the time
/// from a cut to its picture evolved (lag growth), and whether every command was answered.
/// </summary>
internal static class SoakBench
{
    private const string Project = "soak";
    private const string Junk = "junk";
    private static readonly string Prefix = "mixer";

    // ManagedMb is the GC's count of live managed bytes (dotnet_total_memory_bytes on /metrics): with RSS it tells a
    // managed leak from native growth (GStreamer, glibc arenas).
    private sealed record Sample(double Minute, long RssKb, double ManagedMb, int Threads, int Fds, double CpuPercent, int ProgramFrames, double ProgramGapMs,
        int AuxFrames, double AuxGapMs, string Inputs);

    internal static async Task<int> RunAsync(Dictionary<string, string> o)
    {
        var redisConfig = o.GetValueOrDefault("redis") ?? throw new ArgumentException("--redis host:port is required");
        var workerDll = o.GetValueOrDefault("worker") ?? throw new ArgumentException("--worker path/to/MixerWorker.dll is required");
        double D(string key, double fallback) => o.TryGetValue(key, out var v) ? double.Parse(v, CultureInfo.InvariantCulture) : fallback;
        var duration = TimeSpan.FromMinutes(D("minutes", 60));
        var warmUp = TimeSpan.FromMinutes(Math.Min(D("warmup-minutes", 5), duration.TotalMinutes / 3));
        var commandEvery = TimeSpan.FromSeconds(D("command-seconds", 3));
        var dropEvery = TimeSpan.FromSeconds(D("drop-seconds", 60));
        var dropFor = TimeSpan.FromSeconds(D("drop-for-seconds", 15));
        var garbageEvery = TimeSpan.FromMinutes(D("garbage-minutes", 10));
        var garbageFor = TimeSpan.FromSeconds(D("garbage-for-seconds", 60));
        var sampleEvery = TimeSpan.FromSeconds(D("sample-seconds", 10));
        var (width, height, fps) = ((int)D("width", 640), (int)D("height", 360), (int)D("fps", 30));
        var ingest = Environment.GetEnvironmentVariable("INGEST_SRT_PASSPHRASE");
        var outputPass = Environment.GetEnvironmentVariable("OUTPUT_SRT_PASSPHRASE");

        using var standIn = MediaMtxStandIn.Start(new StandInOptions { IngestPassphrase = ingest, OutputPassphrase = outputPass });
        var cams = Enumerable.Range(0, 3).Select(i => FeedSpec.Numbered(i) with { Width = width, Height = height, Fps = fps }).ToArray();
        var feeds = new ConcurrentDictionary<string, SyntheticFeed>(cams.ToDictionary(c => c.Input, c => SyntheticFeed.Start(c, Project, "127.0.0.1", standIn.Port, ingest)));
        await using var redis = await ConnectionMultiplexer.ConnectAsync(redisConfig);
        var db = redis.GetDatabase();
        var scene = $$$"""
            {"project":"{{{Project}}}","revision":1,"inputs":[{"name":"cam-a"},{"name":"cam-b"},{"name":"cam-c"},{"name":"{{{Junk}}}"}],
             "buses":[
               {"name":"program","format":{"width":{{{width}}},"height":{{{height}}},"fps":{{{fps}}},"videoBitrateKbps":1500},
                "layout":[{"source":"cam-a","width":{{{width}}},"height":{{{height}}},"fit":"fill"}],
                "preview":{"boxes":[{"source":"cam-b","width":{{{width}}},"height":{{{height}}},"fit":"fill"}]}},
               {"name":"aux1","format":{"width":{{{width}}},"height":{{{height}}},"fps":{{{fps}}},"videoBitrateKbps":1500},
                "preset":{"kind":"grid2x2","sources":["cam-a","cam-b","cam-c","{{{Junk}}}"],"fit":"fill"}}]}
            """;
        await db.KeyDeleteAsync([Key("desired"), Key("commands"), Key("command-cursor"), Key("command-ids"), Key("status"), Key("removed")]);
        await db.StringSetAsync(Key("desired"), scene);
        await db.SetAddAsync($"{Prefix}:projects", Project);

        var answers = new ConcurrentDictionary<string, (DateTimeOffset At, string Type)>();
        await redis.GetSubscriber().SubscribeAsync(RedisChannel.Literal(Key("events")), (_, m) =>
        {
            try
            {
                using var doc = JsonDocument.Parse(m.ToString());
                var root = doc.RootElement;
                if (root.TryGetProperty("command", out var c) && root.GetProperty("type").GetString() is "commandApplied" or "error")
                    answers.TryAdd(c.GetString()!, (DateTimeOffset.UtcNow, root.GetProperty("type").GetString()!));
            }
            catch (JsonException) { }
        });

        var log = o.GetValueOrDefault("worker-log");
        var metricsPort = FreePorts.Tcp();
        using var worker = StartWorker(workerDll, redisConfig, standIn.Port, metricsPort, log);
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        using var program = new OutputReader("127.0.0.1", standIn.Port, $"read:out/{Project}/program", outputPass);
        using var aux1 = new OutputReader("127.0.0.1", standIn.Port, $"read:out/{Project}/aux1", outputPass);
        var samples = new List<Sample>();
        var cutToPicture = new List<(double Minute, double Ms)>();
        var sent = new ConcurrentDictionary<string, DateTimeOffset>();
        var dropped = new ConcurrentDictionary<string, bool>();
        var drops = 0;
        var garbageRuns = 0;
        var started = Stopwatch.StartNew();
        try
        {
            await program.WaitForFrameAsync(TimeSpan.FromSeconds(60), f => Shows(f, cams[0]));
            await aux1.WaitForFrameAsync(TimeSpan.FromSeconds(60));
            Console.Error.WriteLine($"show on air after {started.Elapsed.TotalSeconds:F1} s; soaking for {duration.TotalMinutes:F0} min");
            started.Restart();
            program.ResetCounters();
            aux1.ResetCounters();
            using var stop = new CancellationTokenSource(duration);
            var token = stop.Token;

            // Operator: setPreview to a camera that is not on air and not dropped, then cut, in turn.
            var operatorLoop = Task.Run(async () =>
            {
                var onAir = cams[0];
                var rng = new Random(11);
                for (var i = 0; !token.IsCancellationRequested; i++)
                {
                    var candidates = cams.Where(c => c != onAir && !dropped.ContainsKey(c.Input)).ToList();
                    if (candidates.Count == 0) { await Delay(commandEvery, token); continue; }
                    var next = candidates[rng.Next(candidates.Count)];
                    var previewId = $"soak-{i}-p";
                    await AddCommandAsync(db, previewId, $$$"""{"type":"setPreview","id":"{{{previewId}}}","bus":"program","shot":{"boxes":[{"source":"{{{next.Input}}}","width":{{{width}}},"height":{{{height}}},"fit":"fill"}]}}""", sent);
                    await Delay(commandEvery / 2, token);
                    var cutId = $"soak-{i}-c";
                    var t0 = DateTimeOffset.UtcNow;
                    await AddCommandAsync(db, cutId, $$"""{"type":"cut","id":"{{cutId}}","bus":"program"}""", sent);
                    onAir = next;
                    try
                    {
                        if (!dropped.ContainsKey(next.Input))
                        {
                            var frame = await program.WaitForFrameAsync(TimeSpan.FromSeconds(5), f => f.At > t0 && Shows(f, next));
                            lock (cutToPicture) cutToPicture.Add((started.Elapsed.TotalMinutes, (frame.At - t0).TotalMilliseconds));
                        }
                    }
                    catch (TimeoutException) { Console.Error.WriteLine($"cut {cutId} to {next.Input}: no picture within 5 s"); }
                    await Delay(commandEvery / 2, token);
                }
            });

            // A camera (cam-c: in the AUX1 grid and now and then on Program) drops and comes back.
            var dropLoop = Task.Run(async () =>
            {
                while (!token.IsCancellationRequested)
                {
                    await Delay(dropEvery - dropFor, token);
                    if (token.IsCancellationRequested) break;
                    dropped["cam-c"] = true;
                    if (feeds.TryRemove("cam-c", out var f)) f.Dispose();
                    drops++;
                    await Delay(dropFor, token);
                    feeds["cam-c"] = SyntheticFeed.Start(cams[2], Project, "127.0.0.1", standIn.Port, ingest);
                    dropped.TryRemove("cam-c", out _);
                }
            });

            // Garbage on the "junk" input (in the AUX1 grid) for a while, every few minutes.
            var garbageLoop = Task.Run(async () =>
            {
                await Delay(TimeSpan.FromMinutes(Math.Min(1, garbageEvery.TotalMinutes / 2)), token);
                while (!token.IsCancellationRequested)
                {
                    using (GarbageFeed.Start(Junk, Project, "127.0.0.1", standIn.Port, ingest))
                    {
                        garbageRuns++;
                        await Delay(garbageFor, token);
                    }
                    await Delay(garbageEvery - garbageFor, token);
                }
            });

            // Samples.
            var cpuBefore = CpuTicks(worker.Id);
            var wallBefore = Stopwatch.GetTimestamp();
            var clkTck = 100.0;
            while (!token.IsCancellationRequested)
            {
                await Delay(sampleEvery, token);
                var (rss, threads) = ProcStatus(worker.Id);
                var managedMb = await ManagedMbAsync(http, metricsPort);
                var fds = Directory.EnumerateFileSystemEntries($"/proc/{worker.Id}/fd").Count();
                var cpu = CpuTicks(worker.Id);
                var wall = Stopwatch.GetElapsedTime(wallBefore).TotalSeconds;
                var cpuPercent = (cpu - cpuBefore) / clkTck / wall * 100;
                (cpuBefore, wallBefore) = (cpu, Stopwatch.GetTimestamp());
                var (p, a) = (program.Stats, aux1.Stats);
                program.ResetCounters();
                aux1.ResetCounters();
                var status = await db.StringGetAsync(Key("status"));
                var sample = new Sample(started.Elapsed.TotalMinutes, rss, managedMb, threads, fds, cpuPercent, p.Frames, p.MaxFrameGapMs, a.Frames, a.MaxFrameGapMs, InputStates(status));
                samples.Add(sample);
                Console.Error.WriteLine($"{sample.Minute:F1} min: RSS {rss / 1024} MB (managed {managedMb:F1} MB), {threads} threads, {fds} fds, CPU {cpuPercent:F0} %, program {p.Frames} frames (gap {p.MaxFrameGapMs:F0} ms), aux1 {a.Frames} (gap {a.MaxFrameGapMs:F0} ms), {sample.Inputs}");
                if (worker.HasExited) throw new InvalidOperationException($"the worker exited with code {worker.ExitCode}");
            }
            await Task.WhenAll(operatorLoop, dropLoop, garbageLoop);
            await Task.Delay(5000); // the last commands' answers
        }
        finally
        {
            if (!worker.HasExited) { kill(worker.Id, 15); await worker.WaitForExitAsync(new CancellationTokenSource(TimeSpan.FromSeconds(30)).Token).ContinueWith(_ => { }); }
            if (!worker.HasExited) worker.Kill(entireProcessTree: true);
            foreach (var f in feeds.Values) f.Dispose();
        }

        var report = Report(samples, cutToPicture, sent, answers, drops, garbageRuns, duration, warmUp, (width, height, fps), commandEvery, dropEvery, dropFor, garbageEvery, garbageFor, sampleEvery, log);
        Console.Write(report);
        if (o.TryGetValue("out", out var path)) await File.AppendAllTextAsync(path, report);
        if (o.TryGetValue("csv", out var csv))
            await File.WriteAllLinesAsync(csv, ["minute,rss_kb,managed_mb,threads,fds,cpu_percent,program_frames,program_max_gap_ms,aux1_frames,aux1_max_gap_ms,inputs",
                .. samples.Select(s => string.Join(",", F(s.Minute, "F2"), s.RssKb, F(s.ManagedMb, "F1"), s.Threads, s.Fds, F(s.CpuPercent, "F1"), s.ProgramFrames, F(s.ProgramGapMs, "F0"), s.AuxFrames, F(s.AuxGapMs, "F0"), s.Inputs))]);
        return sent.Keys.All(answers.ContainsKey) ? 0 : 1;
    }

    private static string Report(List<Sample> samples, List<(double Minute, double Ms)> cuts, ConcurrentDictionary<string, DateTimeOffset> sent,
        ConcurrentDictionary<string, (DateTimeOffset At, string Type)> answers, int drops, int garbageRuns, TimeSpan duration, TimeSpan warmUp,
        (int W, int H, int Fps) format, TimeSpan commandEvery, TimeSpan dropEvery, TimeSpan dropFor, TimeSpan garbageEvery, TimeSpan garbageFor,
        TimeSpan sampleEvery, string? workerLog)
    {
        var sb = new StringBuilder();
        sb.AppendLine($"### Soak: {duration.TotalMinutes:F0} min, 3 cameras + a garbage-feed input, Program (cuts) + AUX1 (2x2 grid), {format.W}x{format.H}p{format.Fps}");
        sb.AppendLine();
        sb.AppendLine($"A command every {commandEvery.TotalSeconds:F0} s (setPreview and cut in turn); cam-c dropped for {dropFor.TotalSeconds:F0} s every {dropEvery.TotalSeconds:F0} s ({drops} drops); " +
                      $"garbage published on input `junk` for {garbageFor.TotalSeconds:F0} s every {garbageEvery.TotalMinutes:F0} min ({garbageRuns} times); samples every {sampleEvery.TotalSeconds:F0} s, warm-up {warmUp.TotalMinutes:F0} min.");
        sb.AppendLine();
        var after = samples.Where(s => s.Minute >= warmUp.TotalMinutes).ToList();
        if (after.Count >= 4)
        {
            var window = Math.Max(1, after.Count / 6);
            double Median(IEnumerable<double> v) { var a = v.Order().ToArray(); return a.Length == 0 ? 0 : a[a.Length / 2]; }
            var rssStart = Median(after.Take(window).Select(s => (double)s.RssKb));
            var rssEnd = Median(after.TakeLast(window).Select(s => (double)s.RssKb));
            var managedStart = Median(after.Take(window).Select(s => s.ManagedMb));
            var managedEnd = Median(after.TakeLast(window).Select(s => s.ManagedMb));
            var thrStart = Median(after.Take(window).Select(s => (double)s.Threads));
            var thrEnd = Median(after.TakeLast(window).Select(s => (double)s.Threads));
            sb.AppendLine("| Measure | after warm-up | at the end | growth |");
            sb.AppendLine("|---|---|---|---|");
            sb.AppendLine($"| worker RSS (median of the first / last {window} samples) | {rssStart / 1024:F1} MB | {rssEnd / 1024:F1} MB | {Pct(rssStart, rssEnd)} |");
            sb.AppendLine($"| of which managed (live objects after the last GC) | {managedStart:F1} MB | {managedEnd:F1} MB | {Pct(managedStart, managedEnd)} |");
            sb.AppendLine($"| worker threads | {thrStart:F0} | {thrEnd:F0} | {Pct(thrStart, thrEnd)} |");
            var fdStart = Median(after.Take(window).Select(s => (double)s.Fds));
            var fdEnd = Median(after.TakeLast(window).Select(s => (double)s.Fds));
            sb.AppendLine($"| worker open file descriptors | {fdStart:F0} | {fdEnd:F0} | {Pct(fdStart, fdEnd)} |");
            var cutsAfter = cuts.Where(c => c.Minute >= warmUp.TotalMinutes).ToList();
            var cutWindow = Math.Max(1, cutsAfter.Count / 6);
            if (cutsAfter.Count >= 2)
            {
                var lagStart = Median(cutsAfter.Take(cutWindow).Select(c => c.Ms));
                var lagEnd = Median(cutsAfter.TakeLast(cutWindow).Select(c => c.Ms));
                sb.AppendLine($"| cut → its picture on the program output (median of the first / last {cutWindow} cuts) | {lagStart:F0} ms | {lagEnd:F0} ms | {Pct(lagStart, lagEnd)} |");
            }
            sb.AppendLine();
        }
        var answered = sent.Keys.Count(answers.ContainsKey);
        var refused = sent.Keys.Count(k => answers.TryGetValue(k, out var a) && a.Type != "commandApplied");
        var answerMs = sent.Where(s => answers.ContainsKey(s.Key)).Select(s => (answers[s.Key].At - s.Value).TotalMilliseconds).Order().ToArray();
        sb.AppendLine($"- Commands: {sent.Count} sent, {answered} answered ({refused} refused), {sent.Count - answered} unanswered; answer time p50 {P(answerMs, 0.5):F0} ms, p99 {P(answerMs, 0.99):F0} ms, max {(answerMs.Length == 0 ? 0 : answerMs[^1]):F0} ms.");
        sb.AppendLine($"- Largest output frame gap over the whole soak: program {samples.DefaultIfEmpty().Max(s => s?.ProgramGapMs ?? 0):F0} ms, aux1 {samples.DefaultIfEmpty().Max(s => s?.AuxGapMs ?? 0):F0} ms (frame interval {1000.0 / format.Fps:F1} ms).");
        sb.AppendLine($"- Frames per sample interval: program min {samples.DefaultIfEmpty().Min(s => s?.ProgramFrames ?? 0)}, aux1 min {samples.DefaultIfEmpty().Min(s => s?.AuxFrames ?? 0)} (expected {format.Fps * sampleEvery.TotalSeconds:F0}).");
        sb.AppendLine($"- Cuts timed to their picture: {cuts.Count}; p50 {P([.. cuts.Select(c => c.Ms).Order()], 0.5):F0} ms, p95 {P([.. cuts.Select(c => c.Ms).Order()], 0.95):F0} ms.");
        if (workerLog is not null && File.Exists(workerLog))
        {
            var lines = File.ReadAllLines(workerLog);
            sb.AppendLine($"- Worker log: {lines.Count(l => l.Contains(" ERR ", StringComparison.Ordinal))} error lines ({lines.Count(l => l.Contains($"input {Junk}: connected, but", StringComparison.Ordinal))} of them the garbage input, said once per episode), {lines.Count(l => l.Contains(" WRN ", StringComparison.Ordinal))} warnings.");
        }
        sb.AppendLine();
        sb.AppendLine("RSS, threads and file descriptors over time (every sample is in the CSV next to this file):");
        sb.AppendLine();
        sb.AppendLine("| minute | RSS MB | managed MB | threads | fds | CPU % | program frames / max gap ms | aux1 frames / max gap ms |");
        sb.AppendLine("|---|---|---|---|---|---|---|---|");
        var step = Math.Max(1, samples.Count / 24);
        for (var i = 0; i < samples.Count; i += step)
        {
            var s = samples[i];
            sb.AppendLine($"| {s.Minute:F1} | {s.RssKb / 1024.0:F1} | {s.ManagedMb:F1} | {s.Threads} | {s.Fds} | {s.CpuPercent:F0} | {s.ProgramFrames} / {s.ProgramGapMs:F0} | {s.AuxFrames} / {s.AuxGapMs:F0} |");
        }
        sb.AppendLine();
        return sb.ToString();
    }

    private static string Pct(double from, double to) => from == 0 ? "-" : $"{(to - from) / from * 100:+0.0;-0.0} %";
    private static double P(double[] sorted, double q) => sorted.Length == 0 ? 0 : sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(q * sorted.Length) - 1)];
    private static string F(double v, string format) => v.ToString(format, CultureInfo.InvariantCulture);
    private static string Key(string what) => $"{Prefix}:{{{Project}}}:{what}";

    private static async Task AddCommandAsync(IDatabase db, string id, string json, ConcurrentDictionary<string, DateTimeOffset> sent)
    {
        sent[id] = DateTimeOffset.UtcNow;
        var tx = db.CreateTransaction();
        _ = tx.StreamAddAsync(Key("commands"), "command", json, maxLength: 1000, useApproximateMaxLength: true);
        _ = tx.PublishAsync(RedisChannel.Literal(Key("events")), $$"""{"type":"command","project":"{{Project}}","command":"{{id}}"}""");
        await tx.ExecuteAsync();
    }

    private static async Task Delay(TimeSpan t, CancellationToken token)
    {
        if (t <= TimeSpan.Zero) return;
        try { await Task.Delay(t, token); } catch (OperationCanceledException) { }
    }

    private static bool Shows(RgbFrame f, FeedSpec cam) => Colors.Near(f.ColorAt(f.Width / 2, f.Height / 3, 5), cam.Rgb);

    private static string InputStates(RedisValue status)
    {
        if (status.IsNull) return "no status";
        try
        {
            using var doc = JsonDocument.Parse(status.ToString());
            return string.Join(" ", doc.RootElement.GetProperty("inputs").EnumerateObject().Select(i => $"{i.Name}={i.Value.GetProperty("state").GetString()}"));
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException) { return "unreadable status"; }
    }

    private static (long RssKb, int Threads) ProcStatus(int pid)
    {
        long rss = 0;
        var threads = 0;
        foreach (var line in File.ReadLines($"/proc/{pid}/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal)) rss = long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
            else if (line.StartsWith("Threads:", StringComparison.Ordinal)) threads = int.Parse(line.Split('\t', StringSplitOptions.RemoveEmptyEntries)[1].Trim(), CultureInfo.InvariantCulture);
        }
        return (rss, threads);
    }

    // utime + stime (fields 14 and 15; the command name may hold spaces, so count from its closing parenthesis).
    private static long CpuTicks(int pid)
    {
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
    }

    private static async Task<double> ManagedMbAsync(HttpClient http, int metricsPort)
    {
        try
        {
            var text = await http.GetStringAsync($"http://127.0.0.1:{metricsPort}/metrics");
            var line = text.Split('\n').FirstOrDefault(l => l.StartsWith("dotnet_total_memory_bytes ", StringComparison.Ordinal));
            return line is null ? double.NaN : double.Parse(line.Split(' ')[1], CultureInfo.InvariantCulture) / (1024 * 1024);
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException) { return double.NaN; }
    }

    private static Process StartWorker(string dll, string redisConfig, int srtPort, int metricsPort, string? log)
    {
        var psi = new ProcessStartInfo("dotnet") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add(dll);
        psi.Environment["REDIS__CONFIGURATION"] = redisConfig;
        psi.Environment["WORKER__ID"] = "soak";
        psi.Environment["MEDIAMTX__HOST"] = "127.0.0.1";
        psi.Environment["MEDIAMTX__SRTPORT"] = srtPort.ToString(CultureInfo.InvariantCulture);
        psi.Environment["METRICS__PORT"] = metricsPort.ToString(CultureInfo.InvariantCulture);
        psi.Environment.Remove("MEDIAMTX__TOKEN");
        var p = ChildProcesses.Start(psi);
        var sink = log is null ? null : TextWriter.Synchronized(new StreamWriter(log, append: true) { AutoFlush = true });
        p.OutputDataReceived += (_, e) => { if (e.Data is not null) sink?.WriteLine(e.Data); };
        p.ErrorDataReceived += (_, e) => { if (e.Data is not null) sink?.WriteLine(e.Data); };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        return p;
    }

    [System.Runtime.InteropServices.DllImport("libc", SetLastError = true)]
    private static extern int kill(int pid, int signal);
}
