namespace MixerWorker.Pipeline.Scene;

// Signatures the engine and control plane code against. Bodies are being written on branch scene4;
// each class moves to its own file there.

public static class LayoutPresets
{
    /// <summary>The boxes of a preset in a frame of the given format.</summary>
    public static IReadOnlyList<Box> Expand(LayoutPreset preset, OutputFormat format) => throw new NotImplementedException();

    /// <summary>The boxes on air on a bus: its preset expanded, or its layout.</summary>
    public static IReadOnlyList<Box> ProgramBoxes(this BusDefinition bus) => throw new NotImplementedException();

    /// <summary>The boxes of a shot on a bus of the given format.</summary>
    public static IReadOnlyList<Box> Resolve(this Shot shot, OutputFormat format) => throw new NotImplementedException();
}

public static class ShowReducer
{
    /// <summary>Applies one command; throws <see cref="SceneException"/> with an operator-readable reason when it cannot.</summary>
    public static ShowStep Apply(SceneDefinition scene, ShowCommand command) => throw new NotImplementedException();
}

public static class FrameComposer
{
    /// <summary>A bus at rest.</summary>
    public static ComposedFrame Steady(BusDefinition bus) => throw new NotImplementedException();

    /// <summary>A bus at <paramref name="progress"/> (0–1) of an animation.</summary>
    public static ComposedFrame Compose(BusAnimation animation, double progress) => throw new NotImplementedException();
}

public static class Tally
{
    public static TallyState Compute(SceneDefinition scene, IReadOnlyDictionary<string, BusAnimation> inFlight) => new(new Dictionary<string, BusTally>());
}

public static class AudioPlan
{
    /// <summary>Linear gain per heard input on a bus (fixed mix levels or follow-video crossfade), before the master gain.</summary>
    public static IReadOnlyDictionary<string, double> Gains(BusDefinition bus, BusAnimation? animation, double progress) => throw new NotImplementedException();
}

public static class MultiviewLayout
{
    public static IReadOnlyList<MultiviewTile> Tiles(SceneDefinition scene, OutputFormat format) => throw new NotImplementedException();
}

public static class GraphicsFiles
{
    /// <summary>The full path of a layer's file inside <paramref name="graphicsDirectory"/>; throws when it would leave it or is not PNG/SVG.</summary>
    public static string Resolve(string graphicsDirectory, string file) => throw new NotImplementedException();
}
