using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using MixerWorker.Pipeline.Engine;

namespace MixerWorker.Hosting;

/// <summary>
/// Sends libsrt's and GStreamer's own log lines through the worker's logger before anything else
/// starts, so nothing native writes raw lines into the worker's (possibly JSON) output. Registered
/// first: it starts first and, hosted services stopping in reverse, is still there while the mixers end.
/// </summary>
internal sealed class NativeLogRouting(ILoggerFactory loggers, IOptions<MixerOptions> options) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        NativeLogs.Route(loggers, options.Value);
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
