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

    /// <summary>
    /// The first event of <paramref name="type"/> on <paramref name="project"/> that matches, so far or to come. Events reach the test
    /// on a connection of their own: one published before a write or an in-process effect the test waited for may still be on its way.
    /// </summary>
    public async Task<ProjectEvent> WaitForAsync(string type, string project, Func<ProjectEvent, bool> match, TimeSpan timeout)
    {
        ProjectEvent? found = null;
        await WorkerHarness.Eventually(() => Task.FromResult((found = Of(type, project).FirstOrDefault(match)) is not null), timeout,
            $"no matching {type} event of {project} within {timeout.TotalSeconds:F0} s; its events: {string.Join(", ", All.Where(e => e.Project == project).Select(e => e.Type))}");
        return found!;
    }

    public async ValueTask DisposeAsync() => await _client.DisposeAsync();
}
