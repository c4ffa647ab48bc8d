using MixerWorker.Pipeline.Engine;
using MixerWorker.Pipeline.Scene;

namespace MixerWorker.Tests.Fleet;

/// <summary>Makes <see cref="FakeProjectMixer"/>s for one in-process worker, all recorded in a ledger shared by the test's workers.</summary>
public sealed class FakeMixerFactory(string worker, FakeMixerLedger ledger) : IProjectMixerFactory
{
    public EncoderCapabilities Encoders { get; } = new("software", ["software"]);

    public async Task<IProjectMixer> StartAsync(SceneDefinition scene, PublishGate publish)
    {
        if (SceneValidator.Validate(scene) is { Count: > 0 } errors) throw new SceneException(errors);
        if (ledger.BuildHold is { } hold) await hold.Task;
        var mixer = new FakeProjectMixer(scene, publish, ledger, worker);
        ledger.Started(mixer);
        return mixer;
    }
}
