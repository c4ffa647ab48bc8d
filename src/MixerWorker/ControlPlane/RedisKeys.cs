using StackExchange.Redis;

namespace MixerWorker.ControlPlane;

/// <summary>
/// Key and channel names. Everything about one project carries the hash tag {project}, so in a Redis
/// Cluster it lives on one slot and can be written in one transaction.
/// </summary>
public sealed class RedisKeys(string prefix)
{
    public string Prefix { get; } = prefix;
    public RedisKey Projects => $"{Prefix}:projects";
    public RedisKey Desired(string project) => $"{Prefix}:{{{project}}}:desired";
    public RedisKey Status(string project) => $"{Prefix}:{{{project}}}:status";
    /// <summary>The operator commands, a stream written by the API and mixerctl and read by the worker.</summary>
    public RedisKey Commands(string project) => $"{Prefix}:{{{project}}}:commands";
    /// <summary>The id of the last stream entry the worker dealt with (applied, refused or ignored).</summary>
    public RedisKey CommandCursor(string project) => $"{Prefix}:{{{project}}}:command-cursor";
    /// <summary>The ids of recently applied commands (sorted set, score: the revision they produced).</summary>
    public RedisKey CommandIds(string project) => $"{Prefix}:{{{project}}}:command-ids";
    /// <summary>A tombstone left by a removal (with a TTL): a running project whose key is gone is only stopped when it exists.</summary>
    public RedisKey Removed(string project) => $"{Prefix}:{{{project}}}:removed";
    /// <summary>The latest small JPEG of a bus's mixed picture (with a TTL), for the dashboard and the platform's panel.</summary>
    public RedisKey Thumbnail(string project, string bus) => $"{Prefix}:{{{project}}}:thumbnail:{bus}";
    /// <summary>The project's lease: "epoch:nonce:worker" with a TTL (docs/fleet.md).</summary>
    public RedisKey Lease(string project) => $"{Prefix}:{{{project}}}:lease";
    /// <summary>The project's epoch counter, raised by every acquisition of its lease (the fencing token).</summary>
    public RedisKey Epoch(string project) => $"{Prefix}:{{{project}}}:epoch";
    /// <summary>The last lease value taken ("released" after a release), to tell a lapsed lease from a released one.</summary>
    public RedisKey LastLease(string project) => $"{Prefix}:{{{project}}}:last-lease";
    /// <summary>A draining owner's offer of the project to a successor (its lease value, with a TTL).</summary>
    public RedisKey HandOver(string project) => $"{Prefix}:{{{project}}}:handover";
    /// <summary>The worker preparing to take an offered project ("worker:nonce", with a TTL).</summary>
    public RedisKey Successor(string project) => $"{Prefix}:{{{project}}}:successor";
    /// <summary>
    /// A handing-over owner's mark while it carries out a command (its lease value, with a TTL): set only while
    /// no successor prepares; the successor takes the lease over only once it is gone, so a command is never
    /// carried out by the old owner, unstored, and again by the successor.
    /// </summary>
    public RedisKey CommandInFlight(string project) => $"{Prefix}:{{{project}}}:command-in-flight";
    /// <summary>Every worker that wrote a heartbeat, scored by its last one (Unix ms).</summary>
    public RedisKey Workers => $"{Prefix}:workers";
    /// <summary>A worker's heartbeat record (JSON, with a TTL).</summary>
    public RedisKey Worker(string id) => $"{Prefix}:worker:{id}";
    public RedisChannel Events(string project) => RedisChannel.Literal($"{Prefix}:{{{project}}}:events");
    public RedisChannel AllEvents => RedisChannel.Pattern($"{Prefix}:{{*}}:events");
    public RedisChannel MediaMtxEvents => RedisChannel.Literal($"{Prefix}:mediamtx-events");

    /// <summary>The project of an events channel name, or null for any other channel.</summary>
    public string? ProjectOf(RedisChannel channel)
    {
        var name = channel.ToString();
        var head = $"{Prefix}:{{";
        const string tail = "}:events";
        return name.StartsWith(head, StringComparison.Ordinal) && name.EndsWith(tail, StringComparison.Ordinal) && name.Length > head.Length + tail.Length
            ? name[head.Length..^tail.Length]
            : null;
    }
}
