using System.Text.Json;
using MixerWorker.ControlPlane;
using StackExchange.Redis;

namespace MixerWorker.Fleet;

/// <summary>Reads the heartbeat records of every live worker (a record expires three beats after its last write).</summary>
internal sealed class FleetView(RedisConnection redis)
{
    /// <summary>Members of the workers set older than this are forgotten.</summary>
    public static readonly TimeSpan Forget = TimeSpan.FromMinutes(10);

    public async Task<IReadOnlyList<WorkerHeartbeat>> ReadAsync(IDatabase db)
    {
        var ids = await db.SortedSetRangeByScoreAsync(redis.Keys.Workers, DateTimeOffset.UtcNow.Add(-Forget).ToUnixTimeMilliseconds());
        var values = await Task.WhenAll(ids.Select(id => db.StringGetAsync(redis.Keys.Worker(id.ToString()))));
        var live = new List<WorkerHeartbeat>(values.Length);
        foreach (var value in values)
        {
            if (value.IsNull) continue;
            try
            {
                if (JsonSerializer.Deserialize<WorkerHeartbeat>(value.ToString(), ControlPlaneJson.Options) is { } heartbeat) live.Add(heartbeat);
            }
            catch (JsonException) { /* a record from an incompatible version: not a candidate */ }
        }
        return live;
    }
}
