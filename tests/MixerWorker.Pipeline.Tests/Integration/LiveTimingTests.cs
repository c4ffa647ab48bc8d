using MixerWorker.Testbed.Feeds;
using MixerWorker.Testbed.Stamps;
using MixerWorker.Testbed.Timing;
using Xunit;
using Xunit.Abstractions;

namespace MixerWorker.Pipeline.Tests.Integration;

/// <summary>
/// Issue 9: every input frame that arrives in time is shown, at its place in time. Moving feeds into
/// a 2x2 grid of a 30 fps bus, read back box by box: no repeat or skip beyond what the frame-rate
/// conversion needs (25 → 30 repeats one frame in six). The measurement starts once every input's
/// timeline has settled, so the start needs no tolerance.
/// </summary>
public sealed class LiveTimingTests(ITestOutputHelper output)
{
    // A settled show on an idle machine skips nothing: every skipped frame is a picture the engine counted as late. A
    // loaded machine now and then makes one box repeat a frame and skip the next with no picture counted late (one box
    // in 28 at load 9-10 on two cores, as CI's may be): one of each is let pass per box, no more.
    private const int SkipTolerance = 1, RepeatTolerance = 1;
    // A show the machine starved (the engine counted late pictures in some box) may show one picture it does not count
    // as lost one frame early or late (the compositor, late itself, takes a faster input's next picture, then repeats
    // it): one repeat and one picture's input frames (two of a 60 fps input) are let pass per box. Every picture the
    // engine loses on its way is counted (decoder, shared scaler, box, compositor).
    private const int StarvedTolerance = 1;
    // The tolerance of the case whose feed jumps: its timeline starts afresh and settles again within the measurement.
    private const int JumpTolerance = 2;
    private const double MostSettledMoveMs = 100;
    // A tone read in 40 ms stretches (its neighbours 110 Hz away stay out of it): a hole of 25 ms or so takes it 10 dB
    // below its level, a lost AAC frame (21 ms) centred in a stretch more; the limiter and the codec move it by a few dB.
    private static readonly TimeSpan ToneBlock = TimeSpan.FromMilliseconds(40);
    private const double ToneDipDb = 10;

    // A measurement taken on a machine that did not deliver (another process, the hypervisor, a stop) is taken again
    // (MotionRig.MeasureUntilAsync); a failure lists every measurement's machine readings.
    [Theory]
    [InlineData(30, 700)] // muxed like ffmpeg's default, as encoders and OBS publish
    [InlineData(25, 700)]
    [InlineData(30, 0)]   // a zero-delay muxer
    [InlineData(25, 0)]
    [InlineData(30, 100)] // behind MediaMTX, which remuxes with PCR = DTS - 100 ms
    [InlineData(60, 0)]   // a 60 fps input shows every other frame
    [InlineData(60, 700)]
    public async Task Every_input_frame_is_shown_once_on_a_30_fps_bus(int fps, int muxDelayMs)
    {
        var feeds = Enumerable.Range(0, 4).Select(i => MotionRig.Feed(i, fps, TimeSpan.FromMilliseconds(muxDelayMs))).ToList();
        await using var rig = await MotionRig.StartAsync(output, feeds, direct: false);
        await rig.MeasureUntilAsync(TimeSpan.FromSeconds(4), report => AssertSmooth(report));
    }

    [Fact]
    public async Task Every_input_frame_is_shown_once_when_the_feeds_pack_their_sound_as_ffmpeg_does()
    {
        // ffmpeg's default muxing in full, as encoders and OBS publish: the 700 ms lead and 8 AAC frames (171 ms) a PES,
        // so each feed's sound comes up to that much later than its pictures, in bursts (TsSoundPacker).
        await using var rig = await MotionRig.StartAsync(output, FfmpegMuxedFeeds(SoundPacking.FfmpegDefault), direct: false);
        await rig.MeasureUntilAsync(TimeSpan.FromSeconds(4), report => AssertSmooth(report));
    }

    // What must not move (issue 9): sound stays whole, however its publisher packs it. Each of four feeds' tones must be
    // in the bus's sound throughout, none of it thrown away for coming late.
    [Theory]
    [InlineData(SoundPacking.FramePerPes)]
    [InlineData(SoundPacking.FfmpegDefault)]
    public async Task The_bus_hears_every_feed_s_sound_whole(SoundPacking packing)
    {
        var feeds = FfmpegMuxedFeeds(packing);
        await using var rig = await MotionRig.StartAsync(output, feeds, direct: false);
        await rig.Output.Audio.WaitForAsync(TimeSpan.FromSeconds(20), TimeSpan.FromMilliseconds(500), w => w.RmsDb() > -30, "the four tones");
        // A timeline that settles moves its sound too (a hole or an overlap of the move's size): a live show is heard once
        // that is over, and a settled one moves only for a lasting stray.
        await rig.WaitForSettledTimelinesAsync(TimeSpan.FromSeconds(10));
        // The move that settled a timeline (its first whole window may move it earlier: sound dropped as late) is
        // heard at the reader up to half a second later, and dropped at the mixer within the allowance of it.
        await Task.Delay(TimeSpan.FromSeconds(1));

        var mixer = rig.Harness.Mixer!;
        var before = (await mixer.GetSoundDroppedLateAsync())[rig.Bus.Name];
        var inputsBefore = (await mixer.GetStatusAsync()).Inputs;
        var timelinesBefore = await mixer.GetSourceCountersAsync();
        var machineFrom = MachineShare.NowWithProbes();
        var sound = await rig.Output.Audio.RecordAsync(TimeSpan.FromSeconds(4));
        var machine = MachineShare.Since(machineFrom);
        var after = (await mixer.GetSoundDroppedLateAsync())[rig.Bus.Name];
        var inputsAfter = (await mixer.GetStatusAsync()).Inputs;
        var timelinesAfter = await mixer.GetSourceCountersAsync();
        // What the audio mixer dropped of each feed for coming after its time (the packed sound's 40 % once went there).
        var lateAtMixer = feeds.ToDictionary(f => f.Input, f => 1000 * (inputsAfter[f.Input].SoundDroppedLateSeconds - inputsBefore[f.Input].SoundDroppedLateSeconds));
        var (dropped, starved) = ((after.Dropped - before.Dropped).TotalMilliseconds, (after.Starved - before.Starved).TotalMilliseconds);
        var dips = feeds.ToDictionary(f => f.Input, f => sound.ToneDips(f.ToneHz, ToneBlock, ToneDipDb));
        var stretches = (int)(sound.Duration / (ToneBlock / 2));
        output.WriteLine($"bus sound: {sound}; dropped late {dropped:F0} ms ({starved:F0} ms of it for want of CPU); at the mixer, of "
            + string.Join(", ", lateAtMixer.Select(l => $"{l.Key} {l.Value:F0} ms")) + "; timelines moved "
            + string.Join(", ", feeds.Select(f => $"{f.Input} {timelinesAfter[f.Input].Corrections - timelinesBefore[f.Input].Corrections}x "
                + $"{(timelinesAfter[f.Input].MovedNs - timelinesBefore[f.Input].MovedNs) / 1e6:F1} ms, {timelinesAfter[f.Input].LatePictures - timelinesBefore[f.Input].LatePictures} pictures late"))
            + "; " + string.Join("; ", dips.Select(d =>
            $"{d.Key} dips in {d.Value.Count} of {stretches} stretches{string.Concat(d.Value.Take(12).Select(x => $", {x.BelowDb:F0} dB at {x.At.TotalMilliseconds:F0} ms"))}")));
        Assert.True(sound.Duration > TimeSpan.FromSeconds(3.5), $"only {sound.Duration.TotalMilliseconds:F0} ms of sound read in 4 s");
        DeliveryVerdict.Judge(output, machine, strict: () =>
        {
            Assert.Equal(0, dropped);
            // Before the timeline counted runs, about 40 % of packed sound was dropped here; before it counted them by
            // their median span, a settled timeline moved ~20 ms and back now and then (a dip in a third of the runs).
            Assert.All(lateAtMixer, l => Assert.True(l.Value == 0, $"{l.Key}: {l.Value:F0} ms of its sound dropped at the mixer as late"));
            Assert.All(dips, d => Assert.True(d.Value.Count == 0, $"{d.Key}'s tone dips in {d.Value.Count} of {stretches} stretches"));
        }, live: () =>
        {
            // A starved mix may lose a block here and there, and says so; it never loses a tone for good parts of every second.
            Assert.Equal(0, dropped - starved);
            Assert.All(dips, d => Assert.True(d.Value.Count <= stretches / 20, $"{d.Key}'s tone dips in {d.Value.Count} of {stretches} stretches"));
        });
    }

    // Four 30 fps feeds muxed with ffmpeg's 700 ms lead, their sound packed as given.
    private static List<FeedSpec> FfmpegMuxedFeeds(SoundPacking packing) =>
        [.. Enumerable.Range(0, 4).Select(i => MotionRig.Feed(i, 30, FeedSpec.FfmpegMuxDelay) with { SoundPacking = packing })];

    [Fact]
    public async Task A_feed_whose_timestamps_jump_keeps_moving_within_a_frame_or_two_of_the_jump()
    {
        // cam-a's publisher "restarts" halfway through each measurement: PTS, DTS and PCR go back 20 s, the pictures
        // run on. Zero-delay muxing, so that only the jump is tested (the 700 ms case is the test above).
        var feeds = Enumerable.Range(0, 4).Select(i => MotionRig.Feed(i, 30, TimeSpan.Zero)).ToList();
        await using var rig = await MotionRig.StartAsync(output, feeds, direct: false);
        // The jump starts cam-a's timeline afresh, which then settles again.
        await rig.MeasureUntilAsync(TimeSpan.FromSeconds(6), report => AssertSmooth(report, steady: false),
            midway: () => rig.Harness.Feed("cam-a").JumpTimestamps(TimeSpan.FromSeconds(-20)));
    }

    // A loaded machine (CI's two cores, other tests beside) starves the show now and then: a picture that leaves
    // its decoder or scaler too late for its frame is left out, as issue 9 wants (lateness stays bounded), and the
    // engine counts it. That is allowed for; a repeat or skip with every picture in time is a fault. A settled
    // timeline moves only for a lasting stray (two whole windows), which a starved machine can make: one such move
    // is allowed for too, no more (on an idle machine none happens). A box whose pictures came late by the dozen is
    // no hiccup any more (the timeline placed them wrong, or the machine cannot run the test), and a settled timeline
    // moves by tens of milliseconds at most, never for a stalled second (a freeze of the box, then as long a skip).
    private static void AssertSmooth(TimingReport report, bool steady = true)
    {
        // A bus rebuilt or an input restarted while measured went dark for seconds; its counts do not cover the measurement.
        Assert.True(report.Disruptions.Count == 0, string.Join("; ", report.Disruptions));
        var starved = report.Boxes.Any(b => b.LatePictures > 0);
        Assert.All(report.Boxes, b =>
        {
            Assert.True(b.LatePictures is { } late && late <= b.Frames / 4, $"late pictures beyond a hiccup: {b}");
            if (steady)
            {
                Assert.True(b.TimelineMoves is { } moves && moves.MovedMs <= MostSettledMoveMs, $"timeline moved by more than a settled one follows: {b}");
                Assert.True(starved
                    ? b.IsSmoothBesidesDeliberate(StarvedTolerance * b.FramesPerPicture, StarvedTolerance, corrections: 1)
                    : b.IsSmoothBesidesDeliberate(SkipTolerance, RepeatTolerance, corrections: 1), b.ToString());
            }
            else Assert.True(b.IsSmoothBesidesDeliberate(JumpTolerance), b.ToString());
        });
    }
}
