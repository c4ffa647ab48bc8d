using System.Threading.Channels;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using MixerWorker.Pipeline.Engine;
using MixerWorker.Pipeline.Scene;
using StackExchange.Redis;

namespace MixerWorker.ControlPlane;

/// <summary>
/// Publishes each running project's status: the status key (with a TTL, so that a dead worker's status
/// disappears) at every interval, a status event when something changed, a tally event as soon as the
/// tally changes, and meters events at most every WORKER__METERSINTERVALMS.
/// </summary>
internal sealed class StatusService : BackgroundService
{
    private readonly RedisConnection _redis;
    private readonly RunningProjects _running;
    private readonly WorkerOptions _worker;
    private readonly ILogger<StatusService> _log;
    private readonly Dictionary<string, string> _published = [];
    private readonly Dictionary<string, string> _tallyPublished = [];
    private readonly Channel<ProjectState> _tallyChanged = Channel.CreateUnbounded<ProjectState>();

    public StatusService(RedisConnection redis, RunningProjects running, IOptions<WorkerOptions> worker, ILogger<StatusService> log)
    {
        (_redis, _running, _worker, _log) = (redis, running, worker.Value, log);
        running.Started += OnStarted;
    }

    private void OnStarted(ProjectState state)
    {
        if (state.Mixer is not { } mixer) return;
        // Raised on the mixer's control thread: only note it and hand it over.
        mixer.TallyChanged += tally =>
        {
            state.Tally = tally;
            _tallyChanged.Writer.TryWrite(state);
        };
        _ = Task.Run(async () =>
        {
            try
            {
                var tally = await mixer.GetTallyAsync();
                if (state.Tally is null) state.Tally = tally;
                _tallyChanged.Writer.TryWrite(state);
            }
            catch (ObjectDisposedException) { }
        });
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var connection = await _redis.GetAsync();
        await Task.WhenAll(StatusLoopAsync(connection, stoppingToken), TallyLoopAsync(connection, stoppingToken), MetersLoopAsync(connection, stoppingToken));
    }

    private async Task StatusLoopAsync(IConnectionMultiplexer connection, CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(_worker.StatusIntervalMs));
        do
        {
            await _redis.Resilience.ExecuteAsync(async _ => await PublishAllAsync(connection.GetDatabase()), stoppingToken);
        } while (await timer.WaitForNextTickAsync(stoppingToken).AsTask().ContinueWith(t => t.IsCompletedSuccessfully && t.Result));
    }

    private async Task PublishAllAsync(IDatabase db)
    {
        var ttl = TimeSpan.FromSeconds(_worker.StatusTtlSeconds);
        foreach (var state in _running.Running)
        {
            if (await StatusOfAsync(state) is not { } status) continue;
            await state.StatusWrite.WaitAsync();
            try
            {
                if (state.Removed) continue;
                await db.StringSetAsync(_redis.Keys.Status(status.Project), ControlPlaneJson.Write(status), ttl);
            }
            finally { state.StatusWrite.Release(); }
            var signature = status.Signature();
            if (_published.TryGetValue(status.Project, out var last) && last == signature) continue;
            _published[status.Project] = signature;
            _log.LogInformation("project {Project} revision {Revision}: inputs {Inputs}; buses {Buses}", status.Project, status.Revision,
                string.Join(", ", status.Inputs.Select(i => $"{i.Key}={i.Value.State}{(i.Value.Ingest is { } g ? $" ({g})" : "")}")),
                string.Join(", ", status.Buses.Select(b => $"{b.Key}={b.Value.Output}{(b.Value.Published is { } p ? p ? " (published)" : " (not published)" : "")}")));
            await db.PublishAsync(_redis.Keys.Events(status.Project),
                ControlPlaneJson.Write(new ProjectEvent { Type = EventTypes.Status, Project = status.Project, Revision = status.Revision, Worker = _worker.Id, Status = status }));
        }
    }

    private async Task<ProjectStatus?> StatusOfAsync(ProjectState state)
    {
        if (state.Mixer is not { } mixer) return null;
        MixerStatus s;
        AudioMeters meters;
        try
        {
            s = await mixer.GetStatusAsync();
            meters = mixer.GetMeters();
        }
        catch (ObjectDisposedException) { return null; } // stopped between listing and asking
        // Connected although MediaMTX called it offline (the slow poll found it, INGEST_ONLINE was lost): it is back.
        foreach (var (input, report) in s.Inputs)
            if (report.State == ConnectionState.Connected && state.IngestOnline.TryGetValue(input, out var known) && !known)
            {
                state.IngestOnline[input] = true;
                mixer.SetInputExpected(input, true);
            }
        var now = DateTimeOffset.UtcNow;
        var (lastAnswer, errors) = state.Notices;
        return new ProjectStatus
        {
            Project = state.Project,
            Worker = _worker.Id,
            Revision = state.Revision,
            UpdatedAt = now,
            LastCommand = state.Cursor is "0-0" ? null : state.Cursor,
            Inputs = s.Inputs.ToDictionary(i => i.Key, i => new InputReport(i.Value.State, i.Value.Error, i.Value.Attempts, i.Value.Since,
                state.IngestOnline.TryGetValue(i.Key, out var online) ? online ? "online" : "offline" : null,
                i.Value.FramesIn, i.Value.DecodeErrors, now - i.Value.SinceLastFrame)),
            Buses = s.Buses.ToDictionary(b => b.Key, b => new BusReport(b.Value.Output, b.Value.Error, b.Value.FramesOut, b.Value.Encoder,
                state.OutputPublished.TryGetValue(b.Key, out var published) ? published : null, b.Value.Attempts, b.Value.BytesSent)),
            Tally = state.Tally?.Buses,
            Meters = meters.Inputs.Count + meters.Buses.Count > 0 ? meters : null,
            LastAnswer = lastAnswer,
            Errors = errors.Count > 0 ? errors : null,
        };
    }

    private async Task TallyLoopAsync(IConnectionMultiplexer connection, CancellationToken stoppingToken)
    {
        try
        {
            await foreach (var state in _tallyChanged.Reader.ReadAllAsync(stoppingToken))
            {
                if (state.Removed || state.Tally is not { } tally) continue;
                var signature = string.Join(";", tally.Buses.OrderBy(b => b.Key).Select(b => $"{b.Key}:{string.Join(",", b.Value.OnAir)}/{string.Join(",", b.Value.Preview)}"));
                if (_tallyPublished.TryGetValue(state.Project, out var last) && last == signature) continue;
                _tallyPublished[state.Project] = signature;
                await _redis.Resilience.ExecuteAsync(async _ => await connection.GetDatabase().PublishAsync(_redis.Keys.Events(state.Project),
                    ControlPlaneJson.Write(new ProjectEvent { Type = EventTypes.Tally, Project = state.Project, Revision = state.Revision, Worker = _worker.Id, Tally = tally.Buses })), stoppingToken);
            }
        }
        catch (OperationCanceledException) { }
    }

    private async Task MetersLoopAsync(IConnectionMultiplexer connection, CancellationToken stoppingToken)
    {
        if (_worker.MetersIntervalMs == 0) return;
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(_worker.MetersIntervalMs));
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                foreach (var state in _running.Running)
                {
                    if (state.Mixer is not { } mixer) continue;
                    AudioMeters meters;
                    try { meters = mixer.GetMeters(); }
                    catch (ObjectDisposedException) { continue; }
                    if (meters.Inputs.Count + meters.Buses.Count == 0) continue;
                    // Fire and forget: a meters event lost while Redis is away is replaced by the next one.
                    try
                    {
                        await connection.GetDatabase().PublishAsync(_redis.Keys.Events(state.Project),
                            ControlPlaneJson.Write(new ProjectEvent { Type = EventTypes.Meters, Project = state.Project, Worker = _worker.Id, Meters = meters }));
                    }
                    catch (Exception e) when (e is RedisConnectionException or RedisTimeoutException) { }
                }
            }
        }
        catch (OperationCanceledException) { }
    }
}
