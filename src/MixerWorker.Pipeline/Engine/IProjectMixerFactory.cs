using MixerWorker.Pipeline.Scene;

namespace MixerWorker.Pipeline.Engine;

/// <summary>Starts projects. The host gets it from DI, so tests can hand it a fake engine.</summary>
public interface IProjectMixerFactory
{
    /// <summary>Checks the scene, builds it and starts playing; inputs and outputs connect in the background.</summary>
    Task<IProjectMixer> StartAsync(SceneDefinition scene);
}
