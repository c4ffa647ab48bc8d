namespace MixerWorker.Testbed.Stamps;

/// <summary>
/// Where a feed's whole picture lies in an output (the box rectangle for a filled box), the feed it
/// shows and that feed's frame rate. <see cref="Name"/> labels the box in reports.
/// </summary>
public sealed record StampBox(string Name, string Input, double InputFps, int X, int Y, int Width, int Height)
{
    /// <summary>A reader of the feed itself: one box, the whole picture.</summary>
    public static StampBox Whole(string input, double fps, int width, int height) => new(input, input, fps, 0, 0, width, height);
}

/// <summary>
/// One decoded picture of an output: its PTS, the wall-clock time (Unix µs) its data arrived (left the
/// demuxer), each box's stamp (null: unreadable), and when its first TS packet reached the reader
/// (<see cref="Reading.FirstPackets"/>), where known.
/// </summary>
public sealed record StampedFrame(ulong? Pts, long ArrivalUs, StampRead?[] Boxes, long? FirstPacketUs = null);

/// <summary>A stamp placed on the timeline: the feed's frame number (unwrapped) and capture time (Unix ms).</summary>
public readonly record struct InputFrame(long Number, long SentMs, byte Low)
{
    /// <summary>What identifies a picture across readers (two readers unwrap numbers from different starting points).</summary>
    public (byte, long) Key => (Low, SentMs);
}

/// <summary>
/// Turns the 8-bit frame numbers and 16-bit milliseconds of stamps read one after another (from one
/// feed) back into full values: the time is the one within 65 s before the picture's arrival, and the
/// frame number the one nearest to what the elapsed capture time predicts at the feed's frame rate.
/// </summary>
public sealed class StampUnwrapper(double fps)
{
    private InputFrame? _last;

    public InputFrame Next(FrameStamp stamp, long arrivalUs)
    {
        var arrivalMs = arrivalUs / 1000;
        var sentMs = arrivalMs - (((arrivalMs - stamp.Millis) % 65536) + 65536) % 65536;
        long number = stamp.Frame;
        if (_last is { } last)
        {
            var expected = (long)Math.Round(last.Number + (sentMs - last.SentMs) * fps / 1000);
            var delta = ((stamp.Frame - expected) % 256 + 256) % 256;
            if (delta >= 128) delta -= 256;
            number = expected + delta;
        }
        var frame = new InputFrame(number, sentMs, stamp.Frame);
        _last = frame;
        return frame;
    }
}

/// <summary>
/// What one box of an output did over a measurement, counted between consecutive output pictures
/// (by PTS) in which the box's stamp reads. The frame-rate ratio r = input fps / output fps decides
/// what is allowed: the input frame number advances by floor(r) or ceil(r) per output frame, so with
/// r &lt; 1 a share 1 - r of output frames repeat (25 → 30: one in six), with r ≥ 1 none do. Across an
/// output gap of k frames (a bus shedding load makes one frame in n) the input advances by floor(r·k) or
/// more, so a box showing the same picture across a gap with r·k ≥ 1 repeats too; <see cref="RepeatShare"/>
/// is over every pair of consecutive pictures read, gap or not (a shedding bus has almost no pairs one frame
/// apart, and one repeat among them read as 100 %).
/// <paramref name="LongestHeldMs"/>: the longest stretch of output time (by PTS) over which the box
/// showed one picture while its input moved on (a frozen box, however steady the output's frame rate).
/// </summary>
public sealed record BoxTiming(
    string Box, string Input, double InputFps, double OutputFps,
    int Frames, int Unreadable, int Intervals, int Repeats, int ExpectedRepeats, int Skips, int SkippedFrames,
    int Backwards, int OutputGaps, IReadOnlyList<double> LatencyMs, IReadOnlyList<double> WorkerAddedMs,
    double LongestHeldMs = 0, IReadOnlyList<double>? FirstPacketLatencyMs = null, IReadOnlyList<string>? Events = null)
{
    /// <summary>
    /// Pictures the engine reported as reaching the box too late for any frame, over the measurement (null: not
    /// known). Each costs the box at most one repeat (a frame shows the picture before for longer) and the input
    /// frames of one output frame skipped (the late one is left out: one frame of a 30 fps input, two of a 60 fps one).
    /// </summary>
    public long? LatePictures { get; init; }

    /// <summary>
    /// The corrections of the box's input timeline over the measurement and how far they moved it, in ms (null: not
    /// known). A correction earlier skips what it moves past, one later holds the picture as long.
    /// </summary>
    public (long Count, double MovedMs)? TimelineMoves { get; init; }

    /// <summary>
    /// Repeats the engine made on purpose, each allowed once: one per late picture, and per timeline correction one
    /// plus one for each whole frame interval it moved (the corrections counted at most <paramref name="corrections"/>,
    /// by how far they moved on average).
    /// </summary>
    public int Deliberate(long corrections = long.MaxValue) => Deliberate(corrections, framesPerPicture: 1);

    /// <summary>
    /// Skipped input frames the engine made on purpose: as <see cref="Deliberate(long)"/>, with each late picture
    /// costing the input frames of one output frame (ceil(input fps / output fps), at least one).
    /// </summary>
    public int DeliberateSkipped(long corrections = long.MaxValue) => Deliberate(corrections, FramesPerPicture);

    /// <summary>The input frames one output frame's picture stands for: ceil(input fps / output fps), at least one.</summary>
    public int FramesPerPicture => Math.Max(1, (int)Math.Ceiling(InputFps / OutputFps - 1e-9));

    private int Deliberate(long corrections, int framesPerPicture)
    {
        var moves = TimelineMoves is { Count: > 0 } m ? Math.Min(m.Count, corrections) * (1 + m.MovedMs / m.Count * OutputFps / 1000) : 0;
        return (int)Math.Min(int.MaxValue / 2, (LatePictures ?? 0) * framesPerPicture + (long)moves);
    }

    /// <summary>Repeats the frame-rate conversion does not explain.</summary>
    public int ExcessRepeats => Math.Max(0, Repeats - ExpectedRepeats);
    /// <summary>Consecutive pictures read: one frame apart (<see cref="Intervals"/>) or across a gap (<see cref="OutputGaps"/>).</summary>
    public int Pairs => Intervals + OutputGaps;
    public double RepeatShare => Pairs == 0 ? 0 : (double)Repeats / Pairs;
    public double? LatencyP50 => Percentile(LatencyMs, 0.50);
    public double? LatencyP95 => Percentile(LatencyMs, 0.95);
    /// <summary>The 95th percentile of capture → first packet at the reader where known, else → arrival.</summary>
    public double? LagP95 => Percentile(FirstPacketLatencyMs ?? LatencyMs, 0.95);
    public double? WorkerAddedP50 => Percentile(WorkerAddedMs, 0.50);
    public double? WorkerAddedP95 => Percentile(WorkerAddedMs, 0.95);

    /// <summary>
    /// How much the box's delay grew over the measurement: the median of its last quarter minus that of
    /// its first (a bus whose timeline stretches under load grows; a live one does not). Capture → first
    /// packet at the reader where every picture's is known (<see cref="FirstPacketLatencyMs"/>): a frame
    /// leaves the demuxer only when the next one begins, and on a bus whose shedding deepens meanwhile
    /// (one frame in 6, then in 15) that gap alone grew by 0.3 s.
    /// </summary>
    public double? LagGrowthMs => Growth(FirstPacketLatencyMs ?? LatencyMs);

    private static double? Growth(IReadOnlyList<double> lag) => lag.Count < 8 ? null
        : Percentile([.. lag.Skip(lag.Count * 3 / 4)], 0.5) - Percentile([.. lag.Take(lag.Count / 4)], 0.5);

    /// <summary>
    /// Nothing beyond frame-rate conversion: at most <paramref name="tolerance"/> skipped frames and as many extra repeats
    /// (or <paramref name="repeats"/>), never backwards.
    /// </summary>
    public bool IsSmooth(int tolerance, int? repeats = null) =>
        ExcessRepeats <= (repeats ?? tolerance) && SkippedFrames <= tolerance && Backwards == 0 && Intervals > 0;

    /// <summary>
    /// As <see cref="IsSmooth"/>, with the <see cref="Deliberate"/> repeats and skipped frames allowed besides: what the
    /// engine left out or moved on purpose (a starved machine's late pictures, a timeline following its input) is
    /// not a fault; a repeat or skip with every picture in time and the timeline still is.
    /// </summary>
    public bool IsSmoothBesidesDeliberate(int tolerance, int? repeats = null, long corrections = long.MaxValue) =>
        IsSmooth(tolerance + DeliberateSkipped(corrections), (repeats ?? tolerance) + Deliberate(corrections));

    public override string ToString() =>
        $"{Box} ({Input} {InputFps:0.##}→{OutputFps:0.##} fps): {Frames} frames, {Unreadable} unreadable, {Intervals} intervals, " +
        (LatePictures is { } late ? $"{late} pictures late at the box, " : "") +
        (TimelineMoves is { } moves ? $"timeline corrected {moves.Count}x by {moves.MovedMs:0} ms, " : "") +
        $"repeats {Repeats} (conversion needs {ExpectedRepeats}), skips {Skips} ({SkippedFrames} frames), backwards {Backwards}, output gaps {OutputGaps}, " +
        $"latency p50/p95 {Ms(LatencyP50)}/{Ms(LatencyP95)} ms (growth {Ms(LagGrowthMs)}), longest held {LongestHeldMs:0} ms, worker-added p50/p95 {Ms(WorkerAddedP50)}/{Ms(WorkerAddedP95)} ms";

    private static string Ms(double? v) => v is { } x ? x.ToString("0") : "-";

    /// <summary>Nearest-rank percentile, null for no samples.</summary>
    public static double? Percentile(IReadOnlyList<double> values, double p)
    {
        if (values.Count == 0) return null;
        var sorted = values.Order().ToList();
        return sorted[(int)Math.Round(p * (sorted.Count - 1))];
    }
}

/// <summary>
/// One output over a measurement: each box, and the output's own pace. <paramref name="BehindPtsMs"/>
/// and <paramref name="BehindAtMs"/>: for each output picture (the longest stretch of rising PTS), how
/// far its arrival at the reader (its first packet where every picture's is known) is behind its PTS,
/// and when it arrived.
/// </summary>
public sealed record TimingReport(IReadOnlyList<BoxTiming> Boxes, int OutputFrames, double SpanSeconds, double DeliveredFps, double MaxArrivalGapMs,
    IReadOnlyList<double>? BehindPtsMs = null, IReadOnlyList<double>? BehindAtMs = null)
{
    /// <summary>
    /// What happened to the show during the measurement that its counts cannot cover, in words (a bus rebuilt, an
    /// input's connection restarted: the engine's counters started afresh); empty for none.
    /// </summary>
    public IReadOnlyList<string> Disruptions { get; init; } = [];

    /// <summary>
    /// How much the output's own timeline falls behind per <paramref name="span"/>: the slope of its
    /// pictures' arrival behind their PTS. A bus that stretches its timeline (makes every frame, later
    /// and later) grows; one that drops frames to keep up does not, however late its inputs' pictures are.
    /// </summary>
    public double? TimelineGrowthPer(TimeSpan span) =>
        BehindAtMs is { } at && BehindPtsMs is { } behind ? Slope.PerSpan(at, behind, span) : null;

    public override string ToString() =>
        $"{OutputFrames} output frames in {SpanSeconds:0.0} s ({DeliveredFps:0.0} fps delivered, max gap {MaxArrivalGapMs:0} ms)" +
        string.Concat(Boxes.Select(b => "\n  " + b)) + string.Concat(Disruptions.Select(d => "\n  " + d));
}

/// <summary>Theil–Sen: the median of the slopes between every two points, robust to a few wild ones.</summary>
internal static class Slope
{
    /// <summary>The slope of <paramref name="value"/> over <paramref name="atMs"/>, times <paramref name="span"/>; null under 8 points.</summary>
    internal static double? PerSpan(IReadOnlyList<double> atMs, IReadOnlyList<double> value, TimeSpan span)
    {
        if (atMs.Count != value.Count || value.Count < 8) return null;
        var slopes = new List<double>(value.Count * (value.Count - 1) / 2);
        for (var i = 0; i < value.Count; i++)
            for (var j = i + 1; j < value.Count; j++)
                if (Math.Abs(atMs[j] - atMs[i]) >= 1) slopes.Add((value[j] - value[i]) / (atMs[j] - atMs[i]));
        return BoxTiming.Percentile(slopes, 0.5) * span.TotalMilliseconds;
    }
}

public static class StampAnalysis
{
    /// <summary>
    /// Analyses the pictures of one output. <paramref name="direct"/> holds, per input, what a reader of
    /// the feed itself (straight from the hub, no worker) saw: a picture's worker-added latency is its
    /// arrival in the output minus its arrival there. A box whose input has no direct reader uses the
    /// median capture → arrival time of the direct readers instead (the feeds of one publisher process
    /// share their path). Without any, only the end-to-end latency (capture → arrival, which includes
    /// the publisher's encoding and both SRT hops) is given.
    /// </summary>
    public static TimingReport Analyse(IReadOnlyList<StampedFrame> output, IReadOnlyList<StampBox> boxes, double outputFps,
        IReadOnlyDictionary<string, IReadOnlyList<StampedFrame>>? direct = null)
    {
        // In the reader's order: pictures come out of the decoder in presentation order (the outputs
        // carry no B-frames), and a reconnection restarts PTS, which sorting would interleave.
        var frames = output.Where(f => f.Pts is not null).ToList();
        var directArrivals = (direct ?? new Dictionary<string, IReadOnlyList<StampedFrame>>())
            .ToDictionary(d => d.Key, d => FirstArrivals(d.Value, boxes.FirstOrDefault(b => b.Input == d.Key)?.InputFps ?? 30));
        var directLatency = BoxTiming.Percentile([.. directArrivals.Values.SelectMany(a => a.Select(kv => kv.Value / 1000.0 - kv.Key.Item2))], 0.5);
        var timings = boxes.Select((box, i) => AnalyseBox(frames, i, box, outputFps, directArrivals.GetValueOrDefault(box.Input), directLatency)).ToList();

        var byArrival = output.Select(f => f.ArrivalUs).Order().ToList();
        var span = byArrival.Count > 1 ? (byArrival[^1] - byArrival[0]) / 1e6 : 0;
        var maxGap = byArrival.Zip(byArrival.Skip(1), (a, b) => (b - a) / 1000.0).DefaultIfEmpty(0).Max();
        var (behind, behindAt) = Behind(frames);
        return new TimingReport(timings, output.Count, span, span > 0 ? (output.Count - 1) / span : 0, maxGap, behind, behindAt);
    }

    private static (List<double> BehindMs, List<double> AtMs) Behind(List<StampedFrame> frames)
    {
        var firstPackets = frames.All(f => f.FirstPacketUs is not null);
        List<StampedFrame> longest = [], run = [];
        foreach (var f in frames)
        {
            if (run.Count > 0 && f.Pts <= run[^1].Pts) run = [];
            run.Add(f);
            if (run.Count > longest.Count) longest = run;
        }
        var at = longest.Select(f => (firstPackets ? f.FirstPacketUs!.Value : f.ArrivalUs) / 1000.0).ToList();
        return ([.. longest.Select((f, i) => at[i] - f.Pts!.Value / 1e6)], at);
    }

    /// <summary>
    /// For a feed sent from a file (<see cref="Feeds.SyntheticFeed.WriteFile"/>), whose stamps' times are when the file
    /// was made plus the PTS, not when a picture was sent: how far to move them (ms, modulo 2^16) so that the pictures
    /// a direct reader of the feed saw read <paramref name="directLatencyMs"/> from stamp to arrival. Their 16-bit
    /// times then unwrap to the same picture at every reader (each reads a time within 65 s before its arrival), as a
    /// live feed's do. Frame numbers, repeats, skips, worker-added latency (arrivals against the direct reader's) and
    /// growth keep their meaning; capture → reader loses it. Zero without a readable picture.
    /// </summary>
    public static int StampTimeShift(IReadOnlyList<StampedFrame> direct, int directLatencyMs = 1000)
    {
        var behind = direct.Where(f => f.Boxes.Length > 0 && f.Boxes[0] is not null)
            .Select(f => (int)(((f.ArrivalUs / 1000 - f.Boxes[0]!.Value.Stamp.Millis) % 65536 + 65536) % 65536)).ToList();
        if (behind.Count == 0) return 0;
        // Around the first, so that a spread across the 16-bit wrap stays one spread.
        var median = BoxTiming.Percentile([.. behind.Select(v => (double)(((v - behind[0]) % 65536 + 65536 + 32768) % 65536 - 32768))], 0.5)!.Value;
        return (int)((((behind[0] + (long)median - directLatencyMs) % 65536) + 65536) % 65536);
    }

    /// <summary>The pictures with each box's stamp time moved by that box's <paramref name="shiftMs"/> (<see cref="StampTimeShift"/>).</summary>
    public static IReadOnlyList<StampedFrame> ShiftStampTimes(IReadOnlyList<StampedFrame> frames, IReadOnlyList<int> shiftMs) =>
        [.. frames.Select(f => f with
        {
            Boxes = [.. f.Boxes.Select((read, i) => read is { } r ? r with { Stamp = r.Stamp with { Millis = (ushort)(r.Stamp.Millis + shiftMs[i]) } } : (StampRead?)null)],
        })];

    /// <summary>The arrival of each picture a direct reader saw (first sighting), by <see cref="InputFrame.Key"/>.</summary>
    private static Dictionary<(byte, long), long> FirstArrivals(IReadOnlyList<StampedFrame> frames, double fps)
    {
        var unwrap = new StampUnwrapper(fps);
        var result = new Dictionary<(byte, long), long>();
        foreach (var f in frames.Where(f => f.Pts is not null))
            if (f.Boxes.Length > 0 && f.Boxes[0] is { } read)
                result.TryAdd(unwrap.Next(read.Stamp, f.ArrivalUs).Key, f.ArrivalUs);
        return result;
    }

    private static BoxTiming AnalyseBox(List<StampedFrame> frames, int index, StampBox box, double outputFps, Dictionary<(byte, long), long>? direct, double? directLatencyMs)
    {
        var ratio = box.InputFps / outputFps;
        var frameNs = 1e9 / outputFps;
        var unwrap = new StampUnwrapper(box.InputFps);
        int read = 0, unreadable = 0, intervals = 0, repeats = 0, skips = 0, skipped = 0, backwards = 0, gaps = 0;
        var latency = new List<double>();
        var events = new List<string>();
        var firstPacket = new List<double>();
        var added = new List<double>();
        (ulong Pts, InputFrame Frame)? previous = null;
        long? lastShown = null;
        // The output time over which the box showed one picture while its input moved on.
        (long Number, ulong Since, ulong Until)? held = null;
        var longestHeldNs = 0.0;
        foreach (var f in frames)
        {
            if (f.Boxes[index] is not { } stamp)
            {
                unreadable++;
                previous = null;
                continue;
            }
            read++;
            var frame = unwrap.Next(stamp.Stamp, f.ArrivalUs);
            // A PTS that goes back or leaps (a new connection, a jump) starts the count afresh.
            if (previous is { } p && f.Pts!.Value > p.Pts && f.Pts.Value - p.Pts < 100 * frameNs)
            {
                var k = Math.Max(1, (int)Math.Round((f.Pts.Value - p.Pts) / frameNs));
                var d = frame.Number - p.Frame.Number;
                if (k > 1) gaps++;
                else intervals++;
                var most = (long)Math.Ceiling(ratio * k - 1e-9);
                if (d < 0) backwards++;
                else if (d == 0 && (k == 1 || ratio * k >= 1)) repeats++;
                else if (d > most)
                {
                    skips++;
                    skipped += (int)(d - most);
                }
                if (d < 0 || d > most || (d == 0 && (k == 1 || ratio * k >= 1)))
                    events.Add(string.Create(System.Globalization.CultureInfo.InvariantCulture,
                        $"pts {f.Pts.Value / 1e6:0} ms (+{k} frame) arrived {f.ArrivalUs / 1000 % 100000} ms: input frame {p.Frame.Number} -> {frame.Number} (sent {frame.SentMs % 100000}, +{d})"));
            }
            // Latency of each input picture at its first appearance (a repeat is not a new arrival).
            if (lastShown is null || frame.Number > lastShown)
            {
                var endToEnd = f.ArrivalUs / 1000.0 - frame.SentMs;
                latency.Add(endToEnd);
                if (direct is not null) { if (direct.TryGetValue(frame.Key, out var directUs)) added.Add((f.ArrivalUs - directUs) / 1000.0); }
                else if (directLatencyMs is { } typical) added.Add(endToEnd - typical);
                if (f.FirstPacketUs is { } firstUs) firstPacket.Add(firstUs / 1000.0 - frame.SentMs);
                lastShown = frame.Number;
            }
            if (held is { } h && h.Number == frame.Number && f.Pts!.Value > h.Since) held = h with { Until = f.Pts.Value };
            else
            {
                if (held is { } done && frame.Number > done.Number) longestHeldNs = Math.Max(longestHeldNs, done.Until - done.Since);
                held = (frame.Number, f.Pts!.Value, f.Pts.Value);
            }
            previous = (f.Pts!.Value, frame);
        }
        var expected = (int)Math.Ceiling(intervals * Math.Max(0, 1 - ratio) - 1e-9);
        return new BoxTiming(box.Name, box.Input, box.InputFps, outputFps, read, unreadable, intervals, repeats, expected,
            skips, skipped, backwards, gaps, latency, added, longestHeldNs / 1e6,
            firstPacket.Count == latency.Count ? firstPacket : null, events);
    }
}

/// <summary>Where each box of a bus shows its feed's whole picture, for the stamp reader.</summary>
public static class StampBoxes
{
    /// <summary>
    /// The boxes of <paramref name="bus"/>'s layout, in layout order, named "bus/index:input". Fill boxes
    /// take the whole rectangle; Contain boxes the centred rectangle of the feed's aspect ratio.
    /// </summary>
    public static IReadOnlyList<StampBox> Of(Pipeline.Scene.BusDefinition bus, Func<string, (int Width, int Height, double Fps)> feed) =>
        bus.Layout.Select((box, i) =>
        {
            if (box.Crop is not null) throw new ArgumentException($"box {i} of {bus.Name} is cropped: its stamp may be cut off");
            var (fw, fh, fps) = feed(box.Source);
            var (x, y, w, h) = (box.X, box.Y, box.Width, box.Height);
            if (box.Fit == Pipeline.Scene.Fit.Contain)
            {
                var scale = Math.Min((double)box.Width / fw, (double)box.Height / fh);
                (w, h) = ((int)Math.Round(fw * scale), (int)Math.Round(fh * scale));
                (x, y) = (box.X + (box.Width - w) / 2, box.Y + (box.Height - h) / 2);
            }
            return new StampBox($"{bus.Name}/{i}:{box.Source}", box.Source, fps, x, y, w, h);
        }).ToList();
}
