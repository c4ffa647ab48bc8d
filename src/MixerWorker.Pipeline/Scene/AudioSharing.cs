using System.Globalization;

namespace MixerWorker.Pipeline.Scene;

/// <summary>
/// What a bus's sound is made of, as a value: two buses with equal keys would produce the same
/// encoded sound, so they can share one mix chain and encoder. <paramref name="Alone"/> names a bus
/// in the middle of an audible crossfade (not a cut): its director drives its gains frame by frame,
/// so it does not share until the crossfade is over.
/// </summary>
public sealed record AudioMixKey(AudioMode Mode, string Heard, double MasterGainDb, bool Limiter, AudioCodec Codec, int BitrateKbps, string? Alone = null)
{
    /// <param name="animation">The bus's transition under way, if any: an audible crossfade makes the key the bus's own.</param>
    public static AudioMixKey Of(BusDefinition bus, BusAnimation? animation = null)
    {
        var mode = bus.Audio?.Mode ?? AudioMode.FollowVideo;
        var gains = AudioPlan.Gains(bus, null, 1.0);
        var heard = string.Join("|", gains.OrderBy(g => g.Key, StringComparer.Ordinal)
            .Select(g => string.Create(CultureInfo.InvariantCulture, $"{g.Key}={g.Value:R}")));
        var master = bus.Audio is null || double.IsNaN(bus.Audio.MasterGainDb) ? 0 : bus.Audio.MasterGainDb;
        var crossfading = mode == AudioMode.FollowVideo && animation is { Transition.Kind: not TransitionKind.Cut } && !Same(AudioPlan.Gains(animation.To, animation, 0), gains);
        return new AudioMixKey(mode, heard, master, bus.Audio?.Limiter ?? true, bus.Format.AudioCodec, bus.Format.AudioBitrateKbps,
            crossfading ? bus.Name : null);
    }

    private static bool Same(IReadOnlyDictionary<string, double> a, IReadOnlyDictionary<string, double> b) =>
        a.Count == b.Count && a.All(g => b.TryGetValue(g.Key, out var v) && v == g.Value);
}

/// <summary>One mix chain after a change: the chain kept (null: a new one), the sound it makes, the buses that hear it.</summary>
public sealed record SharedMix(int? Chain, AudioMixKey Key, IReadOnlyList<string> Buses);

/// <summary>
/// Which buses share which mix chain. Buses with equal <see cref="AudioMixKey"/>s share one. A chain
/// is kept where it already makes the wanted sound (buses joining it switch at once), or changed in
/// place when every bus on it wants the same new sound (a cut on all of them); a bus whose sound
/// leaves its companions' gets a new chain. See docs/architecture.md, "Decisions".
/// </summary>
public static class AudioSharing
{
    /// <param name="chains">The chains there are now, with the sound each makes.</param>
    /// <param name="hearing">Per bus there is now, the chain it hears (or is about to).</param>
    /// <param name="wanted">Every bus of the next scene with the sound it should make, in bus order.</param>
    public static IReadOnlyList<SharedMix> Plan(IReadOnlyDictionary<int, AudioMixKey> chains, IReadOnlyDictionary<string, int> hearing,
        IReadOnlyList<(string Bus, AudioMixKey Key)> wanted)
    {
        var groups = wanted.GroupBy(w => w.Key).Select(g => (g.Key, Buses: g.Select(w => w.Bus).ToList())).ToList();
        var kept = new int?[groups.Count];
        var claimed = new HashSet<int>();
        // A chain already making the sound.
        for (var i = 0; i < groups.Count; i++)
            foreach (var (chain, key) in chains.OrderBy(c => c.Key))
                if (key == groups[i].Key && claimed.Add(chain)) { kept[i] = chain; break; }
        // A chain all of whose buses want this same new sound: changed in place. A chain some of whose
        // buses stay is not, or they would hear the others' change until their own chain started.
        for (var i = 0; i < groups.Count; i++)
        {
            if (kept[i] is not null) continue;
            var group = groups[i].Buses.ToHashSet();
            kept[i] = groups[i].Buses.Select(b => hearing.TryGetValue(b, out var c) ? c : (int?)null).OfType<int>().Distinct()
                .Where(c => !claimed.Contains(c) && hearing.Where(h => h.Value == c).All(h => group.Contains(h.Key)))
                .Select(c => (int?)c).FirstOrDefault();
            if (kept[i] is { } chain) claimed.Add(chain);
        }
        return [.. groups.Select((g, i) => new SharedMix(kept[i], g.Key, g.Buses))];
    }
}
