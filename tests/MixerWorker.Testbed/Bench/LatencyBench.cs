using System.Globalization;
using MixerWorker.Pipeline.Scene;
using MixerWorker.Testbed.Feeds;
using MixerWorker.Testbed.Reading;
using MixerWorker.Testbed.Stamps;

namespace MixerWorker.Testbed.Bench;

/// <summary>
/// The reading side of bench/latency.sh: reads the buses of a scene (published by the worker or by
/// ffmpeg) and some feeds straight from the hub, decodes every box's stamp for a while and writes
/// per-bus and summary rows of repeats, skips and latencies (markdown) for the script to collect.
/// The stand-in, the feeds and the mixer run in their own processes.
/// </summary>
internal static class LatencyBench
{
    internal static async Task<int> RunAsync(Dictionary<string, string> o)
    {
        var port = int.Parse(o.GetValueOrDefault("port", "18890"), CultureInfo.InvariantCulture);
        var scene = SceneJson.Parse(await File.ReadAllTextAsync(o.GetValueOrDefault("scene") ?? throw new ArgumentException("--scene FILE is required")));
        var seconds = double.Parse(o.GetValueOrDefault("seconds", "20"), CultureInfo.InvariantCulture);
        var settle = double.Parse(o.GetValueOrDefault("settle", "3"), CultureInfo.InvariantCulture);
        var feedW = int.Parse(o.GetValueOrDefault("feed-width", "1280"), CultureInfo.InvariantCulture);
        var feedH = int.Parse(o.GetValueOrDefault("feed-height", "720"), CultureInfo.InvariantCulture);
        var feedFps = double.Parse(o.GetValueOrDefault("feed-fps", "30"), CultureInfo.InvariantCulture);
        var label = o.GetValueOrDefault("label", "");
        var mixer = o.GetValueOrDefault("mixer", "worker");
        var wanted = o.TryGetValue("buses", out var b) ? b.Split(',') : null;
        var buses = scene.Buses.Where(x => x.Enabled && (wanted is null || wanted.Contains(x.Name))).ToList();
        var directInputs = o.GetValueOrDefault("direct", scene.Inputs[0].Name).Split(',', StringSplitOptions.RemoveEmptyEntries);
        string? Env(string name) => Environment.GetEnvironmentVariable(name) is { Length: > 0 } v ? v : null;

        var readers = buses.Select(bus => (Bus: bus, Boxes: StampBoxes.Of(bus, _ => (feedW, feedH, feedFps)))).Select(x =>
            (x.Bus, x.Boxes, Reader: new OutputReader("127.0.0.1", port, $"read:out/{scene.Project}/{x.Bus.Name}", Env("OUTPUT_SRT_PASSPHRASE"), stampBoxes: x.Boxes))).ToList();
        // The first direct reader also keeps the feed's TS, to read the PTS-over-PCR lead the hub passes on.
        var tsPath = Path.Combine(Path.GetTempPath(), $"stamps-{Environment.ProcessId}.ts");
        var direct = directInputs.ToDictionary(i => i, i => new OutputReader("127.0.0.1", port, $"read:ingest/{scene.Project}/{i}", Env("INGEST_SRT_PASSPHRASE"),
            i == directInputs[0] ? tsPath : null, [StampBox.Whole(i, feedFps, feedW, feedH)]));
        try
        {
            try
            {
                foreach (var r in readers.Select(r => r.Reader).Concat(direct.Values)) await r.WaitForStampsAsync(TimeSpan.FromSeconds(40));
            }
            catch (TimeoutException e)
            {
                Console.Error.WriteLine(e.Message);
                Append(o.GetValueOrDefault("md"), SummaryHeader, $"| {label} | - | {mixer} | no readable output: {e.Message.Replace('|', '/')} ||||||||");
                return 1;
            }
            await Task.Delay(TimeSpan.FromSeconds(settle));
            foreach (var r in readers.Select(r => r.Reader).Concat(direct.Values)) r.ClearStamps();
            await Task.Delay(TimeSpan.FromSeconds(seconds));
            await Task.Delay(300); // the direct readers catch up with the last output frames' inputs
            var directFrames = direct.ToDictionary(d => d.Key, d => d.Value.StampedFrames);
            var reports = readers.Select(r => (r.Bus, Report: StampAnalysis.Analyse(r.Reader.StampedFrames, r.Boxes, r.Bus.Format.Fps, directFrames))).ToList();
            var directReport = StampAnalysis.Analyse(directFrames.Values.First(), [StampBox.Whole(directInputs[0], feedFps, feedW, feedH)], feedFps);

            var lead = new TsLeadMeter();
            lead.Add(await File.ReadAllBytesAsync(tsPath));
            foreach (var (bus, report) in reports) Console.WriteLine($"{label} {mixer} {bus.Name}: {report}");
            Console.WriteLine($"direct {directInputs[0]}: {directReport}");
            foreach (var (bus, report) in reports) Append(o.GetValueOrDefault("detail"), BusHeader, BusRow(label, mixer, bus.Name, report));
            Append(o.GetValueOrDefault("md"), SummaryHeader, SummaryRow(label, mixer, [.. reports.Select(r => r.Report)], directReport.Boxes[0], lead.LeadMsEstimate));
            return 0;
        }
        finally
        {
            foreach (var r in readers) r.Reader.Dispose();
            foreach (var r in direct.Values) r.Dispose();
            File.Delete(tsPath);
        }
    }

    /// <summary>Columns of <see cref="SummaryRow"/>.</summary>
    private const string SummaryHeader =
        "| Case | Feed PTS − PCR at the hub ms | Mixer | Buses × boxes | Repeats per box, % of output frames (mean; min–max) | Repeats beyond frame-rate conversion (all boxes) | Skipped input frames per box (mean; max) | Worker-added latency p50 / p95 ms | Capture → reader p50 / p95 ms | Delivered fps (slowest bus) | Unreadable box reads |\n" +
        "|---|---|---|---|---|---|---|---|---|---|---|";

    private static string SummaryRow(string label, string mixer, IReadOnlyList<TimingReport> reports, BoxTiming direct, double? leadMs)
    {
        var boxes = reports.SelectMany(r => r.Boxes).ToList();
        var repeats = boxes.Select(x => 100 * x.RepeatShare).ToList();
        var skipped = boxes.Select(x => (double)x.SkippedFrames).ToList();
        var added = boxes.SelectMany(x => x.WorkerAddedMs).ToList();
        var latency = boxes.SelectMany(x => x.LatencyMs).ToList();
        return $"| {label} | {Ms(leadMs)} | {mixer} | {reports.Count} × {boxes.Count / Math.Max(1, reports.Count)} | {repeats.Average():0.0}; {repeats.Min():0.0}–{repeats.Max():0.0} " +
            $"| {boxes.Sum(x => x.ExcessRepeats)} of {boxes.Sum(x => x.Pairs)} | {skipped.Average():0.0}; {skipped.Max():0} " +
            $"| {P(added, 0.5)} / {P(added, 0.95)} (lowest box p50 {Ms(boxes.Min(x => x.WorkerAddedP50))}) " +
            $"| {P(latency, 0.5)} / {P(latency, 0.95)} (direct path {Ms(direct.LatencyP50)} / {Ms(direct.LatencyP95)}) " +
            $"| {reports.Min(r => r.DeliveredFps):0.0} | {boxes.Sum(x => x.Unreadable)} |";
    }

    /// <summary>Columns of <see cref="BusRow"/>.</summary>
    private const string BusHeader =
        "| Case | Mixer | Bus | Output frames | Delivered fps | Max arrival gap ms | Repeats per box % | Skipped frames per box | Worker-added p50 per box ms | Worker-added p50 / p95 ms | Capture → reader p50 / p95 ms | Lag growth per box ms | Longest held per box ms |\n" +
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|";

    private static string BusRow(string label, string mixer, string bus, TimingReport r)
    {
        var added = r.Boxes.SelectMany(x => x.WorkerAddedMs).ToList();
        var latency = r.Boxes.SelectMany(x => x.LatencyMs).ToList();
        return $"| {label} | {mixer} | {bus} | {r.OutputFrames} | {r.DeliveredFps:0.0} | {r.MaxArrivalGapMs:0} " +
            $"| {string.Join(" · ", r.Boxes.Select(x => (100 * x.RepeatShare).ToString("0", CultureInfo.InvariantCulture)))} " +
            $"| {string.Join(" · ", r.Boxes.Select(x => x.SkippedFrames))} | {string.Join(" · ", r.Boxes.Select(x => Ms(x.WorkerAddedP50)))} " +
            $"| {P(added, 0.5)} / {P(added, 0.95)} | {P(latency, 0.5)} / {P(latency, 0.95)} | {string.Join(" · ", r.Boxes.Select(x => Ms(x.LagGrowthMs)))} " +
            $"| {string.Join(" · ", r.Boxes.Select(x => Ms(x.LongestHeldMs)))} |";
    }

    private static string P(IReadOnlyList<double> values, double p) => Ms(BoxTiming.Percentile(values, p));
    private static string Ms(double? v) => v is { } x ? x.ToString("0", CultureInfo.InvariantCulture) : "-";

    /// <summary>Appends a row to a markdown table file, starting it with its header.</summary>
    private static void Append(string? path, string header, string line)
    {
        if (path is null) return;
        if (!File.Exists(path) || new FileInfo(path).Length == 0) File.WriteAllText(path, header + "\n");
        File.AppendAllText(path, line + "\n");
    }
}
