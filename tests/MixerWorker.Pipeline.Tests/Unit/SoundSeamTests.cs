using MixerWorker.Pipeline.Builders;
using Xunit;

namespace MixerWorker.Pipeline.Tests.Unit;

/// <summary>
/// A bus moves between mix chains where, by running time, the new chain's sound takes over from what the
/// bus has heard (SoundSeam): never while the new chain is more than a block ahead of it, unless the old
/// one stays behind past a bound.
/// </summary>
public class SoundSeamTests
{
    private const long Ms = 1_000_000;

    [Theory]
    // Nothing heard yet: at once.
    [InlineData(-1, -1, 0, true)]
    // The new chain has no sound yet: not even after the bound.
    [InlineData(5000, -1, 0, false)]
    [InlineData(5000, -1, 10_000, false)]
    // The new chain behind the bus, or its next block starting within a block (plus rounding) after the bus's sound ends.
    [InlineData(5000, 4900, 0, true)]
    [InlineData(5000, 5000, 0, true)]
    [InlineData(5000, 5012, 0, true)]
    [InlineData(5000, 5021, 0, true)]
    // Further ahead (the old chain has not pushed a burst the new one has): the bus waits for the old one...
    [InlineData(5000, 5022, 0, false)]
    [InlineData(5000, 5080, 499, false)]
    // ...up to the bound.
    [InlineData(5000, 5080, 500, true)]
    public void A_bus_moves_only_where_the_new_chain_goes_on_from_what_it_heard(long heardMs, long chainMs, int waitedMs, bool moves) =>
        Assert.Equal(moves, SoundSeam.MayMove(heardMs < 0 ? -1 : heardMs * Ms, chainMs < 0 ? -1 : chainMs * Ms, TimeSpan.FromMilliseconds(waitedMs)));

    [Theory]
    [InlineData(-1, 0, false)]
    [InlineData(5000, 4980, true)]
    [InlineData(5000, 4998, true)]
    // Within the rounding between two chains' timestamps: not an overlap.
    [InlineData(5000, 4999.5, false)]
    [InlineData(5000, 5000, false)]
    [InlineData(5000, 5012, false)]
    public void Sound_from_before_what_the_muxer_has_is_covered(long heardMs, double startMs, bool covered) =>
        Assert.Equal(covered, SoundSeam.Covered((long)(startMs * Ms), heardMs < 0 ? -1 : heardMs * Ms));
}
