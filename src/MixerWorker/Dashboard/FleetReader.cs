using System.Collections.Concurrent;
using System.Text.Json;
using MixerWorker.ControlPlane;
using MixerWorker.Fleet;
using MixerWorker.Pipeline.Engine;
using MixerWorker.Pipeline.Scene;
using StackExchange.Redis;

namespace MixerWorker.Dashboard;

/// <summary>What the dashboard shows of one project, all of it read from Redis.</summary>
internal sealed record ProjectView(
    string Project,
    long DesiredRevision,
    string? Owner,
    long? Epoch,
    double? StatusAgeSeconds,
    ProjectStatus? Status,
    IReadOnlyDictionary<string, BusTally>? Tally,
    AudioMeters? Meters,
    CommandView? LastCommand,
    IReadOnlyList<EventReport> Events,
    IReadOnlyList<string> Thumbnails);

/// <summary>The newest entry of the project's command stream and, when known, the worker's answer to it.</summary>
internal sealed record CommandView(string Entry, string? Command, EventReport? Answer);

internal sealed record FleetView(DateTimeOffset At, IReadOnlyList<ProjectView> Projects, IReadOnlyList<WorkerHeartbeat> Workers);

/// <summary>
/// Reads the whole fleet from Redis: the workers' heartbeats, the projects set, each project's lease
/// (its owner), desired revision, status key, newest command and thumbnails, and, from the events channels it listens to, what happened since
/// the dashboard started (answers, errors, and tally and meters fresher than the last status).
/// Needs nothing from the workers themselves.
/// </summary>
internal sealed class FleetReader(IConnectionMultiplexer redis, RedisKeys keys)
{
    private const int EventsKept = 10;
    private readonly ConcurrentDictionary<string, Heard> _heard = new();

    private sealed class Heard
    {
        public readonly Queue<EventReport> Events = new();
        public (DateTimeOffset At, IReadOnlyDictionary<string, BusTally> Tally)? Tally;
        public (DateTimeOffset At, AudioMeters Meters)? Meters;
    }

    public async Task ListenAsync()
    {
        var queue = await redis.GetSubscriber().SubscribeAsync(keys.AllEvents);
        queue.OnMessage(m =>
        {
            if (keys.ProjectOf(m.Channel) is not { } project) return;
            ProjectEvent? e;
            try { e = JsonSerializer.Deserialize(m.Message.ToString(), ControlPlaneJson.Options.Info<ProjectEvent>()); }
            catch (JsonException) { return; }
            if (e is null) return;
            var heard = _heard.GetOrAdd(project, _ => new Heard());
            var now = DateTimeOffset.UtcNow;
            lock (heard)
            {
                switch (e.Type)
                {
                    case EventTypes.Tally when e.Tally is { } tally:
                        heard.Tally = (now, tally);
                        break;
                    case EventTypes.Meters when e.Meters is { } meters:
                        heard.Meters = (now, meters);
                        break;
                    case EventTypes.CommandApplied or EventTypes.Error or EventTypes.Applied or EventTypes.Stopped:
                        heard.Events.Enqueue(EventReport.Of(e, now));
                        while (heard.Events.Count > EventsKept) heard.Events.Dequeue();
                        break;
                }
            }
        });
    }

    public async Task<FleetView> ReadAsync()
    {
        var db = redis.GetDatabase();
        var projects = (await db.SetMembersAsync(keys.Projects)).Select(p => p.ToString()).Union(_heard.Keys).Order(StringComparer.Ordinal).ToList();
        var views = await Task.WhenAll(projects.Select(p => ReadAsync(db, p)));
        var workers = (await Fleet.FleetView.ReadAsync(db, keys)).OrderBy(w => w.Id, StringComparer.Ordinal).ToList();
        return new FleetView(DateTimeOffset.UtcNow, views, workers);
    }

    private async Task<ProjectView> ReadAsync(IDatabase db, string project)
    {
        var desiredTask = db.StringGetAsync(keys.Desired(project));
        var statusTask = db.StringGetAsync(keys.Status(project));
        var commandTask = db.StreamRangeAsync(keys.Commands(project), "-", "+", count: 1, messageOrder: Order.Descending);
        var leaseTask = db.StringGetAsync(keys.Lease(project));
        await Task.WhenAll(desiredTask, statusTask, commandTask, leaseTask);
        // The owner is the lease's holder (docs/fleet.md); the status key says the same but lags a hand-over.
        var lease = LeaseToken.Parse((await leaseTask).ToString());
        var status = Parse<ProjectStatus>(await statusTask);
        var now = DateTimeOffset.UtcNow;

        var heard = _heard.GetValueOrDefault(project);
        IReadOnlyList<EventReport> events = [];
        var tally = status?.Tally;
        var meters = status?.Meters;
        if (heard is not null)
            lock (heard)
            {
                events = [.. heard.Events];
                // Events come as things happen; the status key only every WORKER__STATUSINTERVALMS.
                if (heard.Tally is var (tallyAt, t) && (status is null || tallyAt > status.UpdatedAt)) tally = t;
                if (heard.Meters is var (metersAt, m) && (status is null || metersAt > status.UpdatedAt)) meters = m;
            }

        CommandView? lastCommand = null;
        // A project without a command has an empty stream; StreamEntry's IsNull does not say so of the default entry.
        if ((await commandTask).FirstOrDefault() is { Id.IsNull: false } entry)
        {
            var id = entry.Id.ToString();
            var answer = events.LastOrDefault(e => e.Entry == id) ?? (status?.LastAnswer is { } a && a.Entry == id ? a : null);
            lastCommand = new CommandView(id, entry[CommandExecutor.CommandField].ToString(), answer);
        }

        var buses = status?.Buses.Keys.Order(StringComparer.Ordinal).ToList() ?? [];
        var thumbnails = new List<string>();
        foreach (var bus in buses)
            if (await db.KeyExistsAsync(keys.Thumbnail(project, bus))) thumbnails.Add(bus);

        return new ProjectView(project, SceneRevision.Of((await desiredTask).ToString()), lease?.Worker, lease?.Epoch,
            status is null ? null : Math.Max(0, (now - status.UpdatedAt).TotalSeconds), status, tally, meters, lastCommand, events, thumbnails);
    }

    /// <summary>The JPEG of a bus's latest thumbnail, or null.</summary>
    public async Task<byte[]?> ThumbnailAsync(string project, string bus) =>
        Names.IsValid(project) && Names.IsValid(bus) ? (byte[]?)await redis.GetDatabase().StringGetAsync(keys.Thumbnail(project, bus)) : null;

    private static T? Parse<T>(RedisValue value) where T : class
    {
        if (value.IsNull) return null;
        try { return JsonSerializer.Deserialize(value.ToString(), ControlPlaneJson.Options.Info<T>()); }
        catch (JsonException) { return null; }
    }
}
