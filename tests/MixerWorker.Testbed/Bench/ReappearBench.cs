using System.Diagnostics;
using System.Globalization;
using System.Text;
using MixerWorker.Testbed.Feeds;
using MixerWorker.Testbed.Imaging;
using MixerWorker.Testbed.Reading;
using MixerWorker.Testbed.StandIn;

namespace MixerWorker.Testbed.Bench;

/// <summary>
/// How fast a camera that comes back is on air again, without MediaMTX events (the headless worker):
/// the feed is stopped for an outage, started again, and timed from the moment the hub accepts its
/// publisher to the worker's read being accepted and to its picture on the program output, decoded by a
/// reader through the stand-in. The baseline in the same run is a reader of the feed itself, trying every
/// 200 ms: what any reader pays for the hub and the feed's keyframe interval. Each mode (the probe
/// interval, then backoff only, as before it existed) runs its own worker.
/// </summary>
internal static class ReappearBench
{
    private const string Project = "demo";
    // Tells the baseline reader's attempts at the stand-in from the worker's.
    private const string DirectQuery = "reader=baseline";
    private static readonly FeedSpec Cam = FeedSpec.Numbered(0) with { Width = 320, Height = 180 };

    internal static async Task<int> RunAsync(Dictionary<string, string> o)
    {
        var worker = o.GetValueOrDefault("worker") ?? throw new ArgumentException("--worker path/to/MixerWorker.dll is required");
        var reps = int.Parse(o.GetValueOrDefault("reps", "20"), CultureInfo.InvariantCulture);
        var outage = TimeSpan.FromSeconds(double.Parse(o.GetValueOrDefault("outage", "5"), CultureInfo.InvariantCulture));
        var modes = o.GetValueOrDefault("modes", "500,0").Split(',').Select(m => int.Parse(m, CultureInfo.InvariantCulture)).ToList();
        var ingest = Environment.GetEnvironmentVariable("INGEST_SRT_PASSPHRASE");
        var output = Environment.GetEnvironmentVariable("OUTPUT_SRT_PASSPHRASE");

        using var standIn = MediaMtxStandIn.Start(new StandInOptions { IngestPassphrase = ingest, OutputPassphrase = output });
        var scene = Path.GetTempFileName();
        await File.WriteAllTextAsync(scene, $$"""
            {"project":"{{Project}}","inputs":[{"name":"{{Cam.Input}}"}],
             "buses":[{"name":"program","format":{"width":320,"height":180,"fps":30,"videoBitrateKbps":600},
               "layout":[{"source":"{{Cam.Input}}","width":320,"height":180,"fit":"fill"}]}]}
            """);
        var report = new StringBuilder();
        report.AppendLine($"### A camera back after a {outage.TotalSeconds:F0} s outage: {reps} returns per mode, 320x180p30 feed (GOP 1 s), no MediaMTX events");
        report.AppendLine();
        report.AppendLine("Seconds from the hub accepting the returning publisher.");
        report.AppendLine();
        report.AppendLine("| Mode | Measure | n | p50 | p95 | max |");
        report.AppendLine("|---|---|---|---|---|---|");
        try
        {
            foreach (var probeMs in modes)
            {
                var rows = await RunModeAsync(worker, scene, standIn, probeMs, reps, outage, ingest, output);
                var mode = probeMs > 0 ? $"probe every {probeMs} ms" : "backoff only (250 ms → 5 s)";
                foreach (var (what, values) in rows) report.AppendLine(Row(mode, what, values));
            }
        }
        finally { File.Delete(scene); }
        report.AppendLine();
        report.AppendLine("\"picture on the program output\" includes the output path: compositor, x264, SRT to the stand-in and on to the reader (80 ms receive latency), decoding.");
        report.AppendLine("The direct reader is the baseline: the feed read straight from the stand-in by a reader that tries every 200 ms (it waits for the feed's next keyframe like the worker does).");
        report.AppendLine();
        Console.Write(report);
        if (o.TryGetValue("out", out var path)) await File.AppendAllTextAsync(path, report.ToString());
        return 0;
    }

    private static async Task<List<(string, List<double>)>> RunModeAsync(string workerDll, string scene, MediaMtxStandIn standIn, int probeMs,
        int reps, TimeSpan outage, string? ingest, string? output)
    {
        var feed = SyntheticFeed.Start(Cam, Project, "127.0.0.1", standIn.Port, ingest);
        var psi = new ProcessStartInfo("dotnet") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { workerDll, "run", scene }) psi.ArgumentList.Add(a);
        psi.Environment["MEDIAMTX__HOST"] = "127.0.0.1";
        psi.Environment["MEDIAMTX__SRTPORT"] = standIn.Port.ToString(CultureInfo.InvariantCulture);
        psi.Environment["RECONNECT__PROBEINTERVALMS"] = probeMs.ToString(CultureInfo.InvariantCulture);
        psi.Environment.Remove("MEDIAMTX__TOKEN");
        var log = Environment.GetEnvironmentVariable("BENCH_WORKER_LOG");
        using var process = ChildProcesses.Start(psi);
        var lines = new List<string>();
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (lines) lines.Add(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (lines) lines.Add(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        using var program = new OutputReader("127.0.0.1", standIn.Port, $"read:out/{Project}/program", output);
        using var direct = new OutputReader("127.0.0.1", standIn.Port, $"read:ingest/{Project}/{Cam.Input}:{DirectQuery}", ingest);
        var connected = new List<double>();
        var onAir = new List<double>();
        var directly = new List<double>();
        try
        {
            await program.WaitForFrameAsync(TimeSpan.FromSeconds(60), Shows);
            await Task.Delay(2000);
            for (var i = 0; i < reps; i++)
            {
                feed.Dispose(); // the camera drops
                await program.WaitForFrameAsync(TimeSpan.FromSeconds(10), f => !Shows(f));
                await Task.Delay(outage);
                var restarted = DateTimeOffset.UtcNow;
                program.StartRecordingFrames();
                direct.StartRecordingFrames();
                feed = SyntheticFeed.Start(Cam, Project, "127.0.0.1", standIn.Port, ingest);
                var published = await standIn.WaitForAttemptAsync(a => a.At >= restarted && a.Action == "publish" && a.Outcome == SrtAttemptOutcome.Accepted, TimeSpan.FromSeconds(10));
                var read = await standIn.WaitForAttemptAsync(a => a.At >= published.At && a.Action == "read" && a.Path == $"ingest/{Project}/{Cam.Input}"
                    && a.Outcome == SrtAttemptOutcome.Accepted && a.Query != DirectQuery, TimeSpan.FromSeconds(30));
                await program.WaitForFrameAsync(TimeSpan.FromSeconds(30), Shows);
                await direct.WaitForFrameAsync(TimeSpan.FromSeconds(30), Shows);
                var first = program.RecordedFrames.First(f => f.At >= published.At && Shows(f));
                var firstDirect = direct.RecordedFrames.First(f => f.At >= published.At && Shows(f));
                connected.Add((read.At - published.At).TotalSeconds);
                onAir.Add((first.At - published.At).TotalSeconds);
                directly.Add((firstDirect.At - published.At).TotalSeconds);
                Console.Error.WriteLine($"probe {probeMs} ms, return {i + 1}: read accepted {connected[^1]:F2} s, on the program output {onAir[^1]:F2} s, direct reader {directly[^1]:F2} s");
                await Task.Delay(1500 + Random.Shared.Next(1000)); // not in step with the feed's keyframes
            }
        }
        finally
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
            feed.Dispose();
            if (log is not null) lock (lines) File.AppendAllLines(log, lines);
        }
        return [("worker's read accepted", connected), ("picture on the program output", onAir), ("direct reader (baseline)", directly)];
    }

    private static bool Shows(RgbFrame f) => Colors.Near(f.ColorAt(f.Width / 2, f.Height / 3, 5), Cam.Rgb);

    private static string Row(string mode, string what, List<double> v)
    {
        var s = v.Order().ToArray();
        string P(double q) => s.Length == 0 ? "-" : s[Math.Min(s.Length - 1, (int)Math.Ceiling(q * s.Length) - 1)].ToString("F2", CultureInfo.InvariantCulture);
        return $"| {mode} | {what} | {s.Length} | {P(0.5)} | {P(0.95)} | {(s.Length == 0 ? "-" : s[^1].ToString("F2", CultureInfo.InvariantCulture))} |";
    }
}
