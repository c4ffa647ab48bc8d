using System.Threading.Channels;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using MixerWorker.ControlPlane;
using StackExchange.Redis;

namespace MixerWorker.Fleet;

/// <summary>
/// Writes this worker's heartbeat record every FLEET__HEARTBEATMS, and at once when it takes or drops a
/// project or starts draining, so that the other workers rank themselves on fresh numbers. The record
/// lives three beats; the worker deletes it when it stops.
/// </summary>
internal sealed class HeartbeatService : BackgroundService
{
    private readonly RedisConnection _redis;
    private readonly WorkerLoad _load;
    private readonly FleetOptions _fleet;
    private readonly string _id;
    private readonly ILogger<HeartbeatService> _log;
    private readonly Channel<bool> _nudge = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });

    public HeartbeatService(RedisConnection redis, WorkerLoad load, ProjectRegistry registry, IOptions<FleetOptions> fleet, IOptions<WorkerOptions> worker, ILogger<HeartbeatService> log)
    {
        (_redis, _load, _fleet, _id, _log) = (redis, load, fleet.Value, worker.Value.Id, log);
        registry.Changed += Nudge;
    }

    /// <summary>Writes the record as soon as possible (and waits for nothing).</summary>
    public void Nudge() => _nudge.Writer.TryWrite(true);

    /// <summary>Writes the record now and returns when it is stored (or Redis failed).</summary>
    public async Task BeatNowAsync()
    {
        try { await WriteAsync((await _redis.GetAsync()).GetDatabase()); }
        catch (Exception e) when (e is RedisConnectionException or RedisTimeoutException) { }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var connection = await _redis.GetAsync();
        var c = _load.Cpus;
        _log.LogInformation("worker {Id}: {Cpus:0.##} CPUs ({Source}) × target {Target:P0} = capacity {Capacity:0.##} CPUs; encoder {Encoder}; claim policy {Policy}; lease TTL {Ttl} ms, renewed every {Renew} ms",
            _id, c.Cpus, c.Source, _fleet.TargetUtilisation, _load.CapacityCpus, _load.Snapshot().EncoderBackend, _fleet.ClaimPolicy, _fleet.LeaseTtlMs, _fleet.RenewIntervalMs);
        var beat = TimeSpan.FromMilliseconds(_fleet.HeartbeatMs);
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                _load.Sample();
                await WriteAsync(connection.GetDatabase());
            }
            catch (Exception e) when (e is RedisConnectionException or RedisTimeoutException) { /* the next beat tries again */ }
            using var wait = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
            wait.CancelAfter(beat);
            try { await _nudge.Reader.ReadAsync(wait.Token); }
            catch (OperationCanceledException) { }
        }
    }

    private async Task WriteAsync(IDatabase db)
    {
        var record = _load.Snapshot();
        var batch = db.CreateBatch();
        var set = batch.StringSetAsync(_redis.Keys.Worker(_id), ControlPlaneJson.Write(record), TimeSpan.FromMilliseconds(_fleet.HeartbeatMs * 3));
        var add = batch.SortedSetAddAsync(_redis.Keys.Workers, _id, record.UpdatedAt.ToUnixTimeMilliseconds());
        var prune = batch.SortedSetRemoveRangeByScoreAsync(_redis.Keys.Workers, double.NegativeInfinity, record.UpdatedAt.Add(-FleetView.Forget).ToUnixTimeMilliseconds());
        batch.Execute();
        await Task.WhenAll(set, add, prune);
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        try
        {
            var db = (await _redis.GetAsync()).GetDatabase();
            await Task.WhenAll(db.KeyDeleteAsync(_redis.Keys.Worker(_id)), db.SortedSetRemoveAsync(_redis.Keys.Workers, _id)).WaitAsync(TimeSpan.FromSeconds(1), cancellationToken);
        }
        catch (Exception e) when (e is RedisConnectionException or RedisTimeoutException or TimeoutException or OperationCanceledException) { }
    }
}
