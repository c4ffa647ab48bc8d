using MixerWorker.Pipeline.Scene;

namespace MixerWorker.Tests.Fleet;

/// <summary>Scenes of three sizes, so that projects differ in cost.</summary>
public static class FleetScenes
{
    public static SceneDefinition Small(string project, long revision = 1) => Scene(project, revision, 1, 1, 320, 180);
    public static SceneDefinition Medium(string project, long revision = 1) => Scene(project, revision, 2, 1, 640, 360);
    /// <summary>Bigger than a small worker: eight 1080p buses from four inputs.</summary>
    public static SceneDefinition Huge(string project, long revision = 1) => Scene(project, revision, 4, 8, 1920, 1080);

    public static SceneDefinition Scene(string project, long revision, int inputs, int buses, int width, int height) => new()
    {
        Project = project,
        Revision = revision,
        Inputs = [.. Enumerable.Range(1, inputs).Select(i => new InputDefinition { Name = $"cam{i}" })],
        Buses = [.. Enumerable.Range(0, buses).Select(b => new BusDefinition
        {
            Name = b == 0 ? "program" : $"aux{b}",
            Format = new OutputFormat { Width = width, Height = height, Fps = 30 },
            Layout = [new Box { Source = "cam1", Width = width, Height = height }],
            Preview = new Shot { Boxes = [new Box { Source = $"cam{inputs}", Width = width, Height = height }] },
        })],
    };
}
