using MixerWorker.ControlPlane;
using StackExchange.Redis;

namespace MixerWorker.Fleet;

/// <summary>
/// Writes about a project that go through only while this worker's lease is the current one, checked
/// by Redis in the same script: a worker that lost its lease (paused, cut off, replaced) can never
/// overwrite its successor's status or speak on the project's channel in its name. Each returns false
/// when the write was refused (or there is no lease to write with).
/// </summary>
internal sealed class FencedWriter(RedisConnection redis)
{
    private RedisKeys Keys => redis.Keys;

    public async Task<bool> SetAsync(IDatabase db, string project, LeaseToken? token, RedisKey key, RedisValue payload, TimeSpan ttl) =>
        token is not null && (long)await db.ScriptEvaluateAsync(LeaseScripts.FencedSet, [Keys.Lease(project), key],
            [token.ToString(), payload, (long)ttl.TotalMilliseconds]) == 1;

    public async Task<bool> PublishAsync(IDatabase db, string project, LeaseToken? token, string message) =>
        token is not null && (long)await db.ScriptEvaluateAsync(LeaseScripts.FencedPublish, [Keys.Lease(project)],
            [token.ToString(), Keys.Events(project).ToString(), message]) == 1;

    public async Task<bool> DeleteAsync(IDatabase db, string project, LeaseToken? token, RedisKey key) =>
        token is not null && (long)await db.ScriptEvaluateAsync(LeaseScripts.FencedDelete, [Keys.Lease(project), key], [token.ToString()]) == 1;

    /// <summary>The status of a project nobody can take, written only while nobody holds it; <paramref name="message"/> also goes out when given.</summary>
    public async Task<bool> SetWaitingAsync(IDatabase db, string project, string payload, TimeSpan ttl, string? message) =>
        (long)await db.ScriptEvaluateAsync(LeaseScripts.SetWaiting, [Keys.Lease(project), Keys.Status(project)],
            [payload, (long)ttl.TotalMilliseconds, Keys.Events(project).ToString(), message ?? ""]) == 1;
}
