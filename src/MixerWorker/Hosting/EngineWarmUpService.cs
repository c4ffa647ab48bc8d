using Microsoft.Extensions.Hosting;
using MixerWorker.Pipeline.Engine;

namespace MixerWorker.Hosting;

/// <summary>
/// Starts loading GStreamer's plugins in the background as the host starts (after the native logs are
/// routed, so whatever they say goes through the logger), for the first show to start faster.
/// </summary>
internal sealed class EngineWarmUpService : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        EngineWarmUp.Start();
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
