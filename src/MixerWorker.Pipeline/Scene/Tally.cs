namespace MixerWorker.Pipeline.Scene;

/// <summary>Which inputs each composition bus has on air and in preview.</summary>
public static class Tally
{
    /// <summary>
    /// Enabled composition buses only (a multiview shows everything, so it puts nothing on air).
    /// While a bus animates, both sides of the animation count as on air, whichever of them the
    /// scene already holds as its program. Lists are sorted ordinally so equal states compare equal.
    /// </summary>
    public static TallyState Compute(SceneDefinition scene, IReadOnlyDictionary<string, BusAnimation> inFlight)
    {
        var buses = new SortedDictionary<string, BusTally>(StringComparer.Ordinal);
        foreach (var bus in scene.Buses ?? [])
        {
            if (bus is null || !bus.Enabled || bus.Kind != BusKind.Composition || buses.ContainsKey(bus.Name)) continue;
            var onAir = new SortedSet<string>(Visible(bus.ProgramBoxes()), StringComparer.Ordinal);
            if (inFlight is not null && inFlight.TryGetValue(bus.Name, out var animation))
            {
                onAir.UnionWith(Visible(animation.From.ProgramBoxes()));
                onAir.UnionWith(Visible(animation.To.ProgramBoxes()));
            }
            var preview = bus.Preview is { } shot
                ? new SortedSet<string>(Visible(shot.Resolve(bus.Format ?? new())), StringComparer.Ordinal)
                : [];
            buses[bus.Name] = new BusTally([.. onAir], [.. preview]) { FadedToBlack = bus.FadedToBlack };
        }
        return new TallyState(buses);
    }

    private static IEnumerable<string> Visible(IEnumerable<Box> boxes) => boxes.Where(b => b is not null && b.Alpha > 0).Select(b => b.Source);
}
