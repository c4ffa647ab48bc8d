using System.Collections.Concurrent;
using System.Globalization;
using System.Threading.Channels;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using MixerWorker.Observability;
using MixerWorker.Pipeline.Scene;
using StackExchange.Redis;

namespace MixerWorker.ControlPlane;

/// <summary>
/// Reads every running project's command stream (mixer:{p}:commands) in order, one reader per project.
/// A <c>command</c> message on the project's channel wakes its reader at once; without one the stream
/// is read every WORKER__COMMANDPOLLMS, so a writer that only XADDs is served too, a little later.
/// What one entry does is <see cref="CommandExecutor"/>'s job.
/// </summary>
internal sealed class CommandService : BackgroundService
{
    private readonly RedisConnection _redis;
    private readonly RunningProjects _running;
    private readonly CommandExecutor _executor;
    private readonly WorkerOptions _worker;
    private readonly ILogger<CommandService> _log;
    private readonly ConcurrentDictionary<string, Reader> _readers = new();
    private CancellationToken _stopping;
    private bool _started;

    public CommandService(RedisConnection redis, RunningProjects running, CommandExecutor executor, IOptions<WorkerOptions> worker, ILogger<CommandService> log)
    {
        (_redis, _running, _executor, _worker, _log) = (redis, running, executor, worker.Value, log);
        // Subscribed before any service starts, so that no mixer start is missed.
        running.Started += OnStarted;
        running.Stopped += OnStopped;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var connection = await _redis.GetAsync();
        await _redis.Resilience.ExecuteAsync(async _ =>
            await connection.GetSubscriber().SubscribeAsync(_redis.Keys.AllEvents, OnEvent), stoppingToken);
        lock (_readers)
        {
            _stopping = stoppingToken;
            _started = true;
        }
        foreach (var state in _running.Running) OnStarted(state);
        try { await Task.Delay(Timeout.Infinite, stoppingToken); }
        catch (OperationCanceledException) { }
        await Task.WhenAll(_readers.Values.Select(r => r.Loop));
    }

    private void OnEvent(RedisChannel channel, RedisValue message)
    {
        if (_redis.Keys.ProjectOf(channel) is { } project && _readers.TryGetValue(project, out var reader)
            && DesiredStateService.TypeOf(message.ToString()) == EventTypes.Command)
            reader.Wake.Writer.TryWrite(true);
    }

    private void OnStarted(ProjectState state)
    {
        lock (_readers)
        {
            if (!_started || _stopping.IsCancellationRequested || _readers.ContainsKey(state.Project)) return;
            var reader = new Reader(state, CancellationTokenSource.CreateLinkedTokenSource(_stopping));
            _readers[state.Project] = reader;
            reader.Loop = Task.Run(() => ReadAsync(reader));
        }
    }

    private void OnStopped(ProjectState state)
    {
        lock (_readers)
        {
            if (_readers.TryGetValue(state.Project, out var reader) && reader.State == state)
            {
                _readers.TryRemove(state.Project, out _);
                reader.Stop.Cancel();
            }
        }
    }

    private async Task ReadAsync(Reader reader)
    {
        var token = reader.Stop.Token;
        var db = (await _redis.GetAsync()).GetDatabase();
        var poll = TimeSpan.FromMilliseconds(_worker.CommandPollMs);
        while (!token.IsCancellationRequested)
        {
            try
            {
                await _redis.Resilience.ExecuteAsync(async _ => await _executor.DrainAsync(db, reader.State), token);
            }
            catch (OperationCanceledException) when (token.IsCancellationRequested) { break; }
            catch (Exception e)
            {
                _log.LogError(e, "project {Project}: reading commands failed", reader.State.Project);
                await Task.Delay(poll * 4, token).ContinueWith(_ => { });
            }
            using var wait = CancellationTokenSource.CreateLinkedTokenSource(token);
            wait.CancelAfter(poll);
            try { await reader.Wake.Reader.ReadAsync(wait.Token); }
            catch (OperationCanceledException) { /* poll, or stopping */ }
        }
    }

    private sealed class Reader(ProjectState state, CancellationTokenSource stop)
    {
        public ProjectState State { get; } = state;
        public CancellationTokenSource Stop { get; } = stop;
        public Channel<bool> Wake { get; } = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
        public Task Loop { get; set; } = Task.CompletedTask;
    }
}

/// <summary>A command carried out on the mixer whose result is not stored yet (Redis failed in between).</summary>
internal sealed record PendingCommand(string Entry, string? Id, string Reference, long Revision, string NextPayload, string? PreviousScene)
{
    /// <summary>The command, for the metrics.</summary>
    public ShowCommand? Command { get; init; }
    /// <summary>The desired key's value the result replaces (null: the key did not exist).</summary>
    public RedisValue Before { get; set; }
    /// <summary>For the log: time before the engine, on the engine, and the clock started at the entry.</summary>
    public (TimeSpan Before, TimeSpan Engine, System.Diagnostics.Stopwatch? Clock) Timing { get; init; }
}

/// <summary>
/// Carries out a project's command stream entries in order, under the project's gate:
/// parse → refuse if expired or seen → converge on the desired key first if it changed → execute on
/// the mixer → store the resulting scene as the desired state (revision + 1), the entry id as the
/// cursor and the command id in the recent-ids set, and publish <c>commandApplied</c>, all in one
/// MULTI guarded by the desired key's value. A refused entry moves the cursor and publishes an error.
/// </summary>
internal sealed class CommandExecutor(
    RedisConnection redis,
    ProjectConverger converger,
    IOptions<WorkerOptions> workerOptions,
    WorkerMetrics metrics,
    ILogger<CommandExecutor> log)
{
    /// <summary>How many applied command ids are remembered per project for de-duplication.</summary>
    public const int IdWindow = 1000;
    private const int BatchSize = 64;
    private const int MaxConflicts = 3;
    private readonly WorkerOptions _worker = workerOptions.Value;
    private RedisKeys Keys => redis.Keys;

    /// <summary>Deals with every entry after the project's cursor.</summary>
    public async Task DrainAsync(IDatabase db, ProjectState state)
    {
        await state.Gate.WaitAsync();
        try
        {
            if (state.Removed || state.Mixer is null) return;
            if (state.Pending is { } pending && await PersistAsync(db, state, pending) == Outcome.Removed) return;
            state.Cursor ??= (await db.StringGetAsync(Keys.CommandCursor(state.Project))) is { IsNull: false } c ? c.ToString() : "0-0";
            var conflicts = 0;
            while (!state.Removed)
            {
                var entries = await db.StreamReadAsync(Keys.Commands(state.Project), state.Cursor, BatchSize);
                if (entries.Length == 0) return;
                foreach (var entry in entries)
                {
                    if (state.Removed) return;
                    if (CompareIds(entry.Id.ToString(), state.Cursor) <= 0) continue; // never twice
                    var outcome = await HandleAsync(db, state, entry, conflicts >= MaxConflicts);
                    if (outcome == Outcome.Removed) return;
                    if (outcome == Outcome.Conflict)
                    {
                        conflicts++;
                        break; // read again from the cursor: the same entry, against the scene now in force
                    }
                    conflicts = 0;
                }
            }
        }
        finally { state.Gate.Release(); }
    }

    private enum Outcome { Done, Conflict, Removed }

    private async Task<Outcome> HandleAsync(IDatabase db, ProjectState state, StreamEntry entry, bool giveUp)
    {
        var entryId = entry.Id.ToString();
        var raw = entry[CommandField];
        if (raw.IsNull)
            return await RefuseAsync(db, state, entryId, null, ErrorReasons.InvalidCommand, [$"the stream entry has no '{CommandField}' field"]);
        if (raw.Length() > _worker.MaxCommandBytes)
            return await RefuseAsync(db, state, entryId, null, ErrorReasons.Oversized, [$"the command is {raw.Length()} bytes; the limit is {_worker.MaxCommandBytes} bytes"]);
        var json = raw.ToString();

        ShowCommand command;
        try { command = CommandJson.Parse(json); }
        catch (CommandException e) { return await RefuseAsync(db, state, entryId, null, e.Reason, e.Errors); }
        var reference = command.Id ?? entryId;

        if (await AgeAsync(db, entryId) is { } age && age > TimeSpan.FromSeconds(_worker.CommandMaxAgeSeconds))
            return await RefuseAsync(db, state, entryId, command, ErrorReasons.Expired,
                [$"the command is {age.TotalSeconds:F0} s old; commands older than {_worker.CommandMaxAgeSeconds:F0} s are not carried out"]);
        if (giveUp)
            return await RefuseAsync(db, state, entryId, command, ErrorReasons.Conflict,
                ["the desired state kept being replaced by another writer while the command was stored; send it again"]);

        var clock = System.Diagnostics.Stopwatch.StartNew();
        var desiredTask = db.StringGetAsync(Keys.Desired(state.Project));
        var seenTask = command.Id is null ? Task.FromResult<double?>(null) : db.SortedSetScoreAsync(Keys.CommandIds(state.Project), command.Id);
        var before = await desiredTask;
        if (await seenTask is { } appliedAt)
        {
            log.LogInformation("project {Project}: command {Command} ({Entry}) was already applied at revision {Revision}; ignored", state.Project, reference, entryId, (long)appliedAt);
            return await AnswerAsync(db, state, entryId, command, new ProjectEvent
            {
                Type = EventTypes.CommandApplied, Project = state.Project, Revision = (long)appliedAt, Worker = _worker.Id,
                Command = reference, Entry = entryId, Duplicate = true,
            });
        }
        // A desired state written meanwhile goes on air first: the command applies to it, not to the one it replaced.
        if (before.ToString() != state.SeenPayload && !before.IsNull)
        {
            await converger.ConvergeLockedAsync(db, state);
            if (state.Removed || state.Mixer is null) return Outcome.Done;
        }

        var mixer = state.Mixer!;
        var previous = state.AppliedScene;
        SceneDefinition next;
        var engineStart = clock.Elapsed;
        try { next = await mixer.ExecuteAsync(command); }
        catch (SceneException e)
        {
            return await RefuseAsync(db, state, entryId, command, ErrorReasons.InvalidCommand, e.Errors);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            log.LogError(e, "project {Project}: command {Command} ({Entry}) failed", state.Project, reference, entryId);
            await RestoreAsync(state, previous);
            return await RefuseAsync(db, state, entryId, command, ErrorReasons.ApplyFailed, [e.Message]);
        }
        var revision = Math.Max(state.Revision, SceneRevision.Of(before.IsNull ? null : before.ToString())) + 1;
        var pending = new PendingCommand(entryId, command.Id, reference, revision, SceneJson.Write(next with { Revision = revision }), previous)
        {
            Before = before,
            Timing = (engineStart, clock.Elapsed - engineStart, clock),
            Command = command,
        };
        state.Pending = pending;
        return await PersistAsync(db, state, pending);
    }

    /// <summary>
    /// Stores a command's result. Conflict when the desired key was replaced meanwhile: then the command's
    /// effect is taken off air again, the new desired state is converged on, and the entry is to be read again.
    /// </summary>
    private async Task<Outcome> PersistAsync(IDatabase db, ProjectState state, PendingCommand pending)
    {
        var project = state.Project;
        var desired = Keys.Desired(project);
        for (var attempt = 0; ; attempt++)
        {
            var tx = db.CreateTransaction();
            tx.AddCondition(pending.Before.IsNull ? Condition.KeyNotExists(desired) : Condition.StringEqual(desired, pending.Before));
            tx.AddCondition(Condition.KeyNotExists(Keys.Removed(project)));
            _ = tx.StringSetAsync(desired, pending.NextPayload);
            _ = tx.SetAddAsync(Keys.Projects, project); // a Redis that lost its data gets the project back
            _ = tx.StringSetAsync(Keys.CommandCursor(project), pending.Entry);
            if (pending.Id is { } id)
            {
                _ = tx.SortedSetAddAsync(Keys.CommandIds(project), id, pending.Revision);
                _ = tx.SortedSetRemoveRangeByRankAsync(Keys.CommandIds(project), 0, -(IdWindow + 1));
            }
            var applied = new ProjectEvent
            {
                Type = EventTypes.CommandApplied, Project = project, Revision = pending.Revision, Worker = _worker.Id, Command = pending.Reference, Entry = pending.Entry,
            };
            _ = tx.PublishAsync(Keys.Events(project), ControlPlaneJson.Write(applied));
            if (await tx.ExecuteAsync())
            {
                metrics.CommandAnswered(pending.Command, Answered.Applied, pending.Entry);
                state.Noticed(applied);
                state.Pending = null;
                state.Revision = pending.Revision;
                state.SeenPayload = pending.NextPayload; // the worker's own write is no change to converge on
                state.AppliedScene = pending.NextPayload;
                state.Cursor = pending.Entry;
                if (pending.Timing is var (before, engine, clock) && clock is not null)
                    log.LogInformation("project {Project}: command {Command} ({Entry}) applied, revision {Revision} ({BeforeMs:F1} ms reading, {EngineMs:F1} ms on the engine, {StoreMs:F1} ms storing)",
                        project, pending.Reference, pending.Entry, pending.Revision, before.TotalMilliseconds, engine.TotalMilliseconds, (clock.Elapsed - before - engine).TotalMilliseconds);
                else
                    log.LogInformation("project {Project}: command {Command} ({Entry}) applied, revision {Revision}", project, pending.Reference, pending.Entry, pending.Revision);
                return Outcome.Done;
            }

            if (await db.KeyExistsAsync(Keys.Removed(project)))
            {
                state.Pending = null; // the project is being removed; its mixer stops next
                return Outcome.Removed;
            }
            var current = await db.StringGetAsync(desired);
            if (current == pending.NextPayload && await db.StringGetAsync(Keys.CommandCursor(project)) == pending.Entry)
            {
                // An earlier EXEC went through but its reply was lost with the connection: it is stored.
                state.Pending = null;
                state.Revision = pending.Revision;
                state.SeenPayload = state.AppliedScene = pending.NextPayload;
                state.Cursor = pending.Entry;
                return Outcome.Done;
            }
            if (current.IsNull && attempt == 0)
            {
                pending.Before = RedisValue.Null; // Redis lost its data: the result becomes the desired state
                continue;
            }
            log.LogWarning("project {Project}: the desired state was replaced while command {Command} ({Entry}) was stored; carrying it out again on the new one",
                project, pending.Reference, pending.Entry);
            state.Pending = null;
            await RestoreAsync(state, pending.PreviousScene);
            await converger.ConvergeLockedAsync(db, state);
            return Outcome.Conflict;
        }
    }

    /// <summary>Puts the scene on air that was there before a command that failed or could not be stored.</summary>
    private async Task RestoreAsync(ProjectState state, string? previous)
    {
        if (previous is null || state.Mixer is not { } mixer) return;
        try { await mixer.ApplyAsync(SceneJson.Parse(previous)); }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            log.LogError(e, "project {Project}: could not restore revision {Revision} after a failed command", state.Project, state.Revision);
            state.SeenPayload = null; // the next resync tries the desired state again
        }
        state.SeenPayload = null;
        state.AppliedScene = previous;
    }

    private async Task<Outcome> RefuseAsync(IDatabase db, ProjectState state, string entryId, ShowCommand? command, string reason, IReadOnlyList<string> errors)
    {
        var id = command?.Id;
        log.LogWarning("project {Project}: command {Command} refused ({Reason}): {Errors}; what is on air stays", state.Project, id ?? entryId, reason, string.Join("; ", errors));
        return await AnswerAsync(db, state, entryId, command, new ProjectEvent
        {
            Type = EventTypes.Error, Project = state.Project, Revision = state.Revision, Worker = _worker.Id,
            Command = id ?? entryId, Entry = entryId, Reason = reason, Errors = errors,
        });
    }

    /// <summary>Moves the cursor past an entry that changed nothing, and answers it.</summary>
    private async Task<Outcome> AnswerAsync(IDatabase db, ProjectState state, string entryId, ShowCommand? command, ProjectEvent answer)
    {
        var tx = db.CreateTransaction();
        _ = tx.StringSetAsync(Keys.CommandCursor(state.Project), entryId);
        _ = tx.PublishAsync(Keys.Events(state.Project), ControlPlaneJson.Write(answer));
        await tx.ExecuteAsync();
        metrics.CommandAnswered(command, answer.Duplicate == true ? Answered.Duplicate : answer.Reason ?? Answered.Applied, entryId);
        state.Noticed(answer);
        state.Cursor = entryId;
        return Outcome.Done;
    }

    /// <summary>The age of an entry from its id (Redis's clock, in ms); the local clock is trusted only when it says "recent".</summary>
    private async Task<TimeSpan?> AgeAsync(IDatabase db, string entryId)
    {
        if (!long.TryParse(entryId.Split('-')[0], NumberStyles.None, CultureInfo.InvariantCulture, out var ms)) return null;
        var added = DateTimeOffset.FromUnixTimeMilliseconds(ms);
        var age = DateTimeOffset.UtcNow - added;
        if (age <= TimeSpan.FromSeconds(_worker.CommandMaxAgeSeconds)) return age;
        // Old by the local clock: ask Redis's, which wrote the id, before refusing.
        var time = (RedisResult[]?)await db.ExecuteAsync("TIME");
        if (time is not { Length: 2 }) return age;
        var now = DateTimeOffset.FromUnixTimeMilliseconds((long)time[0] * 1000 + (long)time[1] / 1000);
        return now - added;
    }

    internal const string CommandField = "command";

    /// <summary>The result label of an answer that is not a refusal (refusals carry their reason).</summary>
    private static class Answered
    {
        public const string Applied = "applied", Duplicate = "duplicate";
    }

    /// <summary>Orders stream ids ("ms-seq").</summary>
    internal static int CompareIds(string a, string? b)
    {
        if (b is null) return 1;
        static (ulong, ulong) Split(string id)
        {
            var parts = id.Split('-');
            return (ulong.TryParse(parts[0], CultureInfo.InvariantCulture, out var ms) ? ms : 0,
                    parts.Length > 1 && ulong.TryParse(parts[1], CultureInfo.InvariantCulture, out var seq) ? seq : 0);
        }
        return Split(a).CompareTo(Split(b));
    }
}
