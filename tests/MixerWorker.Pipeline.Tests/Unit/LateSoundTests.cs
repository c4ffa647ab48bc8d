using MixerWorker.Pipeline.Engine;
using Xunit;

namespace MixerWorker.Pipeline.Tests.Unit;

/// <summary>How an input's sound dropped late at the bus mixers is counted (once, over every mixer) and told (once an episode is worth it).</summary>
public sealed class LateSoundTests
{
    private const ulong Ms = 1_000_000;
    private static readonly TimeSpan Live = TimeSpan.FromMinutes(1);
    private static TimeSpan At(long ms) => TimeSpan.FromMilliseconds(ms);

    [Fact]
    public void A_stretch_two_mixers_drop_counts_once_and_what_only_one_drops_counts_too()
    {
        var late = new LateSound();
        late.Note(1000 * Ms, 20 * Ms, At(1000), Live);   // program's mixer
        late.Note(1000 * Ms, 20 * Ms, At(1000), Live);   // an AUX bus's mixer, the same block
        late.Note(1010 * Ms, 20 * Ms, At(1000), Live);   // overlapping the first by half
        late.Note(990 * Ms, 10 * Ms, At(1000), Live);    // before what was counted: another mixer reported late
        late.Note(1100 * Ms, 20 * Ms, At(1100), Live);
        Assert.Equal(TimeSpan.FromMilliseconds(50), late.Dropped);
    }

    [Fact]
    public void An_episode_is_told_once_when_it_has_lost_a_tenth_of_a_second_and_once_when_it_ends()
    {
        var late = new LateSound();
        var told = new List<LateSound.Episode>();
        for (var i = 0; i < 10; i++)
            if (late.Note((ulong)(2000 + 20 * i) * Ms, 20 * Ms, At(10_000 + 20 * i), Live) is { } e) told.Add(e);
        var first = Assert.Single(told);
        Assert.True(first.First);
        Assert.Equal(TimeSpan.FromMilliseconds(100), first.Lost);
        Assert.Equal(TimeSpan.FromMilliseconds(80), first.Length);

        Assert.Null(late.Tick(At(10_180 + 4_900)));
        var end = late.Tick(At(10_180 + 5_000));
        Assert.True(end is { Ended: true });
        Assert.Equal(TimeSpan.FromMilliseconds(200), end!.Value.Lost);
        Assert.Null(late.Tick(At(30_000)));
        Assert.Equal(TimeSpan.FromMilliseconds(200), late.Dropped);
    }

    [Fact]
    public void A_block_or_two_dropped_now_and_then_is_counted_but_never_told()
    {
        var late = new LateSound();
        Assert.Null(late.Note(5000 * Ms, 40 * Ms, At(1000), Live));
        Assert.Null(late.Tick(At(6_500)));        // that episode ended untold
        Assert.Null(late.Note(9000 * Ms, 80 * Ms, At(7_000), Live));  // a new one, under the mark again
        Assert.Null(late.Tick(At(12_500)));
        Assert.Equal(TimeSpan.FromMilliseconds(120), late.Dropped);
    }

    [Fact]
    public void What_an_input_drops_in_its_first_seconds_live_is_counted_but_never_told()
    {
        var late = new LateSound();
        for (var i = 0; i < 10; i++)
            Assert.Null(late.Note((ulong)(1000 + 20 * i) * Ms, 20 * Ms, At(1000 + 20 * i), LateSound.Grace - TimeSpan.FromSeconds(1)));
        Assert.Null(late.Tick(At(10_000)));
        Assert.Equal(TimeSpan.FromMilliseconds(200), late.Dropped);
        var told = late.Note(3000 * Ms, 100 * Ms, At(11_000), LateSound.Grace);
        Assert.True(told is { First: true });
        Assert.Equal(TimeSpan.FromMilliseconds(100), told!.Value.Lost);
    }
}
