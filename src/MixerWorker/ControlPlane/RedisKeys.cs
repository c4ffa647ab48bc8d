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
