using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using MixerWorker.Pipeline.Engine;
using StackExchange.Redis;

namespace MixerWorker.ControlPlane;

/// <summary>
/// Stores the newest thumbnail of each bus of the projects this worker holds (a small JPEG the engine takes every
/// THUMBNAILS__INTERVALMS) at mixer:{project}:thumbnail:&lt;bus&gt;, with a TTL, for the dashboard and
/// the platform's web panel, fenced by the project's lease. Only new pictures are written; a stopped
/// bus's key expires by itself.
/// </summary>
internal sealed class ThumbnailService(
    RedisConnection redis,
    ProjectRegistry registry,
    IOptions<MixerOptions> mixerOptions,
    ILogger<ThumbnailService> log) : BackgroundService
{
    private readonly Dictionary<(string Project, string Bus), long> _stored = [];

    /// <summary>Long enough to ride out a few missed intervals, short enough that a dead bus's picture goes soon.</summary>
    internal static TimeSpan Ttl(TimeSpan interval) => TimeSpan.FromTicks(Math.Max(TimeSpan.FromSeconds(5).Ticks, interval.Ticks * 5));

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var interval = mixerOptions.Value.ThumbnailInterval;
        if (interval <= TimeSpan.Zero) return;
        var ttl = Ttl(interval);
        var connection = await redis.GetAsync();
        using var timer = new PeriodicTimer(interval);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                try { await StoreAsync(connection.GetDatabase(), ttl); }
                // A picture lost while Redis is away is replaced by the next one.
                catch (Exception e) when (e is RedisConnectionException or RedisTimeoutException) { }
            }
        }
        catch (OperationCanceledException) { }
    }

    private async Task StoreAsync(IDatabase db, TimeSpan ttl)
    {
        var seen = new HashSet<(string, string)>();
        foreach (var runtime in registry.All)
        {
            if (await runtime.ThumbnailsAsync() is not { } thumbnails) continue;
            foreach (var (bus, picture) in thumbnails)
            {
                var key = (runtime.Project, bus);
                seen.Add(key);
                if (_stored.TryGetValue(key, out var sequence) && sequence == picture.Sequence) continue;
                if (!await runtime.WriteThumbnailAsync(db, bus, picture.Jpeg, ttl)) continue;
                if (!_stored.ContainsKey(key)) log.LogDebug("project {Project}: bus {Bus} thumbnails {Width}x{Height}", runtime.Project, bus, picture.Width, picture.Height);
                _stored[key] = picture.Sequence;
            }
        }
        foreach (var gone in _stored.Keys.Where(k => !seen.Contains(k)).ToList()) _stored.Remove(gone);
    }
}
