using Microsoft.Extensions.Logging;
using MixerWorker.Pipeline.Scene;

namespace MixerWorker.Pipeline.Engine;

/// <summary>Starts real GStreamer mixers, each logging as "project.&lt;name&gt;".</summary>
public sealed class ProjectMixerFactory(MixerOptions options, ILoggerFactory loggers) : IProjectMixerFactory
{
    public async Task<IProjectMixer> StartAsync(SceneDefinition scene) =>
        await ProjectMixer.StartAsync(scene, options, loggers.CreateLogger($"project.{scene.Project}"));
}
