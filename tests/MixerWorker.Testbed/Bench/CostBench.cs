using System.Diagnostics;
using System.Globalization;
using System.Text;
using MixerWorker.Testbed.Feeds;
using MixerWorker.Testbed.StandIn;

namespace MixerWorker.Testbed.Bench;

/// <summary>
/// Calibrates the fleet's cost model (bench/fleet-cost.sh): the worker runs one scene at a time
/// headless (`MixerWorker.dll run`), with feeds at the size of its largest bus (the model's assumption),
/// and its CPU (utime + stime of its process, over a window after a warm-up) is fitted by least squares,
/// with no negative coefficient, to the model's terms: per project, per input, input Mpx/s, per bus,
/// bus Mpx/s, box Mpx/s. The feeds and the stand-in run in this process and are not counted.
/// </summary>
internal static class CostBench
{
    private const string Ingest = "bench-ingest-pass-1";
    private const string Output = "bench-output-pass-2";
    private static readonly string[] Terms = ["BaseCpus", "InputCpus", "InputCpusPerMpx", "BusCpus", "BusCpusPerMpx", "BoxCpusPerMpx"];

    /// <summary>One measured scene: inputs, buses of one size, boxes per bus (each the full frame).</summary>
    private sealed record Case(string Name, int Inputs, int Buses, int BoxesPerBus, int Width, int Height, int Fps = 30)
    {
        public double Mpx => (double)Width * Height * Fps / 1e6;
        public double[] Features => [1, Inputs, Inputs * Mpx, Buses, Buses * Mpx, Buses * BoxesPerBus * Mpx];
    }

    private static readonly Case[] Cases =
    [
        new("1 input, 1 bus 320x180", 1, 1, 1, 320, 180),
        new("1 input, 1 bus 640x360", 1, 1, 1, 640, 360),
        new("1 input, 1 bus 1280x720", 1, 1, 1, 1280, 720),
        new("3 inputs, 1 bus 640x360", 3, 1, 1, 640, 360),
        new("1 input, 3 buses 640x360", 1, 3, 1, 640, 360),
        new("1 input, 1 bus 640x360, 4 boxes", 1, 1, 4, 640, 360),
        new("2 inputs, 2 buses 640x360, 2 boxes", 2, 2, 2, 640, 360),
        new("2 inputs, 1 bus 960x540, 2 boxes", 2, 1, 2, 960, 540),
    ];

    internal static async Task<int> RunAsync(Dictionary<string, string> o)
    {
        var dll = o.GetValueOrDefault("worker") ?? throw new ArgumentException("--worker path/to/MixerWorker.dll is required");
        var warmup = double.Parse(o.GetValueOrDefault("warmup", "6"), CultureInfo.InvariantCulture);
        var window = double.Parse(o.GetValueOrDefault("window", "12"), CultureInfo.InvariantCulture);
        var reps = int.Parse(o.GetValueOrDefault("reps", "2"), CultureInfo.InvariantCulture);
        var outFile = o.GetValueOrDefault("out");
        var work = Directory.CreateTempSubdirectory("bench-cost-").FullName;
        var ticks = ClockTicks();

        using var standIn = MediaMtxStandIn.Start(new StandInOptions { IngestPassphrase = Ingest, OutputPassphrase = Output });
        var measured = new List<(Case Case, double Cpus)>();
        for (var rep = 0; rep < reps; rep++)
            foreach (var c in rep % 2 == 0 ? Cases : Cases.Reverse())
            {
                var project = $"cost{rep}{Array.IndexOf(Cases, c)}";
                var feeds = Enumerable.Range(0, c.Inputs).Select(i => SyntheticFeed.Start(
                    FeedSpec.Numbered(i) with { Width = c.Width, Height = c.Height, Fps = c.Fps, Pattern = "smpte", VideoBitrateKbps = (int)(c.Mpx * 200) + 300 },
                    project, "127.0.0.1", standIn.Port, Ingest)).ToList();
                try
                {
                    await Task.Delay(1500);
                    var scene = Path.Combine(work, $"{project}.json");
                    await File.WriteAllTextAsync(scene, Scene(project, c));
                    var cpus = await MeasureAsync(dll, scene, standIn.Port, warmup, window, ticks, Path.Combine(work, $"{project}.log"));
                    measured.Add((c, cpus));
                    Console.WriteLine(FormattableString.Invariant($"{c.Name}: {cpus:F3} CPUs"));
                }
                finally { foreach (var f in feeds) f.Dispose(); }
            }

        var fit = FitNonNegative([.. measured.Select(m => m.Case.Features)], [.. measured.Select(m => m.Cpus)]);
        var report = Report(measured, fit, warmup, window, reps);
        Console.WriteLine(report);
        if (outFile is not null) await File.AppendAllTextAsync(outFile, report);
        return 0;
    }

    private static string Scene(string project, Case c)
    {
        var inputs = string.Join(",", Enumerable.Range(0, c.Inputs).Select(i => $$"""{"name":"{{FeedSpec.Numbered(i).Input}}"}"""));
        var box = (int n) => $$"""{"source":"{{FeedSpec.Numbered(n % c.Inputs).Input}}","width":{{c.Width}},"height":{{c.Height}},"z":{{n}},"fit":"fill"}""";
        var buses = string.Join(",", Enumerable.Range(0, c.Buses).Select(b => $$"""
            {"name":"{{(b == 0 ? "program" : $"aux{b}")}}","format":{"width":{{c.Width}},"height":{{c.Height}},"fps":{{c.Fps}},"videoBitrateKbps":{{(int)(c.Mpx * 120) + 300}}},
             "layout":[{{string.Join(",", Enumerable.Range(0, c.BoxesPerBus).Select(box))}}]}
            """));
        return $$"""{"project":"{{project}}","revision":1,"inputs":[{{inputs}}],"buses":[{{buses}}]}""";
    }

    private static async Task<double> MeasureAsync(string dll, string scene, int port, double warmup, double window, double ticksPerSecond, string log)
    {
        var psi = new ProcessStartInfo("dotnet") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { dll, "run", scene, "--duration", (warmup + window + 3).ToString(CultureInfo.InvariantCulture) }) psi.ArgumentList.Add(a);
        foreach (var key in psi.Environment.Keys.Where(k => k.Contains("__") || k.EndsWith("PASSPHRASE", StringComparison.Ordinal)).ToList()) psi.Environment.Remove(key);
        psi.Environment["MEDIAMTX__HOST"] = "127.0.0.1";
        psi.Environment["MEDIAMTX__SRTPORT"] = port.ToString(CultureInfo.InvariantCulture);
        psi.Environment["INGEST_SRT_PASSPHRASE"] = Ingest;
        psi.Environment["OUTPUT_SRT_PASSPHRASE"] = Output;
        psi.Environment["ENCODER__BACKEND"] = "software";
        using var p = ChildProcesses.Start(psi);
        await using var sink = TextWriter.Synchronized(new StreamWriter(log) { AutoFlush = true });
        p.OutputDataReceived += (_, e) => { if (e.Data is not null) sink.WriteLine(e.Data); };
        p.ErrorDataReceived += (_, e) => { if (e.Data is not null) sink.WriteLine(e.Data); };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        await Task.Delay(TimeSpan.FromSeconds(warmup));
        var (cpu0, at0) = (CpuTicks(p.Id), Stopwatch.GetTimestamp());
        await Task.Delay(TimeSpan.FromSeconds(window));
        var (cpu1, at1) = (CpuTicks(p.Id), Stopwatch.GetTimestamp());
        await p.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
        return (cpu1 - cpu0) / ticksPerSecond / Stopwatch.GetElapsedTime(at0, at1).TotalSeconds;
    }

    // utime + stime: fields 14 and 15 of /proc/<pid>/stat (after the command, which may hold spaces).
    private static long CpuTicks(int pid)
    {
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
    }

    private static double ClockTicks()
    {
        using var p = Process.Start(new ProcessStartInfo("getconf", "CLK_TCK") { RedirectStandardOutput = true })!;
        var text = p.StandardOutput.ReadToEnd().Trim();
        p.WaitForExit();
        return double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var t) && t > 0 ? t : 100;
    }

    /// <summary>Least squares with every coefficient ≥ 0: terms that come out negative are dropped (0) and the rest refitted.</summary>
    internal static double[] FitNonNegative(double[][] x, double[] y)
    {
        var n = x[0].Length;
        var active = Enumerable.Range(0, n).ToList();
        while (true)
        {
            var beta = Solve(x, y, active);
            var negative = active.Where(j => beta[j] < 0).ToList();
            if (negative.Count == 0) return beta;
            active.Remove(negative.OrderBy(j => beta[j]).First());
        }
    }

    private static double[] Solve(double[][] x, double[] y, List<int> active)
    {
        var k = active.Count;
        var a = new double[k, k + 1];
        for (var i = 0; i < k; i++)
        {
            for (var j = 0; j < k; j++) a[i, j] = x.Sum(r => r[active[i]] * r[active[j]]);
            a[i, k] = x.Select((r, m) => r[active[i]] * y[m]).Sum();
        }
        for (var col = 0; col < k; col++)
        {
            var pivot = Enumerable.Range(col, k - col).MaxBy(r => Math.Abs(a[r, col]));
            for (var j = 0; j <= k; j++) (a[col, j], a[pivot, j]) = (a[pivot, j], a[col, j]);
            if (Math.Abs(a[col, col]) < 1e-12) continue;
            for (var r = 0; r < k; r++)
            {
                if (r == col) continue;
                var f = a[r, col] / a[col, col];
                for (var j = col; j <= k; j++) a[r, j] -= f * a[col, j];
            }
        }
        var beta = new double[x[0].Length];
        for (var i = 0; i < k; i++) beta[active[i]] = Math.Abs(a[i, i]) < 1e-12 ? 0 : a[i, k] / a[i, i];
        return beta;
    }

    private static string Report(List<(Case Case, double Cpus)> measured, double[] fit, double warmup, double window, int reps)
    {
        var sb = new StringBuilder();
        sb.AppendLine("## Cost model calibration (bench/fleet-cost.sh)");
        sb.AppendLine();
        sb.AppendLine(FormattableString.Invariant($"`MixerWorker.dll run` per scene, x264 (software), feeds at the bus size (smpte, moving), CPU = utime+stime of the worker over {window:F0} s after {warmup:F0} s of warm-up, {reps} repetitions in alternating order. Mpx/s = width x height x fps / 10^6."));
        sb.AppendLine();
        sb.AppendLine("| scene | Mpx/s | measured CPUs (each run) | model CPUs | error |");
        sb.AppendLine("|---|---|---|---|---|");
        foreach (var g in measured.GroupBy(m => m.Case))
        {
            var model = g.Key.Features.Select((f, i) => f * fit[i]).Sum();
            var mean = g.Average(m => m.Cpus);
            sb.AppendLine(FormattableString.Invariant($"| {g.Key.Name} | {g.Key.Mpx:F1} | {string.Join(", ", g.Select(m => m.Cpus.ToString("F3", CultureInfo.InvariantCulture)))} | {model:F3} | {(model - mean) / mean:+0%;-0%} |"));
        }
        sb.AppendLine();
        sb.AppendLine("Fitted coefficients (FLEET__COST__*; 0: the term did not fit with a positive sign and was left out):");
        sb.AppendLine();
        sb.AppendLine("| coefficient | value |");
        sb.AppendLine("|---|---|");
        for (var i = 0; i < Terms.Length; i++) sb.AppendLine(FormattableString.Invariant($"| {Terms[i]} | {fit[i]:F4} |"));
        sb.AppendLine();
        return sb.ToString();
    }
}
