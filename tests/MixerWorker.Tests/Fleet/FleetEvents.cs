using System.Text.Json;
using MixerWorker.ControlPlane;
using StackExchange.Redis;

namespace MixerWorker.Tests.Fleet;

/// <summary>Every message on every project channel, collected by the test's own client.</summary>
public sealed class FleetEvents : IAsyncDisposable
{
    private readonly ConnectionMultiplexer _client;
    private readonly List<ProjectEvent> _events = [];

    private FleetEvents(ConnectionMultiplexer client) => _client = client;

    public static async Task<FleetEvents> StartAsync(RedisServer redis, RedisKeys keys)
    {
        var events = new FleetEvents(await redis.ConnectAsync());
        // A message queue, not a handler: handlers may run concurrently, the queue keeps Redis's order.
        var queue = await events._client.GetSubscriber().SubscribeAsync(keys.AllEvents);
        queue.OnMessage(m =>
        {
            var e = JsonSerializer.Deserialize<ProjectEvent>(m.Message.ToString(), ControlPlaneJson.Options)!;
            lock (events._events) events._events.Add(e);
        });
        return events;
    }

    public IReadOnlyList<ProjectEvent> All { get { lock (_events) return [.. _events]; } }

    public IReadOnlyList<ProjectEvent> Of(string type, string? project = null) => [.. All.Where(e => e.Type == type && (project is null || e.Project == project))];

    public async ValueTask DisposeAsync() => await _client.DisposeAsync();
}
