using MixerWorker.Pipeline.Scene;

namespace MixerWorker.Pipeline.Engine;

/// <summary>Starts projects. The host gets it from DI, so tests can hand it a fake engine.</summary>
public interface IProjectMixerFactory
{
    /// <summary>The H.264 encoder backend new projects get ("software", "nvenc", "va"), and every backend this host has.</summary>
    EncoderCapabilities Encoders { get; }

    /// <summary>
    /// Checks the scene, builds it and starts playing; inputs connect in the background, outputs only
    /// while <paramref name="publish"/> is open.
    /// </summary>
    Task<IProjectMixer> StartAsync(SceneDefinition scene, PublishGate publish);
}
