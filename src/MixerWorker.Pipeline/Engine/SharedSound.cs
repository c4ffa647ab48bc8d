using MixerWorker.Pipeline.Builders;
using MixerWorker.Pipeline.Interop;
using MixerWorker.Pipeline.Scene;

namespace MixerWorker.Pipeline.Engine;

/// <summary>
/// The project's mix chains (<see cref="BusAudio"/>) and which buses hear which: buses whose sound is
/// the same (<see cref="AudioMixKey"/>) share one chain, mixer and encoder, as <see cref="AudioSharing"/>
/// plans it. Control thread only. See docs/architecture.md, "Decisions".
/// </summary>
/// <param name="buses">Every bus there is now.</param>
internal sealed class SharedSound(Graph graph, BusLatency latency, Action<Action> toControlThread, Func<IReadOnlyCollection<BusBranch>> buses) : IDisposable
{
    private sealed record Chain(BusAudio Audio, AudioMixKey Key);

    private readonly Dictionary<int, Chain> _chains = [];
    private int _serial;

    /// <summary>
    /// Brings every bus's sound to its definition, after its picture was shown (a bus's crossfade
    /// depends on the transition its director started): plans the sharing, changes kept chains in
    /// place, builds new ones, moves buses, and takes down chains no bus hears any more.
    /// </summary>
    internal void Apply(IReadOnlyDictionary<string, InputBranch> inputs)
    {
        graph.AssertOwnerThread();
        var all = buses();
        var byAudio = _chains.ToDictionary(c => c.Value.Audio, c => c.Key);
        var hearing = all.Where(b => b.Sound.Target is not null).ToDictionary(b => b.Name, b => byAudio[b.Sound.Target!]);
        var wanted = all.Select(b => (b.Name, AudioMixKey.Of(b.Definition, b.Director.Animation))).ToList();
        var byName = all.ToDictionary(b => b.Name);
        foreach (var mix in AudioSharing.Plan(_chains.ToDictionary(c => c.Key, c => c.Value.Key), hearing, wanted))
        {
            var first = byName[mix.Buses[0]];
            var fresh = mix.Chain is null;
            var id = mix.Chain ?? ++_serial;
            // Named after the bus it was made for, with a number unique in the project.
            var audio = fresh ? new BusAudio(graph, ElementName.Bus(first.Name).Child($"sound{id}"), first.Definition, latency) : _chains[id].Audio;
            _chains[id] = new Chain(audio, mix.Key);
            if (fresh)
            {
                // The buses that heard nothing yet are linked before the chain starts; the others move at the seam (SoundSeam).
                foreach (var bus in mix.Buses) byName[bus].Sound.Hear(audio, toControlThread, Sweep);
                audio.SyncStateWithParent();
            }
            // A bus alone on its chain starts a transition from the outgoing mix, and its director takes
            // the gains from there (a crossfade, the end of a cut), as before chains were shared. Shared
            // chains change at once: a cut on several buses changes their sound a few frames before
            // the incoming pictures are there.
            var alone = mix.Buses.Count == 1;
            foreach (var bus in mix.Buses) byName[bus].Sound.Alone = false;
            var animation = alone ? first.Director.Animation : null;
            audio.Apply(first.Definition, inputs, animation is not null ? AudioPlan.Gains(animation.To, animation, 0) : null);
            if (!fresh) foreach (var bus in mix.Buses) byName[bus].Sound.Hear(audio, toControlThread, Sweep);
            first.Sound.Alone = alone;
        }
        Sweep();
    }

    /// <summary>The input heard through the mixer pad at <paramref name="padPath"/> on any chain; null when none is. Control thread.</summary>
    internal string? InputHeardAt(string padPath) => _chains.Values.Select(c => c.Audio.InputAt(padPath)).FirstOrDefault(i => i is not null);

    /// <summary>Takes down the chains no bus hears or is about to; after a bus moved or went. Control thread.</summary>
    internal void Sweep()
    {
        graph.AssertOwnerThread();
        var used = buses().SelectMany(b => new[] { b.Sound.Current, b.Sound.Target }).OfType<BusAudio>().ToHashSet();
        foreach (var (id, chain) in _chains.Where(c => !used.Contains(c.Value.Audio)).ToList())
        {
            chain.Audio.Dispose();
            _chains.Remove(id);
        }
    }

    public void Dispose()
    {
        foreach (var chain in _chains.Values) chain.Audio.Dispose();
        _chains.Clear();
    }
}
