using MixerWorker.Pipeline.Sources;
using Xunit;
using static MixerWorker.Pipeline.Sources.InputTimeline;

namespace MixerWorker.Pipeline.Tests.Unit;

/// <summary>
/// How an input's timestamps are placed on the mixer's running time: a 30 fps input whose frames
/// leave the decoder on a clock of our own, with the lead, jitter and jumps real publishers have.
/// </summary>
public sealed class InputTimelineTests
{
    private const ulong Ms = 1_000_000;
    private const long SignedMs = 1_000_000;
    private const ulong Frame = 33_333_333;
    private static readonly TimeSpan Jitter = TimeSpan.FromMilliseconds(60);

    /// <summary>Feeds video frames i = from..to-1 with stamps start + i·frame, leaving the decoder at at + i·frame + late(i).</summary>
    private static List<Placement> Video(InputTimeline t, int from, int to, ulong stampStart, ulong at, Func<int, long>? late = null) =>
        [.. Enumerable.Range(from, to - from).Select(i =>
            t.Place(Track.Video, stampStart + (ulong)i * Frame, (ulong)((long)(at + (ulong)i * Frame) + (late?.Invoke(i) ?? 0))))];

    private static ulong Due(ulong stamp, Placement p) => (ulong)((long)stamp + p.OffsetNs);

    // An AAC frame: 1024 samples at 48 kHz.
    private const ulong SoundFrame = 21_333_333;

    /// <summary>
    /// Interleaves 30 fps pictures that leave the decoder on time with sound whose publisher packed
    /// <paramref name="perPes"/> frames to a PES: each PES leaves once its last frame is made, plus
    /// <paramref name="late"/> of the network, and its frames come out of the decoder 0.1 ms apart.
    /// Returns each sound frame's lateness on the mixer's timeline (ns) as it came out, from <paramref name="from"/> on.
    /// </summary>
    private static List<long> PackedSound(InputTimeline t, TimeSpan length, int perPes, TimeSpan from, Func<int, long>? late = null) =>
        PackedSound(t, length, _ => perPes, from, late);

    /// <summary>As above, PES number n holding <paramref name="framesOf"/>(n) frames; each change of the offset goes into <paramref name="changes"/> with when it came.</summary>
    private static List<long> PackedSound(InputTimeline t, TimeSpan length, Func<int, int> framesOf, TimeSpan from, Func<int, long>? late = null,
        List<(TimeSpan At, Change Change)>? changes = null)
    {
        const ulong stampStart = 10_000 * Ms, start = 1_000 * Ms;
        var events = new List<(ulong At, Track Track, ulong Stamp)>();
        for (ulong i = 0; i * Frame < (ulong)length.Ticks * 100; i++) events.Add((start + i * Frame, Track.Video, stampStart + i * Frame));
        var first = 0UL;
        for (var pes = 0; first * SoundFrame < (ulong)length.Ticks * 100; pes++)
        {
            var frames = (ulong)framesOf(pes);
            var sentAt = start + (first + frames) * SoundFrame + (ulong)(late?.Invoke(pes) ?? 0);
            for (var k = 0UL; k < frames; k++)
                events.Add((sentAt + k * 100_000, Track.Audio, stampStart + (first + k) * SoundFrame));
            first += frames;
        }
        var lateness = new List<long>();
        foreach (var (at, track, stamp) in events.OrderBy(e => e.At))
        {
            var p = t.Place(track, stamp, at);
            if (p.Change is { } change) changes?.Add((TimeSpan.FromTicks((long)(at - start) / 100), change));
            if (track == Track.Audio && p.Keep && at >= start + (ulong)from.Ticks * 100) lateness.Add((long)at - (long)Due(stamp, p));
        }
        return lateness;
    }

    [Fact]
    public void The_first_picture_is_due_as_it_leaves_its_decoder_whatever_lead_the_publisher_muxed_with()
    {
        foreach (var lead in new long[] { 700 * SignedMs, 100 * SignedMs, -80 * SignedMs })
        {
            var t = new InputTimeline(Jitter);
            const ulong now = 5_000 * Ms;
            var stamp = (ulong)((long)now + lead);
            var p = t.Place(Track.Video, stamp, now);
            Assert.True(p.Keep);
            Assert.Equal(now, Due(stamp, p));
            Assert.Equal(ChangeKind.Anchored, p.Change?.Kind);
            // The following frames keep their spacing exactly: one frame apart on the mixer's timeline.
            var next = Video(t, 1, 30, stamp, now);
            Assert.All(next, q => Assert.Equal(p.OffsetNs, q.OffsetNs));
        }
    }

    [Fact]
    public void Sound_waits_for_its_picture_and_then_moves_with_it()
    {
        var t = new InputTimeline(Jitter);
        Assert.False(t.Place(Track.Audio, 1_700 * Ms, 1_000 * Ms).Keep);
        var video = t.Place(Track.Video, 1_720 * Ms, 1_010 * Ms);
        var audio = t.Place(Track.Audio, 1_721 * Ms, 1_012 * Ms);
        Assert.True(audio.Keep);
        Assert.Equal(video.OffsetNs, audio.OffsetNs);
        Assert.Equal(1, t.HeldBack);
    }

    [Fact]
    public void An_input_with_sound_only_is_anchored_on_its_sound_after_a_second()
    {
        var t = new InputTimeline(Jitter);
        Assert.False(t.Place(Track.Audio, 2_000 * Ms, 1_000 * Ms).Keep);
        Assert.False(t.Place(Track.Audio, 2_500 * Ms, 1_500 * Ms).Keep);
        var p = t.Place(Track.Audio, 3_000 * Ms, 2_000 * Ms);
        Assert.True(p.Keep);
        Assert.Equal(2_000 * Ms, Due(3_000 * Ms, p));
    }

    [Fact]
    public void Ordinary_jitter_never_moves_the_timeline()
    {
        var t = new InputTimeline(Jitter);
        var rnd = new Random(7);
        // Ten seconds of frames leaving the decoder 0-25 ms late, the anchor frame on time.
        var placed = Video(t, 0, 300, 10_000 * Ms, 1_000 * Ms, i => i == 0 ? 0 : rnd.Next(0, 25) * SignedMs);
        Assert.Single(placed.Select(p => p.OffsetNs).Distinct());
        Assert.Equal(0, t.Corrections);
    }

    [Fact]
    public void A_first_picture_that_came_out_late_is_corrected_within_the_first_window()
    {
        var t = new InputTimeline(Jitter);
        // The first picture (a keyframe, slow to decode) left 80 ms later than the rest will.
        var placed = Video(t, 0, 60, 10_000 * Ms, 1_000 * Ms, i => i == 0 ? 80 * SignedMs : 0);
        var corrected = placed.FindIndex(p => p.Change?.Kind == ChangeKind.Corrected);
        Assert.InRange(corrected, 15, 18); // the first window is half a second
        Assert.Equal(-80 * SignedMs, placed[corrected].Change!.Value.ByNs);
        // From then on the frames are due as they come out: no latency is wasted.
        var last = placed[^1];
        Assert.Equal(1_000 * Ms + 59 * Frame, Due(10_000 * Ms + 59 * Frame, last));
    }

    [Fact]
    public void Frames_that_keep_coming_out_late_move_the_timeline_later_once()
    {
        var t = new InputTimeline(Jitter);
        var placed = Video(t, 0, 200, 10_000 * Ms, 1_000 * Ms, i => i < 20 ? 0 : 45 * SignedMs);
        var corrections = placed.Where(p => p.Change?.Kind == ChangeKind.Corrected).ToList();
        Assert.Single(corrections);
        Assert.Equal(45 * SignedMs, corrections[0].Change!.Value.ByNs);
    }

    [Theory]
    [InlineData(-10_000)] // a file looping back ten seconds
    [InlineData(+5_000)]  // a publisher's clock leaping ahead
    [InlineData(-95_443_717)] // the 33-bit PTS wrapping (2^33 / 90 kHz s), as tsdemux does not unwrap in this case
    public void A_jump_in_the_timestamps_starts_a_new_timeline_at_once(long jumpMs)
    {
        var t = new InputTimeline(Jitter);
        var stamp0 = 100_000_000 * Ms;
        var before = Video(t, 0, 30, stamp0, 1_000 * Ms);
        var jumped = (ulong)((long)stamp0 + 30 * (long)Frame + jumpMs * SignedMs);
        var after = Video(t, 0, 30, jumped, 1_000 * Ms + 30 * Frame);
        Assert.Equal(ChangeKind.Jumped, after[0].Change?.Kind);
        Assert.Equal(1, t.Jumps);
        // The first frame after the jump is due one frame after the last one before it: no gap, no freeze.
        Assert.Equal(Due(stamp0 + 29 * Frame, before[^1]) + Frame, Due(jumped, after[0]));
        Assert.All(after.Skip(1), p => Assert.Null(p.Change));
    }

    [Fact]
    public void Sound_from_before_a_jump_is_dropped_and_sound_after_it_follows_the_new_timeline()
    {
        var t = new InputTimeline(Jitter);
        Video(t, 0, 30, 50_000 * Ms, 1_000 * Ms);
        var now = 1_000 * Ms + 30 * Frame;
        var jumped = t.Place(Track.Video, 40_000 * Ms, now);
        Assert.Equal(ChangeKind.Jumped, jumped.Change?.Kind);
        Assert.False(t.Place(Track.Audio, 50_000 * Ms + 30 * Frame, now + Ms).Keep);
        var audio = t.Place(Track.Audio, 40_000 * Ms + 2 * Ms, now + 2 * Ms);
        Assert.True(audio.Keep);
        Assert.Equal(jumped.OffsetNs, audio.OffsetNs);
    }

    [Fact]
    public void Sound_goes_on_while_the_picture_pauses()
    {
        var t = new InputTimeline(Jitter);
        Video(t, 0, 30, 50_000 * Ms, 1_000 * Ms);
        // The picture stops; its sound carries on for three seconds, in step with the clock.
        var lastVideo = 1_000 * Ms + 29 * Frame;
        for (var ms = 0; ms < 3_000; ms += 20)
            Assert.True(t.Place(Track.Audio, 50_000 * Ms + 29 * Frame + (ulong)ms * Ms, lastVideo + (ulong)ms * Ms).Keep);
    }

    [Fact]
    public void A_gap_without_a_jump_in_the_stamps_keeps_the_timeline()
    {
        var t = new InputTimeline(Jitter);
        var before = Video(t, 0, 30, 50_000 * Ms, 1_000 * Ms);
        // 400 ms of pictures lost on the way: the stamps go on where the clock is.
        var after = Video(t, 42, 60, 50_000 * Ms, 1_000 * Ms);
        Assert.All(after, p => Assert.Equal(before[0].OffsetNs, p.OffsetNs));
        Assert.Equal(0, t.Jumps);
    }

    [Fact]
    public void A_decoder_falling_ever_further_behind_does_not_drag_the_timeline_with_it()
    {
        var t = new InputTimeline(Jitter);
        // A starved machine: each frame leaves the decoder 10 ms later than the one before.
        var placed = Video(t, 0, 600, 10_000 * Ms, 1_000 * Ms, i => i * 10 * SignedMs);
        var moved = placed[^1].OffsetNs - placed[0].OffsetNs;
        Assert.InRange(moved, 1, 60 * SignedMs); // at most one jitter allowance later, whatever the delay
        // Once it catches up (the backlog leaves in a burst, then frames leave on time again), the
        // frames come early and the timeline comes back.
        var last = 1_000 * Ms + 599 * Frame + 5_990 * Ms;
        foreach (var i in Enumerable.Range(600, 180))
            t.Place(Track.Video, 10_000 * Ms + (ulong)i * Frame, last + (ulong)(i - 599) * Ms);
        var back = Video(t, 780, 980, 10_000 * Ms, 1_000 * Ms);
        Assert.Equal(placed[0].OffsetNs, back[^1].OffsetNs);
        Assert.Equal(0, t.Jumps);
    }

    [Fact]
    public void A_start_up_backlog_is_corrected_in_short_windows_and_the_timeline_then_settles()
    {
        var t = new InputTimeline(Jitter);
        // The decoder's first pictures leave in a backlog: the first 200 ms late, the following ones less
        // and less, on time from the 30th (a second in).
        var placed = Video(t, 0, 330, 10_000 * Ms, 1_000 * Ms, i => Math.Max(0, 200 - 7 * i) * SignedMs);
        var corrections = placed.Select((p, i) => (p, i)).Where(x => x.p.Change?.Kind == ChangeKind.Corrected).ToList();
        Assert.NotEmpty(corrections);
        // Every correction within the first ~1.5 s (short windows), none in the ten seconds after.
        Assert.All(corrections, c => Assert.InRange(c.i, 1, 50));
        Assert.True(t.Settled);
        Assert.Equal(1_000 * Ms + 329 * Frame, Due(10_000 * Ms + 329 * Frame, placed[^1]));
    }

    // How late each frame left its decoder against the due time its placement gave it.
    private static long Lateness(ulong stamp, ulong at, Placement p) => (long)at - (long)Due(stamp, p);

    [Fact]
    public void A_timeline_is_not_settled_while_the_process_is_still_busy_starting()
    {
        var t = new InputTimeline(Jitter);
        // A start-up backlog drains in the first half second; until 1.5 s in, the process is still busy starting
        // (encoders, the other inputs) and every picture leaves its decoder 30 ms later than it will from then on,
        // with 0-40 ms of jitter throughout.
        var rnd = new Random(11);
        long Late(int i) => Math.Max(i < 45 ? 30 : 0, 150 - 10 * i) + rnd.Next(0, 40);
        var late = Enumerable.Range(0, 450).Select(i => Late(i) * SignedMs).ToArray();
        var placed = new List<Placement>();
        int? settledAt = null;
        for (var i = 0; i < 450; i++)
        {
            placed.Add(t.Place(Track.Video, 10_000 * Ms + (ulong)i * Frame, 1_000 * Ms + (ulong)i * Frame + (ulong)late[i]));
            if (t.Settled) settledAt ??= i;
        }
        // Settled once the busy start is over, and not moved from then on (the old rule settled at one second,
        // then moved the timeline 30 ms earlier five seconds in).
        Assert.InRange(settledAt ?? -1, 45, 120);
        Assert.All(placed.Skip(settledAt!.Value + 1), p => Assert.Null(p.Change));
        // Where it settled, the earliest pictures are due as they come out: no latency wasted.
        var lows = Enumerable.Range(settledAt.Value + 1, 449 - settledAt.Value)
            .Min(i => Lateness(10_000 * Ms + (ulong)i * Frame, 1_000 * Ms + (ulong)i * Frame + (ulong)late[i], placed[i]));
        Assert.InRange(lows, -InputTimeline.MaxBandNs, InputTimeline.MaxBandNs);
    }

    [Fact]
    public void The_earliest_pictures_a_whole_window_has_place_the_timeline_before_it_settles()
    {
        var t = new InputTimeline(Jitter);
        // Pictures leave their decoder 20-49 ms late, and one in 37 (a quick one) 20 ms earlier than any of them:
        // the first half second holds none of the quick ones, every two-second window does.
        long Late(int i) => i % 37 == 20 ? 0 : 20 + i * 7 % 30;
        var placed = Video(t, 0, 450, 10_000 * Ms, 1_000 * Ms, i => Late(i) * SignedMs);
        var corrections = placed.Select((p, i) => (p, i)).Where(x => x.p.Change?.Kind == ChangeKind.Corrected).ToList();
        // One correction, at the end of the first whole window (2.5 s in), by the quick pictures' 20 ms; the old
        // rule settled after half a second and moved the timeline 4.5 s in, with the show on.
        var c = Assert.Single(corrections);
        Assert.InRange(c.i, 75, 76);
        Assert.Equal(-20 * SignedMs, c.p.Change!.Value.ByNs);
        Assert.True(t.Settled);
    }

    [Fact]
    public void A_machine_that_stalls_for_a_second_moves_no_settled_timeline()
    {
        var t = new InputTimeline(Jitter);
        // Settled on time; then every picture of one two-second window leaves its decoder 100-300 ms late
        // (a stalled machine), then on time again.
        var placed = Video(t, 0, 400, 10_000 * Ms, 1_000 * Ms, i => i is >= 75 and < 140 ? (100 + (i - 75) * 3) * SignedMs : 0);
        Assert.True(t.Settled);
        Assert.Single(placed.Select(p => p.OffsetNs).Distinct());
        Assert.Equal(0, t.Corrections);
    }

    [Fact]
    public void A_correction_earlier_gives_no_room_to_drag_the_timeline_later()
    {
        var t = new InputTimeline(Jitter);
        // Anchored on a first picture 200 ms late (corrected while settling), then the decoder falls ever
        // further behind: the timeline moves at most one jitter allowance later than where it settled.
        var placed = Video(t, 0, 600, 10_000 * Ms, 1_000 * Ms, i => i == 0 ? 200 * SignedMs : i < 60 ? 0 : (i - 60) * 10 * SignedMs);
        var settled = placed[59].OffsetNs;
        Assert.Equal(placed[0].OffsetNs - 200 * SignedMs, settled);
        Assert.InRange(placed[^1].OffsetNs - settled, 1, 60 * SignedMs);
    }

    [Fact]
    public void A_settled_timeline_follows_a_lasting_step_later_beyond_the_bound()
    {
        var t = new InputTimeline(Jitter);
        // Settled on time; then, from 5 s on, every picture leaves its decoder 600 ms later for good (with 0-30 ms
        // of jitter), keeping pace: a step, not a decoder falling behind. Bounded, the timeline would stay 540 ms
        // early and every picture of the input late for the rest of the show.
        var rnd = new Random(5);
        var late = Enumerable.Range(0, 900).Select(i => ((i < 150 ? 0 : 600) + rnd.Next(0, 30)) * SignedMs).ToArray();
        var placed = Video(t, 0, 900, 10_000 * Ms, 1_000 * Ms, i => late[i]);
        var steps = placed.Select((p, i) => (p, i)).Where(x => x.i >= 150 && x.p.Change?.Kind == ChangeKind.Corrected).ToList();
        // Followed within three windows of the step (two to see it, one for the window the step fell in).
        Assert.InRange(steps[^1].i, 150, 150 + 3 * 60 + 1);
        Assert.InRange(placed[^1].OffsetNs - placed[149].OffsetNs, 590 * SignedMs, 610 * SignedMs);
        // From then on the earliest pictures are due as they come out again.
        var lows = Enumerable.Range(steps[^1].i + 1, 899 - steps[^1].i)
            .Min(i => Lateness(10_000 * Ms + (ulong)i * Frame, (ulong)((long)(1_000 * Ms + (ulong)i * Frame) + late[i]), placed[i]));
        Assert.InRange(lows, -InputTimeline.MaxBandNs, InputTimeline.MaxBandNs);
    }

    [Fact]
    public void Sound_packed_several_frames_to_a_PES_is_all_on_time_within_the_first_second()
    {
        // ffmpeg's default muxing: 8 AAC frames (171 ms) a PES. Placed by its least late frames, the
        // first frames of every PES came 150 ms after their time, past the audio mixer's deadline.
        var t = new InputTimeline(Jitter);
        var lateness = PackedSound(t, TimeSpan.FromSeconds(10), perPes: 8, from: TimeSpan.FromSeconds(1));
        Assert.NotEmpty(lateness);
        Assert.InRange(lateness.Max(), 0, (long)(InputTimeline.MaxBandNs + Ms));
        Assert.InRange(t.Corrections, 1, 2);
    }

    [Fact]
    public void Sound_one_frame_to_a_PES_with_jitter_moves_the_timeline_once_for_its_frame_and_never_for_the_jitter()
    {
        // A frame can only be sent once it is made: the sound comes a frame after the pictures of its time.
        var t = new InputTimeline(Jitter);
        var rnd = new Random(11);
        var lateness = PackedSound(t, TimeSpan.FromSeconds(10), perPes: 1, from: TimeSpan.FromSeconds(1), late: i => i == 0 ? 0 : rnd.Next(0, 25) * SignedMs);
        Assert.Equal(1, t.Corrections);
        Assert.InRange(t.MovedNs, (long)SoundFrame - (long)Ms, (long)SoundFrame + (long)Ms);
        Assert.InRange(lateness.Max(), 0, 26 * SignedMs);
    }

    [Theory]
    [InlineData(5)]
    [InlineData(20)]
    [InlineData(50)]
    public void Packed_sound_whose_packets_hold_a_frame_more_or_less_moves_no_settled_timeline(int percentOfSeven)
    {
        // ffmpeg packs up to 2930 bytes: 8 AAC frames at 128 kb/s, 7 when they come out larger. A window whose
        // runs all held 8 frames found its earliest first frame a frame later than one that had a run of 7: placed
        // by the window's shortest run, a settled timeline moved 17-18 ms earlier and back, three times in 30 s with
        // one PES in 20 holding 7 (sound dropped as late, then a hole), mid-show. Sent with a few ms of network jitter.
        var t = new InputTimeline(Jitter);
        var rnd = new Random(5);
        var packing = Enumerable.Range(0, 1000).Select(_ => rnd.Next(100) < percentOfSeven ? 7 : 8).ToArray();
        var changes = new List<(TimeSpan At, Change Change)>();
        var lateness = PackedSound(t, TimeSpan.FromSeconds(30), pes => packing[pes], from: TimeSpan.FromSeconds(8), late: _ => rnd.Next(0, 5) * SignedMs, changes);
        Assert.True(t.Settled);
        // Settled within its first windows (0.5 s each, then a whole one of 2 s); then never moved.
        Assert.All(changes, c => Assert.True(c.At < TimeSpan.FromSeconds(5), $"moved by {c.Change.ByNs / 1e6:F1} ms at {c.At.TotalSeconds:F1} s"));
        // Every frame well within the jitter allowance: the longest packets' first frames a frame behind the shortest's.
        Assert.InRange(lateness.Max(), 0, (long)SoundFrame + 10 * SignedMs);
    }

    [Fact]
    public void A_sound_decoder_falling_ever_further_behind_in_bursts_does_not_drag_the_timeline_with_it()
    {
        var t = new InputTimeline(Jitter);
        // Two frames a PES, each PES 4 ms later than the one before (a starved machine): runs, but
        // their span is the packing's, 21 ms, and the rest of their lateness grows.
        var before = t.Place(Track.Video, 10_000 * Ms, 1_000 * Ms).OffsetNs;
        // (Eight seconds: past a second behind its pictures, sound is taken for another timeline's and dropped.)
        PackedSound(t, TimeSpan.FromSeconds(8), perPes: 2, from: TimeSpan.Zero, late: i => i * 4 * SignedMs);
        var moved = t.OffsetNs!.Value - before;
        Assert.InRange(moved, 1, 60 * SignedMs + (long)SoundFrame + SignedMs);
    }
}

