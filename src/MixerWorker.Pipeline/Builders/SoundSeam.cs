namespace MixerWorker.Pipeline.Builders;

/// <summary>
/// Where a bus's sound changes from one mix chain to another (<see cref="SoundFeed"/>), by running time
/// alone. Chains run on the same clock, but each chain's thread pushes its blocks when its mixer has
/// them, often several at once, and a loaded machine may hold one chain's thread back for a while.
/// Moved at a moment of the control thread's (once the new chain had sound), a bus whose old chain was
/// behind then missed what lay between: 53–74 ms with the old chain's thread held 100 ms at the move.
/// So the bus moves only once the new chain's next block starts at most a block after where the bus's
/// sound ends; up to there the old chain gave it, and what the new chain gives before it is dropped.
/// </summary>
internal static class SoundSeam
{
    /// <summary>Rounding between two chains' timestamps, not an overlap.</summary>
    internal const long RoundingNs = 1_000_000;

    /// <summary>
    /// How long a bus waits for the old chain to catch up before it moves anyway (one that stays behind
    /// for good, starved or stalled): then it loses what lies between, as it did before it waited.
    /// </summary>
    internal static readonly TimeSpan MostWait = TimeSpan.FromMilliseconds(500);

    private static readonly long BlockNs = BusAudio.Block.Ticks * 100;

    /// <summary>
    /// Whether a block from <paramref name="startNs"/> starts before what the bus's muxer already has,
    /// which ends at <paramref name="heardEndNs"/> (-1: nothing yet): the overlap after a move, dropped.
    /// </summary>
    internal static bool Covered(long startNs, long heardEndNs) => heardEndNs >= 0 && startNs < heardEndNs - RoundingNs;

    /// <summary>
    /// Whether a bus whose sound ends at <paramref name="heardEndNs"/> may move now to a chain whose
    /// encoded sound ends at <paramref name="chainEndNs"/> (-1: none yet), having waited <paramref name="waited"/>
    /// since the chain had sound: when the chain's next block starts at most a block after the bus's sound
    /// ends. A chain behind the bus is no loss: its blocks are covered and dropped until it reaches there.
    /// </summary>
    internal static bool MayMove(long heardEndNs, long chainEndNs, TimeSpan waited) =>
        heardEndNs < 0 || (chainEndNs >= 0 && (waited >= MostWait || chainEndNs - heardEndNs <= BlockNs + RoundingNs));
}
