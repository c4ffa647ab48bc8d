using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using MixerWorker.ControlPlane;
using StackExchange.Redis;

namespace MixerWorker.Fleet;

/// <summary>
/// A Redis connection used only for leases. StackExchange.Redis puts every command of a connection on
/// one socket, so a slow reply (a big scene, a stream read) would delay every renewal behind it; here
/// nothing else waits in line, timeouts are short, and reconnection is tried at the renewal pace.
/// </summary>
internal sealed class LeaseConnection : IAsyncDisposable
{
    private readonly RedisOptions _redis;
    private readonly FleetOptions _fleet;
    private readonly ILogger<LeaseConnection> _log;
    private readonly SemaphoreSlim _connectLock = new(1, 1);
    private ConnectionMultiplexer? _multiplexer;

    public LeaseConnection(IOptions<RedisOptions> redis, IOptions<FleetOptions> fleet, ILogger<LeaseConnection> log)
    {
        (_redis, _fleet, _log) = (redis.Value, fleet.Value, log);
        Keys = new RedisKeys(_redis.Prefix);
    }

    public RedisKeys Keys { get; }

    public async Task<IDatabase> GetAsync()
    {
        await _connectLock.WaitAsync();
        try
        {
            if (_multiplexer is null)
            {
                var o = _redis.ToClientOptions();
                o.ClientName = "mixerworker-lease";
                // Our own timeouts (WaitAsync) bound each call; these make the client give up as soon too.
                o.SyncTimeout = o.AsyncTimeout = Math.Max(50, _fleet.RenewTimeoutMs);
                o.ConnectTimeout = Math.Clamp(_fleet.LeaseTtlMs / 2, 200, 3000);
                // Async timeouts are checked on the heartbeat (1 s by default): check at the renewal pace.
                o.HeartbeatInterval = TimeSpan.FromMilliseconds(Math.Clamp(_fleet.RenewTimeoutMs, 50, 1000));
                o.ReconnectRetryPolicy = new LinearRetry(_fleet.RenewIntervalMs);
                _multiplexer = await ConnectionMultiplexer.ConnectAsync(o);
                _multiplexer.ConnectionFailed += (_, e) =>
                {
                    if (e.ConnectionType == ConnectionType.Interactive)
                        _log.LogWarning("lease connection to {Endpoint} lost: {Failure}; leases cannot be renewed until it is back", e.EndPoint, e.FailureType);
                };
                _multiplexer.ConnectionRestored += (_, e) =>
                {
                    if (e.ConnectionType == ConnectionType.Interactive) _log.LogInformation("lease connection to {Endpoint} restored", e.EndPoint);
                };
            }
            return _multiplexer.GetDatabase();
        }
        finally { _connectLock.Release(); }
    }

    public async ValueTask DisposeAsync()
    {
        if (_multiplexer is not null) await _multiplexer.DisposeAsync();
    }
}
