using MixerWorker.Testbed.Stamps;
using Xunit;

namespace MixerWorker.Pipeline.Tests.Stamps;

/// <summary>The per-box analysis on made-up sequences whose right answers are known.</summary>
public sealed class StampAnalysisTests
{
    private const double OutFps = 30;
    private const long T0Ms = 1_700_000_000_000;

    /// <summary>An output of <paramref name="count"/> pictures at 30 fps whose one box shows input frame shown(i), captured at inFps, arriving latencyMs after capture.</summary>
    private static List<StampedFrame> Output(int count, double inFps, Func<int, long?> shown, double latencyMs = 200)
    {
        var frames = new List<StampedFrame>();
        for (var i = 0; i < count; i++)
        {
            var n = shown(i);
            var outputTimeMs = T0Ms + i * 1000 / OutFps;
            StampRead? read = n is { } v ? new StampRead(FrameStamp.At(v, Sent(v, inFps)), 100) : null;
            frames.Add(new StampedFrame((ulong)(i * 1e9 / OutFps), (long)((outputTimeMs + latencyMs) * 1000), [read]));
        }
        return frames;
    }

    private static long Sent(long n, double fps) => T0Ms + (long)(n * 1000 / fps);

    private static TimingReport Timeline(List<StampedFrame> frames) =>
        StampAnalysis.Analyse(frames, [new StampBox("box", "cam-a", 30, 0, 0, 160, 90)], OutFps);

    private static BoxTiming One(List<StampedFrame> frames, double inFps, IReadOnlyDictionary<string, IReadOnlyList<StampedFrame>>? direct = null) =>
        StampAnalysis.Analyse(frames, [new StampBox("box", "cam-a", inFps, 0, 0, 160, 90)], OutFps, direct).Boxes.Single();

    [Fact]
    public void Thirty_into_thirty_shows_every_frame_once()
    {
        var b = One(Output(300, 30, i => i), 30);
        Assert.Equal((299, 0, 0, 0), (b.Intervals, b.Repeats, b.ExpectedRepeats, b.Skips));
        Assert.True(b.IsSmooth(0));
    }

    [Fact]
    public void Twenty_five_into_thirty_needs_one_repeat_in_six_and_no_more()
    {
        var b = One(Output(300, 25, i => (long)Math.Floor(i * 25 / 30.0)), 25);
        Assert.Equal(50, b.ExpectedRepeats); // ceil(299 / 6)
        Assert.InRange(b.Repeats, 49, 50);
        Assert.Equal(0, b.Skips);
        Assert.True(b.IsSmooth(0));
    }

    [Fact]
    public void Sixty_into_thirty_shows_every_other_frame_and_a_lost_pair_is_a_skip()
    {
        var smooth = One(Output(300, 60, i => 2L * i), 60);
        Assert.Equal((0, 0, 0), (smooth.Repeats, smooth.ExpectedRepeats, smooth.Skips));
        Assert.True(smooth.IsSmooth(0));

        var lost = One(Output(300, 60, i => 2L * i + (i >= 100 ? 2 : 0)), 60);
        Assert.Equal((1, 2), (lost.Skips, lost.SkippedFrames));
        Assert.False(lost.IsSmooth(1));
        Assert.True(lost.IsSmooth(2));
    }

    [Fact]
    public void Pictures_the_engine_left_out_or_moved_on_purpose_are_allowed_once_each_and_corrections_no_more_than_asked()
    {
        // One picture left out at frames 100 and 200 each, then the box one frame behind from 250 on (a repeat).
        var b = One(Output(300, 30, i => i < 100 ? i : i < 200 ? i + 1 : i < 250 ? i + 2 : i + 1), 30);
        Assert.Equal((1, 2), (b.ExcessRepeats, b.SkippedFrames));
        Assert.False(b.IsSmooth(0, repeats: 1));
        Assert.False(b.IsSmoothBesidesDeliberate(0, repeats: 1));
        Assert.True((b with { LatePictures = 2 }).IsSmoothBesidesDeliberate(0, repeats: 1));
        // Two timeline corrections of 10 ms each: one frame each; counted once, they explain only one of the skips.
        var moved = b with { LatePictures = 0, TimelineMoves = (2, 20) };
        Assert.True(moved.IsSmoothBesidesDeliberate(0, repeats: 1));
        Assert.False(moved.IsSmoothBesidesDeliberate(0, repeats: 1, corrections: 1));

        var repeatOnly = One(Output(300, 30, i => i < 250 ? i : i - 1), 30);
        Assert.True(repeatOnly.IsSmooth(0, repeats: 1));
        Assert.False(repeatOnly.IsSmooth(0));
    }

    [Fact]
    public void A_late_picture_of_a_sixty_fps_input_is_allowed_the_two_frames_it_costs_and_its_one_repeat()
    {
        // Output frame 100's picture (input frame 200) came late: the box shows 198 again, then 202.
        var b = One(Output(300, 60, i => i == 100 ? 198 : 2L * i), 60);
        Assert.Equal((1, 1, 2), (b.ExcessRepeats, b.Skips, b.SkippedFrames));
        var counted = b with { LatePictures = 1 };
        Assert.Equal((1, 2), (counted.Deliberate(), counted.DeliberateSkipped()));
        Assert.True(counted.IsSmoothBesidesDeliberate(0));
        Assert.False((b with { LatePictures = 0 }).IsSmoothBesidesDeliberate(0, repeats: 1));
        // A second picture lost the same way, not counted, is not covered by the first's allowance.
        var two = One(Output(300, 60, i => i is 100 or 200 ? 2L * i - 2 : 2L * i), 60);
        Assert.Equal((2, 4), (two.ExcessRepeats, two.SkippedFrames));
        Assert.False((two with { LatePictures = 1 }).IsSmoothBesidesDeliberate(0, repeats: 1));
        Assert.True((two with { LatePictures = 2 }).IsSmoothBesidesDeliberate(0));
    }

    [Fact]
    public void A_box_that_holds_a_future_frame_and_drops_the_rest_repeats_and_skips()
    {
        // What issue 9 saw: the picture changes every third output frame, by three input frames.
        var b = One(Output(300, 30, i => i / 3 * 3L), 30);
        Assert.Equal(200, b.Repeats);
        Assert.Equal(99, b.Skips);
        Assert.Equal(198, b.SkippedFrames);
        Assert.InRange(b.RepeatShare, 0.66, 0.67);
        Assert.False(b.IsSmooth(2));
    }

    [Fact]
    public void On_a_bus_making_one_frame_in_four_a_held_picture_repeats_and_one_repeat_is_not_all_of_them()
    {
        // A shedding bus: every fourth frame, and once two frames one apart (where its share changed).
        static List<StampedFrame> Shed(Func<int, long?> shown) => [.. Output(200, 30, shown).Where((_, i) => i % 4 == 0 || i == 51)];

        var moving = One(Shed(i => i == 52 ? 51 : i), 30); // the one pair one frame apart repeats
        Assert.Equal((1, 49, 1), (moving.Intervals, moving.OutputGaps, moving.Repeats));
        Assert.InRange(moving.RepeatShare, 0.019, 0.021);

        var frozen = One(Shed(i => Math.Min(i, 40)), 30); // one picture from frame 40 on, across every gap
        Assert.Equal(40, frozen.Repeats);
        Assert.False(frozen.IsSmooth(2));

        // A 5 fps input moves in fewer than four output frames' time: keeping its picture across a gap is no repeat.
        var slow = One(Shed(i => i / 6), 5);
        Assert.Equal((0, 0), (slow.ExcessRepeats, slow.Skips));
        Assert.True(slow.IsSmooth(0));
    }

    [Fact]
    public void Going_back_in_time_is_never_smooth_and_unreadable_pictures_break_the_count()
    {
        var back = One(Output(60, 30, i => i == 30 ? 25 : i), 30);
        Assert.Equal(1, back.Backwards);
        Assert.False(back.IsSmooth(5));

        var holes = One(Output(60, 30, i => i % 10 == 5 ? null : i), 30);
        Assert.Equal((54, 6), (holes.Frames, holes.Unreadable));
        Assert.Equal(59 - 12, holes.Intervals); // each hole removes the two intervals around it
        Assert.True(holes.IsSmooth(0));
    }

    [Fact]
    public void A_new_connection_restarting_pts_starts_the_count_afresh()
    {
        var frames = Output(60, 30, i => i);
        var reconnected = Output(30, 30, i => 70 + i).Select(f => f with { ArrivalUs = f.ArrivalUs + 2_330_000 });
        var b = One([.. frames, .. reconnected], 30);
        Assert.Equal((59 + 29, 0, 0), (b.Intervals, b.Skips, b.Repeats)); // the 10 frames lost in between are no skip
    }

    [Fact]
    public void A_frame_the_reader_missed_is_an_output_gap_not_a_skip()
    {
        var frames = Output(60, 30, i => i);
        frames.RemoveAt(20);
        var b = One(frames, 30);
        Assert.Equal((1, 0, 0), (b.OutputGaps, b.Skips, b.Repeats));
    }

    [Fact]
    public void Latency_counts_each_input_frame_once_and_the_worker_adds_the_difference_to_the_direct_path()
    {
        var output = Output(90, 25, i => (long)Math.Floor(i * 25 / 30.0), latencyMs: 260);
        // A reader of the feed itself gets frame n 110 ms after its capture.
        var direct = Enumerable.Range(0, 80).Select(n => new StampedFrame((ulong)(n * 40_000_000L), (Sent(n, 25) + 110) * 1000,
            [new StampRead(FrameStamp.At(n, Sent(n, 25)), 100)])).ToList();
        var b = One(output, 25, new Dictionary<string, IReadOnlyList<StampedFrame>> { ["cam-a"] = direct });
        Assert.Equal(75, b.LatencyMs.Count); // 90 output frames show input frames 0..74
        Assert.Equal(b.LatencyMs.Count, b.WorkerAddedMs.Count);
        // Output arrival = output time + 260 ms, and a frame is first shown up to one output frame after its capture.
        Assert.All(b.LatencyMs, ms => Assert.InRange(ms, 259, 260 + 1000 / 30.0 + 1));
        Assert.All(b.WorkerAddedMs, ms => Assert.InRange(ms, 149, 150 + 1000 / 30.0 + 1));
    }

    [Fact]
    public void A_box_whose_feed_has_no_direct_reader_is_measured_against_the_direct_path_median()
    {
        var output = Output(60, 30, i => i, latencyMs: 300).Select(f => f with { Boxes = [f.Boxes[0], f.Boxes[0]] }).ToList();
        var direct = Enumerable.Range(0, 60).Select(n => new StampedFrame((ulong)(n * 33_333_333L), (Sent(n, 30) + 100) * 1000,
            [new StampRead(FrameStamp.At(n, Sent(n, 30)), 100)])).ToList();
        var report = StampAnalysis.Analyse(output, [new StampBox("a", "cam-a", 30, 0, 0, 160, 90), new StampBox("b", "cam-b", 30, 0, 0, 160, 90)],
            OutFps, new Dictionary<string, IReadOnlyList<StampedFrame>> { ["cam-a"] = direct });
        // Both boxes show the same stamps here; cam-b's latency is taken against cam-a's typical path.
        Assert.All(report.Boxes, b => Assert.InRange(b.WorkerAddedP50!.Value, 199, 201));
    }

    [Fact]
    public void Stamps_of_a_feed_sent_from_a_file_are_moved_so_that_every_reader_unwraps_them_alike()
    {
        // Made 65.3 s before it was sent: the direct reader (100 ms after sending) reads the stamps 65.4 s old, the
        // bus (400 ms) 65.7 s, past what 16 bits of milliseconds hold, so the two unwrap a picture 65 s apart.
        StampRead Stamp(long n) => new(FrameStamp.At(n, Sent(n, 30) - 65_336), 100);
        var direct = Enumerable.Range(0, 60).Select(n => new StampedFrame((ulong)(n * 33_333_333L), (Sent(n, 30) + 100) * 1000, [Stamp(n)])).ToList();
        var output = Enumerable.Range(0, 60).Select(i => new StampedFrame((ulong)(i * 1e9 / OutFps), (Sent(i, 30) + 400) * 1000, [Stamp(i)])).ToList();
        Assert.Empty(One(output, 30, new Dictionary<string, IReadOnlyList<StampedFrame>> { ["cam-a"] = direct }).WorkerAddedMs);

        var shift = StampAnalysis.StampTimeShift(direct);
        var b = One([.. StampAnalysis.ShiftStampTimes(output, [shift])], 30,
            new Dictionary<string, IReadOnlyList<StampedFrame>> { ["cam-a"] = StampAnalysis.ShiftStampTimes(direct, [shift]) });
        Assert.Equal(60, b.WorkerAddedMs.Count);
        Assert.All(b.WorkerAddedMs, ms => Assert.Equal(300, ms, 1));
        Assert.All(b.LatencyMs, ms => Assert.Equal(1300, ms, 1)); // the direct path reads 1 s after the move, the bus 300 ms more
        Assert.True(b.IsSmooth(0), b.ToString());
    }

    [Fact]
    public void A_bus_whose_timeline_stretches_shows_its_lag_growing()
    {
        // 20 s at 30 fps with every output frame timestamped on time but delivered 10 % late and later.
        var frames = Output(600, 30, i => i).Select((f, i) => f with { ArrivalUs = f.ArrivalUs + i * 3_333 }).ToList();
        Assert.InRange(One(frames, 30).LagGrowthMs!.Value, 1480, 1520); // 3.33 ms more per frame over 450 frames
        Assert.InRange(One(Output(600, 30, i => i), 30).LagGrowthMs!.Value, -1, 1);
    }

    [Fact]
    public void Timeline_growth_is_a_slope_that_shrugs_off_each_pictures_own_arrival_jitter()
    {
        // 40 s of a bus shed to 2 fps, each picture arriving up to 300 ms late by chance.
        var swing = new Random(7);
        var sparse = Output(1200, 30, i => i).Where((_, i) => i % 15 == 0)
            .Select(f => f with { ArrivalUs = f.ArrivalUs + swing.Next(0, 300_000) }).ToList();
        Assert.InRange(Timeline(sparse).TimelineGrowthPer(TimeSpan.FromSeconds(20))!.Value, -40, 40);
        // The same pictures on a timeline that stretches by 10 ms a second: 200 ms per 20 s.
        var stretching = sparse.Select((f, i) => f with { ArrivalUs = f.ArrivalUs + i * 5_000 }).ToList();
        Assert.InRange(Timeline(stretching).TimelineGrowthPer(TimeSpan.FromSeconds(20))!.Value, 160, 240);
    }

    [Fact]
    public void An_output_whose_timeline_stretches_falls_behind_and_one_that_drops_frames_does_not()
    {
        // 30 fps delivered 10 % late and later: 3.33 ms more every 36.7 ms of the reader's time.
        var stretching = Output(600, 30, i => i).Select((f, i) => f with { ArrivalUs = f.ArrivalUs + i * 3_333 }).ToList();
        Assert.InRange(Timeline(stretching).TimelineGrowthPer(TimeSpan.FromSeconds(20))!.Value, 1810, 1830);
        // Two frames in three dropped, those kept on time, their pictures ever older (a late input).
        var dropping = Output(600, 30, i => i).Where((_, i) => i % 3 == 0).Select((f, i) => f with { Boxes = [new StampRead(FrameStamp.At(i, Sent(i, 30) - i * 10), 100)] }).ToList();
        var report = Timeline(dropping);
        Assert.InRange(report.TimelineGrowthPer(TimeSpan.FromSeconds(20))!.Value, -1, 1);
        Assert.True(report.Boxes[0].LagGrowthMs > 100);
    }

    [Fact]
    public void The_output_pace_is_reported()
    {
        var frames = Output(91, 30, i => i);
        frames.RemoveRange(40, 5); // a stall: 6 frame intervals without a picture
        var report = StampAnalysis.Analyse(frames, [new StampBox("box", "cam-a", 30, 0, 0, 160, 90)], OutFps);
        Assert.Equal(86, report.OutputFrames);
        Assert.Equal(3.0, report.SpanSeconds, 2);
        Assert.Equal(200, report.MaxArrivalGapMs, 0);
        Assert.Equal(85 / 3.0, report.DeliveredFps, 1);
    }

    [Fact]
    public void A_box_that_freezes_holds_its_picture_for_the_frozen_span_and_a_moving_one_for_none()
    {
        Assert.Equal(0, One(Output(300, 30, i => i), 30).LongestHeldMs);
        // Frame 100's picture stays on air until output frame 190: 90 frames, 3 s.
        var frozen = One(Output(300, 30, i => i is >= 100 and < 190 ? 100 : i), 30);
        Assert.InRange(frozen.LongestHeldMs, 2966, 2967);
    }

    [Fact]
    public void Lag_growth_is_measured_to_the_first_packet_where_every_picture_has_one()
    {
        // Frames leave the demuxer ever later (a gap to the next frame that widens from 200 to 500 ms)
        // while their first packets arrive 200 ms after capture throughout.
        var frames = Output(120, 30, i => i).Select((f, i) => f with
        {
            ArrivalUs = f.ArrivalUs + (i < 60 ? 200_000 : 500_000),
            FirstPacketUs = f.ArrivalUs,
        }).ToList();
        Assert.InRange(One(frames, 30).LagGrowthMs!.Value, -1, 1);
        Assert.InRange(One([.. frames.Select(f => f with { FirstPacketUs = null })], 30).LagGrowthMs!.Value, 299, 301);
    }

    [Fact]
    public void The_first_packet_of_a_frame_is_found_by_its_pts_on_the_demuxers_timeline()
    {
        // Video PES at PTS 10.0 s (170 bytes of payload), then 10.5 s (354), 11.0 s (538) and 11.5 s in one piece (a
        // reader catching up), arriving at 1 and 2 s. The demuxer, whose timeline starts at 9.9 s of the stream's, hands
        // on the frame of 10.5 s first: it is neither the one before the newest start nor the first start.
        var first = new MixerWorker.Testbed.Reading.FirstPackets();
        first.Note(VideoPes(900_000, 0), 1_000_000);
        first.Note([.. VideoPes(945_000, 1), .. VideoPes(990_000, 2), .. VideoPes(1_035_000, 0)], 2_000_000);
        Assert.Null(first.Of(600_000_000));
        first.Handed(600_000_000, 354);
        Assert.Equal(2_000_000, first.Of(600_000_000));
        Assert.Equal(1_000_000, first.Of(100_000_000));
        Assert.Equal(2_000_000, first.Of(1_600_000_000));
        Assert.Null(first.Of(2_100_000_000));

        // Two PES of the same size: the frame handed on is not known by it.
        var same = new MixerWorker.Testbed.Reading.FirstPackets();
        same.Note([.. VideoPes(900_000, 1), .. VideoPes(945_000, 1)], 1_000_000);
        same.Handed(100_000_000, 354);
        Assert.Null(same.Of(100_000_000));
    }

    /// <summary>A video PES starting at <paramref name="pts90k"/>, with <paramref name="more"/> packets after its first.</summary>
    private static byte[] VideoPes(long pts90k, int more)
    {
        var pes = new List<byte>(VideoPesStart(pts90k));
        for (var k = 0; k < more; k++)
        {
            var p = new byte[188];
            p[0] = 0x47; p[1] = 0x01; p[2] = 0x00; p[3] = 0x10; // PID 0x100, payload only
            pes.AddRange(p);
        }
        return [.. pes];
    }

    private static byte[] VideoPesStart(long pts90k) => SoundAnalysisTests.PesStart(0xE0, pts90k);
}
