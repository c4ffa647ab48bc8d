using MixerWorker.Pipeline.Scene;

namespace MixerWorker.Pipeline.Tests.Unit;

/// <summary>A valid scene that tests change one thing at a time, so each failure names one rule.</summary>
internal static class Scenes
{
    internal static SceneDefinition Valid(params BusDefinition[] buses) => new()
    {
        Project = "show-1",
        Revision = 7,
        Inputs = [new() { Name = "cam-a" }, new() { Name = "cam-b" }],
        Buses = buses.Length > 0 ? buses : [Bus("program")],
    };

    internal static BusDefinition Bus(string name, params Box[] layout) => new()
    {
        Name = name,
        Layout = layout.Length > 0 ? layout : [Box("cam-a")],
    };

    internal static Box Box(string source, int x = 0, int y = 0, int width = 640, int height = 360) =>
        new() { Source = source, X = x, Y = y, Width = width, Height = height };
}
