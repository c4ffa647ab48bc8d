using System.Globalization;
using MixerWorker.Pipeline.Scene;
using MixerWorker.Testbed.Feeds;
using MixerWorker.Testbed.Reading;
using MixerWorker.Testbed.Stamps;

namespace MixerWorker.Testbed.Bench;

/// <summary>
/// The reading side of bench/latency.sh and bench/compare.sh: reads the buses of a scene (published by the worker or
/// by ffmpeg) and some feeds straight from the hub, decodes every box's stamp for a while and writes per-bus and
/// summary rows of repeats, skips and latencies (markdown) for the script to collect. The stand-in, the feeds and
/// the mixer run in their own processes. With <c>--record DIR</c> it only records every stream (TS and arrival
/// times: cheap beside the mixer measured) and a later <c>--from DIR</c> decodes and analyses the recordings as the
/// live reader would have, once the mixer has stopped; <c>--feed-files 1</c> there for feeds sent from files
/// (<see cref="StampAnalysis.StampTimeShift"/>).
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
        var buses = scene.Buses.Where(x => x.Enabled && (wanted is null || wanted.Contains(x.Name))).Select(bus => (Bus: bus, Boxes: StampBoxes.Of(bus, _ => (feedW, feedH, feedFps)))).ToList();
        var directInputs = o.GetValueOrDefault("direct", scene.Inputs[0].Name).Split(',', StringSplitOptions.RemoveEmptyEntries);
        var direct = directInputs.Select(i => (Input: i, Box: StampBox.Whole(i, feedFps, feedW, feedH))).ToList();
        string? Env(string name) => Environment.GetEnvironmentVariable(name) is { Length: > 0 } v ? v : null;
        string BusStream(string bus) => $"read:out/{scene.Project}/{bus}";
        string DirectStream(string input) => $"read:ingest/{scene.Project}/{input}";
        var md = o.GetValueOrDefault("md");
        void NoOutput(string why) => Append(md, SummaryHeader, $"| {label} | - | {mixer} | no readable output: {why.Replace('|', '/')} ||||||||");

        if (o.TryGetValue("record", out var recordDir))
            return await RecordAsync(recordDir, [.. buses.Select(x => (x.Bus.Name, BusStream(x.Bus.Name), Env("OUTPUT_SRT_PASSPHRASE"))),
                .. direct.Select(d => (Recording.Direct(d.Input), DirectStream(d.Input), Env("INGEST_SRT_PASSPHRASE")))], port, settle, seconds);

        List<(Pipeline.Scene.BusDefinition Bus, IReadOnlyList<StampBox> Boxes, IReadOnlyList<StampedFrame> Frames)> outputs;
        Dictionary<string, IReadOnlyList<StampedFrame>> directFrames;
        byte[] directTs;
        var sendTimes = true;
        if (o.TryGetValue("from", out var fromDir))
        {
            if (Recording.Failure(fromDir) is { } failure)
            {
                NoOutput(failure);
                return 1;
            }
            var frames = await Recording.ReadAsync(fromDir, [.. buses.Select(x => (x.Bus.Name, x.Boxes)), .. direct.Select(d => (Recording.Direct(d.Input), (IReadOnlyList<StampBox>)[d.Box]))]);
            outputs = [.. buses.Select(x => (x.Bus, x.Boxes, frames[x.Bus.Name]))];
            directFrames = direct.ToDictionary(d => d.Input, d => frames[Recording.Direct(d.Input)]);
            directTs = await File.ReadAllBytesAsync(Recording.TsPath(fromDir, Recording.Direct(directInputs[0])));
            if (o.GetValueOrDefault("feed-files") == "1")
            {
                sendTimes = false;
                var shifts = directFrames.ToDictionary(d => d.Key, d => StampAnalysis.StampTimeShift(d.Value));
                int ShiftOf(string input) => shifts.TryGetValue(input, out var s) ? s : shifts[directInputs[0]];
                outputs = [.. outputs.Select(x => (x.Bus, x.Boxes, StampAnalysis.ShiftStampTimes(x.Frames, [.. x.Boxes.Select(box => ShiftOf(box.Input))])))];
                directFrames = directFrames.ToDictionary(d => d.Key, d => StampAnalysis.ShiftStampTimes(d.Value, [ShiftOf(d.Key)]));
            }
            if (o.TryGetValue("equal-hops", out var hopsFile))
            {
                var hops = ReadHops(hopsFile);
                outputs = [.. outputs.Select(x => (x.Bus, x.Boxes, hops.Level(x.Bus.Name, x.Frames)))];
                directFrames = directFrames.ToDictionary(d => d.Key, d => hops.Level(Recording.Direct(d.Key), d.Value));
            }
        }
        else
        {
            var readers = buses.Select(x => (x.Bus, x.Boxes, Reader: new OutputReader("127.0.0.1", port, BusStream(x.Bus.Name), Env("OUTPUT_SRT_PASSPHRASE"), stampBoxes: x.Boxes))).ToList();
            // The first direct reader also keeps the feed's TS, to read the PTS-over-PCR lead the hub passes on.
            var tsPath = Path.Combine(Path.GetTempPath(), $"stamps-{Environment.ProcessId}.ts");
            var directReaders = direct.ToDictionary(d => d.Input, d => new OutputReader("127.0.0.1", port, DirectStream(d.Input), Env("INGEST_SRT_PASSPHRASE"),
                d.Input == directInputs[0] ? tsPath : null, [d.Box]));
            try
            {
                try
                {
                    foreach (var r in readers.Select(r => r.Reader).Concat(directReaders.Values)) await r.WaitForStampsAsync(TimeSpan.FromSeconds(40));
                }
                catch (TimeoutException e)
                {
                    Console.Error.WriteLine(e.Message);
                    NoOutput(e.Message);
                    return 1;
                }
                await Task.Delay(TimeSpan.FromSeconds(settle));
                foreach (var r in readers.Select(r => r.Reader).Concat(directReaders.Values)) r.ClearStamps();
                await Task.Delay(TimeSpan.FromSeconds(seconds));
                await Task.Delay(300); // the direct readers catch up with the last output frames' inputs
                directFrames = directReaders.ToDictionary(d => d.Key, d => d.Value.StampedFrames);
                if (o.TryGetValue("trace", out var traceDir))
                    await WritePictureArrivalsAsync(traceDir, [.. readers.Select(r => (r.Bus.Name, r.Reader)), .. directReaders.Select(d => (Recording.Direct(d.Key), d.Value))]);
                outputs = [.. readers.Select(r => (r.Bus, r.Boxes, r.Reader.StampedFrames))];
                directTs = await File.ReadAllBytesAsync(tsPath);
            }
            finally
            {
                foreach (var r in readers) r.Reader.Dispose();
                foreach (var r in directReaders.Values) r.Dispose();
                File.Delete(tsPath);
            }
        }

        var reports = outputs.Select(x => (x.Bus, Report: StampAnalysis.Analyse(x.Frames, x.Boxes, x.Bus.Format.Fps, directFrames))).ToList();
        var directReport = StampAnalysis.Analyse(directFrames[directInputs[0]], [direct[0].Box], feedFps);
        var lead = new TsLeadMeter();
        lead.Add(directTs);
        foreach (var (bus, report) in reports) Console.WriteLine($"{label} {mixer} {bus.Name}: {report}");
        Console.WriteLine($"direct {directInputs[0]}: {directReport}");
        foreach (var (bus, report) in reports) Append(o.GetValueOrDefault("detail"), BusHeader, BusRow(label, mixer, bus.Name, report, sendTimes));
        Append(md, SummaryHeader, SummaryRow(label, mixer, [.. reports.Select(r => r.Report)], directReport.Boxes[0], lead.LeadMsEstimate, sendTimes));
        return 0;
    }

    /// <summary>
    /// Records every stream until all have sent data, then <paramref name="settle"/> and <paramref name="seconds"/>
    /// more (and 300 ms, as the live reader gives the direct readers), and notes that window for <see cref="Recording.ReadAsync"/>.
    /// </summary>
    private static async Task<int> RecordAsync(string dir, IReadOnlyList<(string Name, string StreamId, string? Passphrase)> streams, int port, double settle, double seconds)
    {
        Directory.CreateDirectory(dir);
        var recorders = streams.Select(x => (x.Name, Recorder: OutputReader.Recorder("127.0.0.1", port, x.StreamId, x.Passphrase, Recording.TsPath(dir, x.Name)))).ToList();
        try
        {
            var deadline = DateTimeOffset.UtcNow + TimeSpan.FromSeconds(40);
            while (recorders.FirstOrDefault(r => r.Recorder.Connections == 0) is { Name: { } silent })
            {
                if (DateTimeOffset.UtcNow > deadline)
                {
                    await File.WriteAllTextAsync(Path.Combine(dir, "failed"), $"nothing received from {silent} within 40 s");
                    return 1;
                }
                await Task.Delay(50);
            }
            await Task.Delay(TimeSpan.FromSeconds(settle));
            var start = StampClock.UnixMicros();
            await Task.Delay(TimeSpan.FromSeconds(seconds) + TimeSpan.FromMilliseconds(300));
            await File.WriteAllTextAsync(Path.Combine(dir, "window"), string.Create(CultureInfo.InvariantCulture, $"{start} {StampClock.UnixMicros()}"));
            return 0;
        }
        finally
        {
            foreach (var r in recorders) r.Recorder.Dispose();
        }
    }

    /// <summary>
    /// For bench/srt-hops.py, beside the stand-in's trace: when each picture of every stream read began to arrive, one
    /// file per stream (<c>DIR/NAME.pictures</c>, lines "PTS-ns arrival-Unix-µs").
    /// </summary>
    private static async Task WritePictureArrivalsAsync(string dir, IReadOnlyList<(string Name, OutputReader Reader)> readers)
    {
        Directory.CreateDirectory(dir);
        foreach (var (name, reader) in readers)
            await File.WriteAllLinesAsync(Path.Combine(dir, $"{name}.pictures"),
                reader.PesArrivals.Where(a => !a.Sound).Select(a => string.Create(CultureInfo.InvariantCulture, $"{a.PtsNs} {a.ArrivalUs}")));
    }

    /// <summary>
    /// Each stream's last hop (hub → reader, median ms, from bench/srt-hops.py) and, for a bus, how much longer its
    /// worker → hub hop was than the shortest publisher → hub hop of the run. An SRT receiver sets each connection's
    /// time base when it handles that connection's handshake and keeps it for the run:
    /// - a reader busy connecting nine streams holds each one a different constant longer (86–153 ms against 80
    ///   configured), bus and direct path alike, which the difference of two arrivals then carries;
    /// - the hub, sharing the bench's two cores with the worker starting eight buses, handled the later outputs'
    ///   handshakes up to ~75 ms late and held those buses that much longer. A hub on its own machine (MediaMTX in
    ///   production) handles them as they come; what the worker decides is when it hands each picture to libsrt.
    /// Levelled, every stream's arrivals move by its hop's distance from the median reader hop, and a bus's also by its
    /// excess over the shortest publisher hop: the figures are those of readers whose hops were equal and of a hub
    /// that handled every handshake as promptly as its promptest.
    /// </summary>
    private sealed class ReaderHops(Dictionary<string, (double Hop, double HubExcess)> hopMs)
    {
        private readonly double _median = BoxTiming.Percentile([.. hopMs.Values.Select(h => h.Hop)], 0.5) ?? 0;

        internal IReadOnlyList<StampedFrame> Level(string stream, IReadOnlyList<StampedFrame> frames)
        {
            if (!hopMs.TryGetValue(stream, out var hop)) return frames;
            var shiftUs = (long)Math.Round((hop.Hop - _median + hop.HubExcess) * 1000);
            return [.. frames.Select(f => f with { ArrivalUs = f.ArrivalUs - shiftUs, FirstPacketUs = f.FirstPacketUs - shiftUs })];
        }
    }

    private static ReaderHops ReadHops(string path) =>
        new(File.ReadLines(path).Select(l => l.Split(' ')).Where(w => w.Length is 2 or 3)
            .ToDictionary(w => w[0], w => (double.Parse(w[1], CultureInfo.InvariantCulture), w.Length == 3 ? double.Parse(w[2], CultureInfo.InvariantCulture) : 0)));

    /// <summary>The files of a <c>--record</c> run: a TS and its arrivals per stream, the window measured, or why it failed.</summary>
    private static class Recording
    {
        internal static string Direct(string input) => $"direct-{input}";
        internal static string TsPath(string dir, string name) => Path.Combine(dir, $"{name}.ts");
        internal static string? Failure(string dir) => File.Exists(Path.Combine(dir, "failed")) ? File.ReadAllText(Path.Combine(dir, "failed")) : null;

        /// <summary>Decodes every recording (all at once) and keeps the pictures that arrived within the window.</summary>
        internal static async Task<Dictionary<string, IReadOnlyList<StampedFrame>>> ReadAsync(string dir, IReadOnlyList<(string Name, IReadOnlyList<StampBox> Boxes)> streams)
        {
            var window = (await File.ReadAllTextAsync(Path.Combine(dir, "window"))).Split(' ').Select(x => long.Parse(x, CultureInfo.InvariantCulture)).ToArray();
            var readers = streams.Select(x => (x.Name, Reader: OutputReader.FromRecording(TsPath(dir, x.Name), x.Boxes))).ToList();
            try
            {
                foreach (var r in readers) await r.Reader.WaitForEndAsync(TimeSpan.FromMinutes(5));
                return readers.ToDictionary(r => r.Name, r => (IReadOnlyList<StampedFrame>)[.. r.Reader.StampedFrames.Where(f => f.ArrivalUs >= window[0] && f.ArrivalUs <= window[1])]);
            }
            finally
            {
                foreach (var r in readers) r.Reader.Dispose();
            }
        }
    }

    /// <summary>Columns of <see cref="SummaryRow"/>.</summary>
    private const string SummaryHeader =
        "| Case | Feed PTS − PCR at the hub ms | Mixer | Buses × boxes | Repeats per box, % of output frames (mean; min–max) | Repeats beyond frame-rate conversion (all boxes) | Skipped input frames per box (mean; max) | Worker-added latency p50 / p95 ms | Capture → reader p50 / p95 ms | Delivered fps (slowest bus) | Unreadable box reads |\n" +
        "|---|---|---|---|---|---|---|---|---|---|---|";

    /// <summary>Without <paramref name="sendTimes"/> (feeds sent from files) the stamps' times say nothing of when a picture was sent: no capture → reader.</summary>
    private static string SummaryRow(string label, string mixer, IReadOnlyList<TimingReport> reports, BoxTiming direct, double? leadMs, bool sendTimes)
    {
        var boxes = reports.SelectMany(r => r.Boxes).ToList();
        var repeats = boxes.Select(x => 100 * x.RepeatShare).ToList();
        var skipped = boxes.Select(x => (double)x.SkippedFrames).ToList();
        var added = boxes.SelectMany(x => x.WorkerAddedMs).ToList();
        var latency = boxes.SelectMany(x => x.LatencyMs).ToList();
        return $"| {label} | {Ms(leadMs)} | {mixer} | {reports.Count} × {boxes.Count / Math.Max(1, reports.Count)} | {repeats.Average():0.0}; {repeats.Min():0.0}–{repeats.Max():0.0} " +
            $"| {boxes.Sum(x => x.ExcessRepeats)} of {boxes.Sum(x => x.Pairs)} | {skipped.Average():0.0}; {skipped.Max():0} " +
            $"| {P(added, 0.5)} / {P(added, 0.95)} (lowest box p50 {Ms(boxes.Min(x => x.WorkerAddedP50))}) " +
            (sendTimes ? $"| {P(latency, 0.5)} / {P(latency, 0.95)} (direct path {Ms(direct.LatencyP50)} / {Ms(direct.LatencyP95)}) " : "| n/a (feeds from files) ") +
            $"| {reports.Min(r => r.DeliveredFps):0.0} | {boxes.Sum(x => x.Unreadable)} |";
    }

    /// <summary>Columns of <see cref="BusRow"/>.</summary>
    private const string BusHeader =
        "| Case | Mixer | Bus | Output frames | Delivered fps | Max arrival gap ms | Repeats per box % | Skipped frames per box | Worker-added p50 per box ms | Worker-added p50 / p95 ms | Capture → reader p50 / p95 ms | Lag growth per box ms | Longest held per box ms |\n" +
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|";

    private static string BusRow(string label, string mixer, string bus, TimingReport r, bool sendTimes)
    {
        var added = r.Boxes.SelectMany(x => x.WorkerAddedMs).ToList();
        var latency = r.Boxes.SelectMany(x => x.LatencyMs).ToList();
        return $"| {label} | {mixer} | {bus} | {r.OutputFrames} | {r.DeliveredFps:0.0} | {r.MaxArrivalGapMs:0} " +
            $"| {string.Join(" · ", r.Boxes.Select(x => (100 * x.RepeatShare).ToString("0", CultureInfo.InvariantCulture)))} " +
            $"| {string.Join(" · ", r.Boxes.Select(x => x.SkippedFrames))} | {string.Join(" · ", r.Boxes.Select(x => Ms(x.WorkerAddedP50)))} " +
            $"| {P(added, 0.5)} / {P(added, 0.95)} | {(sendTimes ? $"{P(latency, 0.5)} / {P(latency, 0.95)}" : "n/a")} | {string.Join(" · ", r.Boxes.Select(x => Ms(x.LagGrowthMs)))} " +
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
