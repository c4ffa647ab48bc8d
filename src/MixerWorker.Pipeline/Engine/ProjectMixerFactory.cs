using Microsoft.Extensions.Logging;
using MixerWorker.Pipeline.Encoding;
using MixerWorker.Pipeline.Interop;
using MixerWorker.Pipeline.Scene;

namespace MixerWorker.Pipeline.Engine;

/// <summary>Starts real GStreamer mixers, each logging as "project.&lt;name&gt;".</summary>
public sealed class ProjectMixerFactory(MixerOptions options, ILoggerFactory loggers) : IProjectMixerFactory
{
    private readonly Lazy<EncoderCapabilities> _encoders = new(() =>
    {
        GstRuntime.Init();
        var probe = new GstElementProbe();
        return new EncoderCapabilities(new EncoderChainBuilder(probe).Select(options.Encoder).Name,
            [.. EncoderChainBuilder.AllBackends.Where(b => b.IsAvailable(probe)).Select(b => b.Name)]);
    });

    public EncoderCapabilities Encoders => _encoders.Value;

    public async Task<IProjectMixer> StartAsync(SceneDefinition scene, PublishGate publish) =>
        await ProjectMixer.StartAsync(scene, options, loggers.CreateLogger($"project.{scene.Project}"), publish);
}
