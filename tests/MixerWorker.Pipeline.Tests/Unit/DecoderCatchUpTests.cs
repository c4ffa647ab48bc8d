using MixerWorker.Pipeline.Sources;
using Xunit;

namespace MixerWorker.Pipeline.Tests.Unit;

/// <summary>
/// When an input's decoder skips to its next keyframe: only once its pictures have come out too late
/// to be shown for a while, then every predicted picture until a keyframe, and at once again when
/// the keyframe it resumed on is late too.
/// </summary>
public sealed class DecoderCatchUpTests
{
    private const long Ms = 1_000_000;
    private const ulong Frame = 33_333_333;
    private static readonly TimeSpan Jitter = TimeSpan.FromMilliseconds(60);

    [Fact]
    public void A_short_stall_skips_nothing()
    {
        var c = new DecoderCatchUp(Jitter);
        // Five pictures (167 ms of the input) 150 ms late, then on time again.
        for (var i = 0; i < 5; i++) Assert.False(c.Decoded((ulong)i * Frame, 150 * Ms));
        Assert.False(c.Decoded(5 * Frame, 10 * Ms));
        Assert.False(c.Decoded(6 * Frame, 150 * Ms));
        Assert.False(c.Skipping);
        Assert.True(c.Admit(keyframe: false));
        Assert.Equal(0, c.Skips);
    }

    [Fact]
    public void Pictures_late_for_200_ms_of_the_input_skip_the_predicted_pictures_until_a_keyframe()
    {
        var c = new DecoderCatchUp(Jitter);
        Assert.False(c.Decoded(0, 10 * Ms));
        var started = Enumerable.Range(1, 8).Select(i => c.Decoded((ulong)i * Frame, 61 * Ms + i * 12 * Ms)).ToList();
        // The first late picture at least 200 ms of input after the first one (seven frames on) starts it.
        Assert.Equal([false, false, false, false, false, false, false, true], started);
        Assert.True(c.Skipping);
        Assert.False(c.Admit(keyframe: false));
        Assert.False(c.Admit(keyframe: false));
        Assert.True(c.Admit(keyframe: true));
        Assert.False(c.Skipping);
        Assert.Equal((1L, 2L), (c.Skips, c.Skipped));
        // The keyframe comes out in time: decoding goes on.
        Assert.False(c.Decoded(40 * Frame, 5 * Ms));
        Assert.True(c.Admit(keyframe: false));
    }

    [Fact]
    public void A_keyframe_that_comes_out_late_starts_the_next_skip_at_once()
    {
        var c = new DecoderCatchUp(Jitter);
        for (var i = 0; i <= 7; i++) c.Decoded((ulong)i * Frame, 500 * Ms);
        Assert.True(c.Skipping);
        Assert.True(c.Admit(keyframe: true));
        // Still half a second behind: a backlog, skipped in one pass rather than 200 ms at a time.
        Assert.True(c.Decoded(30 * Frame, 480 * Ms));
        Assert.False(c.Admit(keyframe: false));
        Assert.Equal(2, c.Skips);
    }
}
