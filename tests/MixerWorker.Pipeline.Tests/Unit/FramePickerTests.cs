using MixerWorker.Pipeline.Builders;
using Xunit;

namespace MixerWorker.Pipeline.Tests.Unit;

/// <summary>
/// One picture per output frame into a box (<see cref="FramePicker"/>): inputs at or below the bus's
/// rate pass whole; faster inputs give exactly one picture per output frame, and that picture
/// reaches into the frame, so the compositor takes it with a single try.
/// </summary>
public sealed class FramePickerTests
{
    private const double Second = 1e9;

    /// <summary>
    /// Runs <paramref name="seconds"/> of an input at <paramref name="inputFps"/> whose first picture
    /// is at <paramref name="firstPictureNs"/> through a picker for a bus at <paramref name="busFps"/>
    /// whose output frames start at <paramref name="gridPhaseNs"/> + n / busFps. The grid origin is
    /// read, as in the engine, from the latest output frame made before the picture.
    /// </summary>
    private static List<(double Start, double End)> Kept(int inputFps, int busFps, double gridPhaseNs, double firstPictureNs, int seconds = 3)
    {
        var picker = new FramePicker();
        var frame = Second / busFps;
        var kept = new List<(double, double)>();
        for (var i = 0; i < inputFps * seconds; i++)
        {
            // The 90 kHz clock of MPEG-TS: timestamps are whole ticks, durations rounded to ns.
            var start = Math.Round((firstPictureNs + i * Second / inputFps) / (Second / 90_000)) * (Second / 90_000);
            var latestOutput = gridPhaseNs + Math.Floor((start - gridPhaseNs) / frame) * frame - 2 * frame;
            if (picker.Keep((ulong)start, (ulong)Math.Round(latestOutput), frame))
                kept.Add((start, start + Math.Floor(Second / inputFps)));
        }
        return kept;
    }

    public static TheoryData<int, double, double> Phases() => new()
    {
        { 60, 28_430_227, 1_000_000_000 },            // any phase
        { 60, 0, 1_000_000_000 },                     // pictures starting exactly on the output frames
        { 60, 16_666_667, 1_000_000_000 },            // ... or exactly half a frame before them
        { 60, 3_059_453, 1_016_666_667 - 3_000_000 },
        { 50, 12_000_000, 1_000_000_000 },
        { 50, 0, 1_000_000_000 },
        { 120, 7_000_000, 1_000_000_000 },
    };

    [Theory]
    [MemberData(nameof(Phases))]
    public void A_picture_is_for_the_output_frame_whose_slot_it_starts_in(int inputFps, double phase, double first)
    {
        // What a shared scaler asks before it scales a picture for a shedding bus (BoxBranch.Shows).
        var frame = Second / 30;
        var origin = (ulong)Math.Round(phase + 40 * frame); // any output frame of the bus
        for (var i = 0; i < inputFps * 2; i++)
        {
            var start = Math.Round(first + i * Second / inputFps);
            var t = (double)FramePicker.FrameOf((ulong)start, origin, frame);
            Assert.InRange(start - t, -frame / 2 + 1e6 - 1, frame / 2 + 1e6 + 1);
            Assert.InRange(Math.Abs((t - phase) / frame - Math.Round((t - phase) / frame)) * frame, 0, 1); // on the bus's grid
        }
    }

    [Theory]
    [MemberData(nameof(Phases))]
    public void A_faster_input_gives_one_picture_per_output_frame_reaching_into_it(int inputFps, double phase, double first)
    {
        const int busFps = 30;
        var frame = Second / busFps;
        var kept = Kept(inputFps, busFps, phase, first);
        // Every output frame after the first picture (but the edges) has exactly one new picture, and
        // it is still showing when the frame starts or starts within it.
        var frames = Enumerable.Range(2, 3 * busFps - 4).Select(n => phase + Math.Ceiling((first - phase) / frame) * frame + n * frame).ToList();
        foreach (var t in frames)
        {
            var mine = kept.Where(k => k.Start >= t - frame / 2 + 1e6 && k.Start < t + frame / 2 + 1e6).ToList();
            Assert.True(mine.Count == 1, $"{inputFps} fps, phase {phase}: {mine.Count} pictures for the frame at {t}");
            if (inputFps <= 2 * busFps) Assert.True(mine[0].End >= t && mine[0].Start < t + frame, $"picture {mine[0]} misses the frame at {t}");
        }
        // The same side of the output frames every time: a steady step from one picture to the next.
        var steps = kept.Zip(kept.Skip(1), (a, b) => b.Start - a.Start).Skip(1).SkipLast(1).ToList();
        if (inputFps % busFps == 0) Assert.All(steps, s => Assert.InRange(s, frame - 1e5, frame + 1e5));
    }

    [Theory]
    [InlineData(30)]
    [InlineData(25)]
    [InlineData(24)]
    public void An_input_at_or_below_the_bus_rate_passes_whole(int inputFps)
    {
        foreach (var phase in new double[] { 0, 9_000_000, 16_666_667, 30_000_000 })
            Assert.Equal(inputFps * 3, Kept(inputFps, 30, phase, 1_000_000_000).Count);
    }

    [Fact]
    public void Before_the_bus_has_made_a_frame_every_picture_passes()
    {
        var picker = new FramePicker();
        Assert.All(Enumerable.Range(0, 10), i => Assert.True(picker.Keep((ulong)(i * 16_666_667L), null, Second / 30)));
    }

    [Fact]
    public void A_frame_whose_picture_was_dropped_on_its_way_is_missed_once_even_where_a_later_picture_of_its_slot_stands_in()
    {
        // A 60 fps input on a 30 fps bus, pictures at 0, 16.7, 33.3 ms ...: two per slot, the first of each kept.
        var picker = new FramePicker();
        var frame = Second / 30;
        var origin = (ulong)(100 * frame);
        ulong At(int picture) => (ulong)Math.Round(10 * Second + picture * Second / 60);
        bool Keep(int picture, out int missed) => picker.Keep(At(picture), origin, frame, out missed);
        Assert.True(Keep(0, out var missed) && missed == 0);
        // Pictures 2 to 7 dropped before the box (a starved shared scaler): slots 1, 2 and 3 lose both of theirs.
        foreach (var p in new[] { 2, 3, 4, 5, 6, 7 }) picker.Lost(At(p), origin, frame);
        Assert.True(Keep(8, out missed));
        Assert.Equal(3, missed);
        // Only the first of slot 5's two pictures dropped: the second stands in, a picture further on than the box
        // shows from every other slot, so one input frame is skipped: missed once.
        picker.Lost(At(10), origin, frame);
        Assert.True(Keep(11, out missed) && missed == 1);
        // A picture lost for a slot already shown, or before the bus has a frame grid, is no loss.
        picker.Lost(At(11), origin, frame);
        Assert.True(Keep(12, out missed) && missed == 0);
        var fresh = new FramePicker();
        fresh.Lost(At(0), null, frame);
        Assert.True(fresh.Keep(At(2), origin, frame, out missed) && missed == 0);
    }

    [Fact]
    public void A_loss_told_before_an_older_picture_arrives_is_missed_at_the_next_picture_after_it()
    {
        // A 30 fps input on a 30 fps bus whose decoder hands a picture on one picture late: the coded pictures 2 and 3
        // are skipped before it while picture 1 is still inside it.
        var picker = new FramePicker();
        var frame = Second / 30;
        var origin = (ulong)(100 * frame);
        ulong At(int picture) => (ulong)Math.Round(10 * Second + picture * frame);
        Assert.True(picker.Keep(At(0), origin, frame, out var missed) && missed == 0);
        picker.Lost(At(2), origin, frame);
        picker.Lost(At(3), origin, frame);
        Assert.True(picker.Keep(At(1), origin, frame, out missed) && missed == 0);
        Assert.True(picker.Keep(At(4), origin, frame, out missed));
        Assert.Equal(2, missed);
    }

    [Fact]
    public void Pictures_after_a_jump_back_in_time_keep_flowing()
    {
        var picker = new FramePicker();
        var frame = Second / 30;
        var origin = (ulong)(100 * frame);
        var before = Enumerable.Range(0, 60).Count(i => picker.Keep((ulong)(5 * Second + i * Second / 60), origin, frame));
        var after = Enumerable.Range(0, 60).Count(i => picker.Keep((ulong)(2 * Second + i * Second / 60), origin, frame));
        Assert.Equal(30, before);
        Assert.Equal(30, after);
    }
}
