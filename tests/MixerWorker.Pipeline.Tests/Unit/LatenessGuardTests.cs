using MixerWorker.Pipeline.Builders;
using MixerWorker.Pipeline.Engine;
using Xunit;

namespace MixerWorker.Pipeline.Tests.Unit;

/// <summary>
/// A bus that cannot make all its frames drops them instead of stretching its timeline, reports the
/// episode once, and Program is protected by the other buses shedding frames. The compositor and the
/// clock are simulated: a machine that needs longer than a frame interval for each frame.
/// </summary>
public sealed class LatenessGuardTests
{
    private const ulong Ms = 1_000_000;
    private static readonly TimeSpan Latency = TimeSpan.FromMilliseconds(90);

    private sealed record Run(List<(ulong RunningTime, ulong At)> Delivered, long Dropped, List<LatenessGuard.Episode> Episodes);

    /// <summary>
    /// Runs a 30 fps bus for <paramref name="seconds"/> on a machine that needs <paramref name="costMs"/>
    /// to make each frame. The compositor starts a frame when its pictures are there (10 ms after its
    /// running time) and the machine is free; it honours the guard's skip requests, as QoS makes it
    /// do; the encoder works on its own thread. The guard is ticked every 250 ms, as the control
    /// thread does.
    /// </summary>
    private static Run Simulate(LatenessGuard guard, double costMs, double seconds, ulong start = 1_000 * Ms)
    {
        const ulong frame = 33_333_333;
        var delivered = new List<(ulong, ulong)>();
        var episodes = new List<LatenessGuard.Episode>();
        ulong runningTime = start, skipUntil = 0, now = start, nextTick = start;
        var end = start + (ulong)(seconds * 1e9);
        while (now < end)
        {
            if (runningTime >= skipUntil)
            {
                now = Math.Max(now, runningTime + 10 * Ms) + (ulong)(costMs * Ms);
                var verdict = guard.AtCompositor(runningTime, now);
                if (verdict.SkipUntilNs is { } until) skipUntil = until;
                if (verdict.Keep && guard.AtEncoder(runningTime, now)) delivered.Add((runningTime, now));
            }
            runningTime += frame;
            while (nextTick <= now)
            {
                if (guard.Tick(TimeSpan.FromTicks((long)(nextTick / 100))) is { } e) episodes.Add(e);
                nextTick += 250 * Ms;
            }
        }
        return new Run(delivered, guard.Dropped, episodes);
    }

    private static double Lag((ulong RunningTime, ulong At) f) => (f.At - f.RunningTime) / 1e6;

    [Fact]
    public void A_bus_that_keeps_up_drops_nothing_and_reports_nothing()
    {
        var run = Simulate(new LatenessGuard("program", 30, Latency), costMs: 20, seconds: 10);
        Assert.Equal(0, run.Dropped);
        Assert.Empty(run.Episodes);
        Assert.InRange(run.Delivered.Count, 299, 301);
    }

    [Fact]
    public void A_starved_bus_drops_frames_and_its_delay_never_grows()
    {
        // 50 ms a frame: the machine cannot make 30 fps.
        var guard = new LatenessGuard("aux1", 30, Latency);
        var run = Simulate(guard, costMs: 50, seconds: 20);
        var kept = run.Delivered.Skip(30).ToList(); // after the first second, which is never judged
        // Every frame that leaves is within its deadline plus two frame intervals.
        Assert.All(kept, f => Assert.InRange(Lag(f), 0, Latency.TotalMilliseconds + 2 * 33.4));
        // Lag growth over the run (last quarter's median against the first's) stays within 100 ms.
        var quarter = kept.Count / 4;
        double Median(IEnumerable<double> xs) { var s = xs.Order().ToList(); return s[s.Count / 2]; }
        var growth = Median(kept.TakeLast(quarter).Select(Lag)) - Median(kept.Take(quarter).Select(Lag));
        Assert.InRange(growth, -100, 100);
        // The output rate drops to what the machine can make instead.
        Assert.InRange(kept.Count / 19.0, 8, 21);
        Assert.True(run.Dropped > 50, $"dropped {run.Dropped}");
        // One episode, reported once (and not ended while it lasts).
        Assert.Equal(1, guard.Episodes);
        var first = Assert.Single(run.Episodes);
        Assert.True(first.First);
        Assert.False(first.Ended);
        Assert.InRange(first.DeliveredFps, 8, 21);
        Assert.True(guard.Dropping);
    }

    [Fact]
    public void Missed_counts_every_frame_due_that_did_not_reach_the_encoder_in_time_and_none_a_shedding_bus_leaves_out()
    {
        const double frameMs = 1000.0 / 30;
        var starved = new LatenessGuard("program", 30, Latency);
        var run = Simulate(starved, costMs: 50, seconds: 20);
        // Judged from the frame after the 30th, the first second's.
        var (first, last) = (run.Delivered[29], run.Delivered[^1]);
        var due = (long)Math.Round((last.RunningTime - first.RunningTime) / 1e6 / frameMs);
        var inTime = run.Delivered.Skip(30).Count(f => Lag(f) <= Latency.TotalMilliseconds + frameMs);
        Assert.InRange(starved.Missed, due - inTime - 3, due - inTime + 3);
        // The frames the compositor skipped count, which Dropped does not.
        Assert.True(starved.Missed > starved.Dropped + 100, $"missed {starved.Missed}, dropped {starved.Dropped}, due {due}, in time {inTime}");

        var keepsUp = new LatenessGuard("program", 30, Latency);
        Simulate(keepsUp, costMs: 20, seconds: 10);
        Assert.Equal(0, keepsUp.Missed);
        var shedding = new LatenessGuard("aux1", 30, Latency) { ShedEvery = 3 };
        Simulate(shedding, costMs: 5, seconds: 10);
        Assert.Equal(0, shedding.Missed);
    }

    [Fact]
    public void An_episode_ends_once_the_bus_keeps_up_again()
    {
        var guard = new LatenessGuard("program", 30, Latency);
        var starved = Simulate(guard, costMs: 50, seconds: 5);
        var calm = Simulate(guard, costMs: 10, seconds: 5, start: starved.Delivered[^1].At);
        Assert.Single(starved.Episodes);
        var end = Assert.Single(calm.Episodes);
        Assert.True(end.Ended);
        Assert.False(guard.Dropping);
        Assert.Equal(1, guard.Episodes);
    }

    [Fact]
    public void A_shedding_bus_makes_one_frame_in_n()
    {
        var guard = new LatenessGuard("aux1", 30, Latency) { ShedEvery = 3 };
        var run = Simulate(guard, costMs: 5, seconds: 10);
        var kept = run.Delivered.Skip(30).ToList();
        Assert.InRange(kept.Count, 85, 95); // 9 s at 10 fps
        Assert.All(kept, f => Assert.InRange(Lag(f), 0, Latency.TotalMilliseconds + 2 * 33.4));
    }

    [Fact]
    public void Sound_as_late_as_a_frame_may_be_passes_later_sound_is_dropped_counted_and_opens_an_episode()
    {
        var guard = new LatenessGuard("aux1", 30, Latency) { AudioLatency = TimeSpan.FromMilliseconds(100) };
        Simulate(guard, costMs: 10, seconds: 2); // arms the guard, as a bus's first second does
        const ulong buffer = 10 * Ms;
        ulong runningTime = 10_000 * Ms;
        // Within the audio mixer's latency plus two frame intervals: every buffer passes.
        for (var i = 0; i < 100; i++, runningTime += buffer)
            Assert.True(guard.AtAudio(runningTime, runningTime + 160 * Ms, (long)buffer));
        Assert.Equal(0, guard.AudioDroppedNs);
        Assert.Null(guard.Tick(TimeSpan.FromSeconds(100)));
        // 170 ms after its time is more than 100 + 66.7 ms: half a second of such sound goes.
        for (var i = 0; i < 50; i++, runningTime += buffer)
            Assert.False(guard.AtAudio(runningTime, runningTime + 170 * Ms, (long)buffer));
        Assert.Equal(500 * (long)Ms, guard.AudioDroppedNs);
        Assert.Equal(0, guard.Dropped);
        Assert.Null(guard.Tick(TimeSpan.FromSeconds(100.25)));
        var episode = guard.Tick(TimeSpan.FromSeconds(101.5));
        Assert.True(guard.Dropping);
        Assert.True(episode is { First: true, Dropped: 0 }, $"{episode}");
        Assert.Equal(500, episode!.Value.AudioDropped.TotalMilliseconds);
    }

    [Fact]
    public void Sound_dropped_late_counts_as_starved_only_where_the_chain_s_wait_for_a_cpu_made_it_too_late()
    {
        var guard = new LatenessGuard("aux1", 30, Latency) { AudioLatency = TimeSpan.FromMilliseconds(100) };
        Simulate(guard, costMs: 10, seconds: 2);
        const ulong buffer = 20 * Ms;
        ulong runningTime = 10_000 * Ms;
        // 250 ms after its time: 83.3 ms past what may pass (100 + 66.7). A thread that waited 84 ms or more
        // for a CPU would have been in time; one that waited 83 ms (held the rest, asleep) would not.
        foreach (var waitedMs in new long[] { 90, 84, 83, 0 })
        {
            Assert.False(guard.AtAudio(runningTime, runningTime + 250 * Ms, (long)buffer));
            guard.DroppedWhileStarved(runningTime, runningTime + 250 * Ms, (long)buffer, waitedMs * (long)Ms);
            runningTime += buffer;
        }
        Assert.Equal(80 * (long)Ms, guard.AudioDroppedNs);
        Assert.Equal(40 * (long)Ms, guard.AudioStarvedNs);
    }

    [Theory]
    [InlineData("858793 5051744 2\n", 5051744L)]
    [InlineData("0 0 0\n", 0L)]
    [InlineData("12 34", 34L)]
    [InlineData("12\n", null)]
    [InlineData("", null)]
    public void The_run_queue_wait_is_the_second_field_of_schedstat(string text, long? waited) =>
        Assert.Equal(waited, MixerWorker.Pipeline.Interop.RunQueueWait.SecondField(System.Text.Encoding.ASCII.GetBytes(text)));

    /// <summary>
    /// A bus making one frame in 15 whose input falls behind for a moment around one of those frames (eight
    /// pictures 130 ms after their running time, past the bus's 90 ms deadline; the rest 40 ms, as in the
    /// 720p + 7 AUX trace of bench/results/2026-12-01-2130-vm-shedding-aux-holds.md). Its pictures pass the shared
    /// scaler's demand filter as ScaledFeed passes them (the bus makes their frame, or Fallback), and at each
    /// frame it makes the compositor shows the newest picture that came before that frame's deadline. With only
    /// the made frames' own pictures, the late one missed its frame and the box kept the picture of the frame a
    /// shed period before: one picture for a second.
    /// </summary>
    [Fact]
    public void A_shedding_bus_whose_input_falls_late_for_a_moment_shows_the_newest_picture_in_time_and_an_input_in_time_costs_nothing_more()
    {
        const ulong frame = 33_333_333;
        const int first = 900, count = 300, hiccupAt = first + 150;
        var guard = new LatenessGuard("aux1", 30, Latency) { ShedEvery = LatenessGuard.MostShed };
        var deadline = (ulong)Latency.Ticks * 100;
        bool Late(int n) => n >= hiccupAt - 5 && n <= hiccupAt + 2;
        var pictures = Enumerable.Range(first, count)
            .Select(n => (N: n, RunningTime: (ulong)n * frame, Arrival: (ulong)n * frame + (Late(n) ? 130UL : 40UL) * Ms)).ToList();
        var passed = pictures.Where(p => guard.Makes(p.RunningTime) || guard.Fallback(p.RunningTime, p.Arrival)).ToList();

        foreach (var made in pictures.Where(p => guard.Makes(p.RunningTime)))
        {
            var shown = passed.Where(p => p.Arrival <= made.RunningTime + deadline && p.RunningTime <= made.RunningTime + frame / 2).MaxBy(p => p.N);
            Assert.True(made.N - shown.N <= LatenessGuard.FallbackFrames,
                $"the frame of picture {made.N} showed picture {shown.N} ({(ulong)(made.N - shown.N) * frame / Ms} ms older)");
        }
        // Pictures in time pass only for the frames the bus makes.
        Assert.Equal(pictures.Where(p => !Late(p.N) && guard.Makes(p.RunningTime)).Select(p => p.N), passed.Where(p => !Late(p.N)).Select(p => p.N));
    }

    [Fact]
    public void A_muxer_is_told_no_picture_can_come_before_the_oldest_one_the_bus_would_still_encode()
    {
        const ulong frame = 33_333_333;
        var guard = new LatenessGuard("aux1", 30, Latency) { ShedEvery = 15 };
        Simulate(guard, costMs: 5, seconds: 2); // arms the guard; its pictures never reach a muxer
        ulong made = 300 * frame, now = made + 2_000 * Ms;
        // Nothing reached the muxer yet: there is no picture to count on.
        Assert.Null(guard.NoPictureBefore(now));
        // A picture being encoded goes first, however long it takes.
        Assert.True(guard.AtEncoder(made, made + 100 * Ms));
        guard.ToMux(made - frame);
        Assert.Null(guard.NoPictureBefore(now));
        // It and the gap after it reach the muxer; the next slot's picture is dropped late.
        guard.ToMux(made);
        var after = made + guard.NothingAfter(made)!.Value.FromNs;
        guard.ToMux(after);
        var next = made + 15 * frame;
        Assert.False(guard.AtEncoder(next, next + (ulong)Latency.Ticks * 100 + 3 * frame));
        // While a picture after the gap could still be in time, there is nothing new to tell.
        now = after + (ulong)Latency.Ticks * 100 + (ulong)guard.MaxLateNs;
        Assert.Null(guard.NoPictureBefore(now));
        // Then the muxer learns, as time goes on, that none older than the oldest the encoder still takes can come.
        now += 20 * Ms;
        var until = guard.NoPictureBefore(now);
        Assert.Equal(after + 20 * Ms, until);
        Assert.True(guard.AtEncoder(until!.Value, now));
        Assert.False(guard.AtEncoder(until.Value - 1, now));
        // Told once: a second sound block at the same time tells nothing more, the next one 20 ms more.
        Assert.Null(guard.NoPictureBefore(now));
        Assert.Equal(after + 40 * Ms, guard.NoPictureBefore(now + 20 * Ms));
    }

    [Fact]
    public void A_bus_muxer_holds_what_arrives_while_the_bus_sheds_the_most()
    {
        // One frame in 15 at 30 fps: pictures half a second apart, and two frames to spare.
        Assert.Equal(LatenessGuard.MostShed, LoadShedding.Levels[^1]);
        Assert.Equal(567, LatenessGuard.LongestGap(30).TotalMilliseconds, 0);
    }
}
