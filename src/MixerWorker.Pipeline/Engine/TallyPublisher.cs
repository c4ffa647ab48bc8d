using MixerWorker.Pipeline.Scene;

namespace MixerWorker.Pipeline.Engine;

/// <summary>
/// The tally last announced, and the announcement when it changes: computed from the scene and the
/// transitions in flight (both sides of a transition are on air), compared by value. Control thread.
/// </summary>
internal sealed class TallyPublisher
{
    private TallyState? _last;

    /// <summary>Raised on the control thread when the tally changes; handlers must be quick.</summary>
    internal event Action<TallyState>? Changed;

    /// <summary>Computes the tally now; true when it differs from the last one (then <see cref="Announce"/> it).</summary>
    internal bool Refresh(SceneDefinition scene, IReadOnlyDictionary<string, BusAnimation> inFlight, out TallyState tally)
    {
        tally = Tally.Compute(scene, inFlight);
        var changed = !tally.Equals(_last);
        _last = tally;
        return changed;
    }

    internal void Announce(TallyState tally) => Changed?.Invoke(tally);
}
