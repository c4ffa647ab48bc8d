using MixerWorker.Testbed.Reading;

namespace MixerWorker.Testbed.Stamps;

/// <summary>
/// An output's sound against its pictures over a measurement, from the first TS packet of each PES
/// (<see cref="PesArrival"/>). <paramref name="SoundBehindMs"/>/<paramref name="SoundAtMs"/>: each
/// sound PES's arrival behind its PTS, and when it arrived; the same for pictures. <paramref name="SoundAfterPictureMs"/>:
/// for each sound PES, how much later it arrived behind its PTS than the pictures around its PTS did
/// (interpolated between the two pictures whose PTS enclose it): sound of instant t reaching the
/// reader that much after the picture of instant t. Its constant part is the two chains' own
/// latencies (encoders, the muxer's interleaving); what starvation adds is the question.
/// </summary>
public sealed record SoundTiming(
    IReadOnlyList<double> SoundBehindMs, IReadOnlyList<double> SoundAtMs,
    IReadOnlyList<double> PictureBehindMs, IReadOnlyList<double> PictureAtMs,
    IReadOnlyList<double> SoundAfterPictureMs)
{
    // Theil–Sen takes every pair: 40 s of sound is 2000 PES and two million slopes. A few hundred
    // evenly spread give the same median slope.
    private const int SlopePoints = 400;

    /// <summary>How much the sound's timeline falls behind per <paramref name="span"/> (as <see cref="TimingReport.TimelineGrowthPer"/> for pictures).</summary>
    public double? TimelineGrowthPer(TimeSpan span) => Slope.PerSpan(Thin(SoundAtMs), Thin(SoundBehindMs), span);

    /// <summary>The same slope for the pictures, from the raw TS: a cross-check of the stamp reader's.</summary>
    public double? PictureTimelineGrowthPer(TimeSpan span) => Slope.PerSpan(Thin(PictureAtMs), Thin(PictureBehindMs), span);

    /// <summary>
    /// The sound's own delay: each sound PES's arrival behind its PTS, a constant (the clocks' offset)
    /// plus what the worker, the hub and the network added; compared between two windows of one reader,
    /// the constant cancels.
    /// </summary>
    public double? SoundDelayP50 => BoxTiming.Percentile(SoundBehindMs, 0.50);
    public double? SoundDelayP95 => BoxTiming.Percentile(SoundBehindMs, 0.95);
    public double? SoundDelayMax => SoundBehindMs.Count == 0 ? null : SoundBehindMs.Max();

    /// <summary>
    /// The pictures' own delay, each picture PES's arrival behind its PTS (as <see cref="SoundDelayP50"/>
    /// for sound): compared between two windows of one reader, how much later the bus's pictures are.
    /// </summary>
    public double? PictureDelayP50 => BoxTiming.Percentile(PictureBehindMs, 0.50);
    public double? PictureDelayP95 => BoxTiming.Percentile(PictureBehindMs, 0.95);

    public double? SoundAfterPictureP50 => BoxTiming.Percentile(SoundAfterPictureMs, 0.50);
    public double? SoundAfterPictureP95 => BoxTiming.Percentile(SoundAfterPictureMs, 0.95);
    /// <summary>The tail (1 % of 40 s is 0.4 s of sound): sound held for a picture that never came shows here, not in p95.</summary>
    public double? SoundAfterPictureP99 => BoxTiming.Percentile(SoundAfterPictureMs, 0.99);
    /// <summary>The largest, for the assertion's message: one late burst shows here and not in p95.</summary>
    public double? SoundAfterPictureMax => SoundAfterPictureMs.Count == 0 ? null : SoundAfterPictureMs.Max();

    private static List<double> Thin(IReadOnlyList<double> v) =>
        v.Count <= SlopePoints ? [.. v] : [.. Enumerable.Range(0, SlopePoints).Select(i => v[(int)((long)i * (v.Count - 1) / (SlopePoints - 1))])];

    /// <param name="span">The span the timeline's growth is given per.</param>
    /// <param name="against">A window of the same reader to read the sound's delay against: its clocks'
    /// offset cancels there. Without one, the delay is read against its own p50.</param>
    public string Describe(TimeSpan span, SoundTiming? against = null) =>
        $"sound: {SoundBehindMs.Count} PES, timeline growth per {span.TotalSeconds:0} s {Ms(TimelineGrowthPer(span))} ms " +
        $"(pictures from the TS: {PictureBehindMs.Count} PES, {Ms(PictureTimelineGrowthPer(span))} ms, longest wait for one {Ms(LongestGapMs(PictureAtMs))} ms; " +
        $"sound's {Ms(LongestGapMs(SoundAtMs))} ms); " +
        DescribeDelay(against) +
        $"sound after its pictures p50/p95/p99/max {Ms(SoundAfterPictureP50)}/{Ms(SoundAfterPictureP95)}/{Ms(SoundAfterPictureP99)}/{Ms(SoundAfterPictureMax)} ms ({SoundAfterPictureMs.Count} sound PES between pictures)";

    // The delay's absolute value holds the offset between the sender's and the reader's clocks, so only a difference means anything.
    private string DescribeDelay(SoundTiming? against)
    {
        var (zero, what) = against is null ? (SoundDelayP50, "its own p50") : (against.SoundDelayP50, "the other window's p50");
        if (zero is not { } z) return "delay -; ";
        string Off(double? v) => v is { } x ? $"{x - z:+0;-0;0}" : "-";
        return $"delay p50/p95/max {Off(SoundDelayP50)}/{Off(SoundDelayP95)}/{Off(SoundDelayMax)} ms against {what}; ";
    }

    private static double? LongestGapMs(IReadOnlyList<double> atMs) =>
        atMs.Count < 2 ? null : atMs.Zip(atMs.Skip(1), (a, b) => b - a).Max();

    private static string Ms(double? v) => v is { } x ? x.ToString("0") : "-";
}

public static class SoundAnalysis
{
    /// <summary>
    /// Sound PES further than this from any picture (by PTS) have no picture of their instant to be
    /// compared with: the bus made none near it (at start, or a reconnection).
    /// </summary>
    private static readonly double MostPictureGapMs = 2000;

    /// <summary>
    /// Analyses the PES arrivals of one output, in the order they arrived. Each stream's longest
    /// stretch of rising PTS counts (a reconnection restarts PTS).
    /// </summary>
    public static SoundTiming Analyse(IReadOnlyList<PesArrival> arrivals)
    {
        var sound = Longest(arrivals.Where(a => a.Sound));
        var pictures = Longest(arrivals.Where(a => !a.Sound));
        static double Behind(PesArrival a) => a.ArrivalUs / 1000.0 - a.PtsNs / 1e6;
        var pictureBehind = pictures.Select(Behind).ToList();
        var pictureAt = pictures.Select(p => p.PtsNs).ToList();
        var after = new List<double>();
        foreach (var s in sound)
        {
            // The first picture at or after the sound's PTS, and the one before it.
            var j = pictureAt.BinarySearch(s.PtsNs);
            if (j < 0) j = ~j;
            if (j == pictureAt.Count || (j == 0 && pictureAt[0] != s.PtsNs)) continue;
            var i = pictureAt[j] == s.PtsNs ? j : j - 1;
            if ((pictureAt[j] - pictureAt[i]) / 1e6 > MostPictureGapMs) continue;
            var w = i == j ? 0 : (double)(s.PtsNs - pictureAt[i]) / (pictureAt[j] - pictureAt[i]);
            after.Add(Behind(s) - (pictureBehind[i] + w * (pictureBehind[j] - pictureBehind[i])));
        }
        return new SoundTiming(
            [.. sound.Select(Behind)], [.. sound.Select(s => s.ArrivalUs / 1000.0)],
            pictureBehind, [.. pictures.Select(p => p.ArrivalUs / 1000.0)], after);
    }

    private static List<PesArrival> Longest(IEnumerable<PesArrival> stream)
    {
        List<PesArrival> longest = [], run = [];
        foreach (var a in stream)
        {
            if (run.Count > 0 && a.PtsNs <= run[^1].PtsNs) run = [];
            run.Add(a);
            if (run.Count > longest.Count) longest = run;
        }
        return longest;
    }
}
