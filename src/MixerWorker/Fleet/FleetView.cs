using System.Text.Json;
using MixerWorker.ControlPlane;
using MixerWorker.Pipeline.Scene;
using StackExchange.Redis;

namespace MixerWorker.Fleet;

/// <summary>Reads the heartbeat records of every live worker (a record expires three beats after its last write).</summary>
internal sealed class FleetView(RedisConnection redis)
{
    /// <summary>Members of the workers set older than this are forgotten.</summary>
    public static readonly TimeSpan Forget = TimeSpan.FromMinutes(10);

    public Task<IReadOnlyList<WorkerHeartbeat>> ReadAsync(IDatabase db) => ReadAsync(db, redis.Keys);

    /// <summary>The live workers' heartbeats, for readers without a worker's connection (the dashboard).</summary>
    public static async Task<IReadOnlyList<WorkerHeartbeat>> ReadAsync(IDatabase db, RedisKeys keys)
    {
        var ids = await db.SortedSetRangeByScoreAsync(keys.Workers, DateTimeOffset.UtcNow.Add(-Forget).ToUnixTimeMilliseconds());
        var values = await Task.WhenAll(ids.Select(id => db.StringGetAsync(keys.Worker(id.ToString()))));
        var live = new List<WorkerHeartbeat>(values.Length);
        foreach (var value in values)
        {
            if (value.IsNull) continue;
            try
            {
                if (JsonSerializer.Deserialize(value.ToString(), ControlPlaneJson.Options.Info<WorkerHeartbeat>()) is { } heartbeat) live.Add(heartbeat);
            }
            catch (JsonException) { /* a record from an incompatible version: not a candidate */ }
        }
        return live;
    }
}
