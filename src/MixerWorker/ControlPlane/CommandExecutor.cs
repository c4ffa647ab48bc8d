using System.Globalization;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using MixerWorker.Fleet;
using MixerWorker.Observability;
using MixerWorker.Pipeline.Scene;
using StackExchange.Redis;

namespace MixerWorker.ControlPlane;

/// <summary>
/// Carries out a project's command stream entries in order. A helper of <see cref="ProjectRuntime"/>:
/// it runs only under the runtime's gate. parse → refuse if expired or seen → converge on the desired
/// key first if it changed → execute on the mixer → store the resulting scene as the desired state
/// (revision + 1), the entry id as the cursor and the command id in the recent-ids set, and publish
/// <c>commandApplied</c>, all in one MULTI guarded by the desired key's value, the stored cursor (both as
/// they were when the command was carried out) and the project's lease. A worker whose lease lapsed stores
/// nothing: its result is kept with its mixer until it takes the lease back (then stored, if nothing
/// changed meanwhile) or the project stops here (a successor, building from the stored state, carries the
/// entry out). A refused entry moves the cursor and publishes an error, under the same lease guard.
/// </summary>
internal sealed class CommandExecutor(
    RedisKeys keys,
    SceneConvergence convergence,
    ProjectEvents events,
    IOptions<WorkerOptions> workerOptions,
    WorkerMetrics metrics,
    ILogger<CommandExecutor> log)
{
    /// <summary>How many applied command ids are remembered per project for de-duplication.</summary>
    public const int IdWindow = 1000;
    private const int MaxConflicts = 3;
    /// <summary>
    /// The lease condition WATCHes the lease key, and every renewal (PEXPIRE) of it aborts a transaction in
    /// flight although nothing it checks has changed. Such an abort is retried (this many times at most), not
    /// taken for a conflict, which would take the command off air and carry it out again.
    /// </summary>
    private const int MaxSpuriousAborts = 10;
    private readonly WorkerOptions _worker = workerOptions.Value;
    private RedisKeys Keys => keys;

    /// <summary>
    /// Deals with the first entry after the project's cursor (on a conflict, with the same entry again,
    /// against the scene now in force). True when it dealt with one and more may follow. One entry per
    /// call, so that the runtime's gate is let go between commands: a hand-over, a stop or a new desired
    /// state never waits behind a stream of commands.
    /// </summary>
    public async Task<bool> NextLockedAsync(IDatabase db, ProjectRuntime runtime)
    {
        var state = runtime.Show;
        if (!runtime.HoldsLease || state.Mixer is null) return false;
        if (state.Pending is { } pending)
        {
            var stored = await PersistAsync(db, runtime, pending);
            if (state.Pending is null) await runtime.EndCommandAsync();
            return stored != Outcome.Stop;
        }
        for (var conflicts = 0; runtime.HoldsLease; conflicts++)
        {
            state.Cursor ??= (await db.StringGetAsync(Keys.CommandCursor(runtime.Project))) is { IsNull: false } c ? c.ToString() : NoCursor;
            var entries = await db.StreamReadAsync(Keys.Commands(runtime.Project), state.Cursor, 1);
            if (entries.Length == 0 || CompareIds(entries[0].Id.ToString(), state.Cursor) <= 0) return false; // never twice
            var outcome = await HandleAsync(db, runtime, entries[0], conflicts >= MaxConflicts);
            if (outcome != Outcome.Conflict) return outcome == Outcome.Done;
            // Conflict: read it again from the cursor.
        }
        return false;
    }

    /// <summary>Stop: the project was removed, or this worker's lease is no longer the current one.</summary>
    private enum Outcome { Done, Conflict, Stop }

    private async Task<Outcome> HandleAsync(IDatabase db, ProjectRuntime runtime, StreamEntry entry, bool giveUp)
    {
        var state = runtime.Show;
        var project = runtime.Project;
        var entryId = entry.Id.ToString();
        var raw = entry[CommandField];
        if (raw.IsNull)
            return await RefuseAsync(db, runtime, entryId, null, ErrorReasons.InvalidCommand, [$"the stream entry has no '{CommandField}' field"]);
        if (raw.Length() > _worker.MaxCommandBytes)
            return await RefuseAsync(db, runtime, entryId, null, ErrorReasons.Oversized, [$"the command is {raw.Length()} bytes; the limit is {_worker.MaxCommandBytes} bytes"]);
        var json = raw.ToString();

        ShowCommand command;
        try { command = CommandJson.Parse(json); }
        catch (CommandException e) { return await RefuseAsync(db, runtime, entryId, null, e.Reason, e.Errors); }
        var reference = command.Id ?? entryId;

        if (await AgeAsync(db, entryId) is { } age && age > TimeSpan.FromSeconds(_worker.CommandMaxAgeSeconds))
            return await RefuseAsync(db, runtime, entryId, command, ErrorReasons.Expired,
                [$"the command is {age.TotalSeconds:F0} s old; commands older than {_worker.CommandMaxAgeSeconds:F0} s are not carried out"]);
        if (giveUp)
            return await RefuseAsync(db, runtime, entryId, command, ErrorReasons.Conflict,
                ["the desired state kept being replaced by another writer while the command was stored; send it again"]);

        var clock = System.Diagnostics.Stopwatch.StartNew();
        var desiredTask = db.StringGetAsync(Keys.Desired(project));
        var seenTask = command.Id is null ? Task.FromResult<double?>(null) : db.SortedSetScoreAsync(Keys.CommandIds(project), command.Id);
        var before = await desiredTask;
        if (await seenTask is { } appliedAt)
        {
            log.LogInformation("project {Project}: command {Command} ({Entry}) was already applied at revision {Revision}; ignored", project, reference, entryId, (long)appliedAt);
            return await AnswerAsync(db, runtime, entryId, command, events.CommandApplied(project, (long)appliedAt, reference, entryId, duplicate: true));
        }
        // A desired state written meanwhile goes on air first: the command applies to it, not to the one it replaced.
        if (before.ToString() != state.SeenPayload && !before.IsNull)
        {
            await convergence.ConvergeLockedAsync(db, runtime);
            if (!runtime.HoldsLease || state.Mixer is null) return Outcome.Done;
        }

        // Handing over, a command goes on air only while no successor prepares, and the successor takes the
        // lease only once its result is stored: else it would be carried out here, unstored, and again there.
        if (!await runtime.BeginCommandAsync()) return Outcome.Stop;
        try
        {
            var mixer = state.Mixer!;
            var previous = state.AppliedScene;
            SceneDefinition next;
            var engineStart = clock.Elapsed;
            try { next = await mixer.ExecuteAsync(command); }
            catch (SceneException e)
            {
                return await RefuseAsync(db, runtime, entryId, command, ErrorReasons.InvalidCommand, e.Errors);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                log.LogError(e, "project {Project}: command {Command} ({Entry}) failed", project, reference, entryId);
                await RestoreAsync(runtime, previous);
                return await RefuseAsync(db, runtime, entryId, command, ErrorReasons.ApplyFailed, [e.Message]);
            }
            var revision = Math.Max(state.Revision, SceneRevision.Of(before.IsNull ? null : before.ToString())) + 1;
            var pending = new PendingCommand(entryId, command.Id, reference, revision, SceneJson.Write(next with { Revision = revision }), previous)
            {
                Before = before,
                CursorBefore = state.Cursor,
                Timing = (engineStart, clock.Elapsed - engineStart, clock),
                Command = command,
            };
            state.Pending = pending;
            return await PersistAsync(db, runtime, pending);
        }
        finally
        {
            // A result Redis did not take yet keeps its mark (until stored, or the mark's TTL): the successor waits for it.
            if (state.Pending is null) await runtime.EndCommandAsync();
        }
    }

    /// <summary>
    /// Stores a command's result. Conflict when the desired key or the cursor moved meanwhile: then the
    /// command's effect is taken off air again, the stored state is converged on, and the entry is read again
    /// from the stored cursor. Stop when the lease is not this worker's (any more, or not yet again): the
    /// result stays pending with the mixer that carried it out, never carried out a second time by it.
    /// </summary>
    private async Task<Outcome> PersistAsync(IDatabase db, ProjectRuntime runtime, PendingCommand pending)
    {
        var state = runtime.Show;
        var project = runtime.Project;
        var desired = Keys.Desired(project);
        var cursorKey = Keys.CommandCursor(project);
        for (var attempt = 0; ; attempt++)
        {
            var token = runtime.Lease;
            if (token is null) return Outcome.Stop;
            var tx = db.CreateTransaction();
            tx.AddCondition(pending.Before.IsNull ? Condition.KeyNotExists(desired) : Condition.StringEqual(desired, pending.Before));
            tx.AddCondition(Condition.KeyNotExists(Keys.Removed(project)));
            tx.AddCondition(Condition.StringEqual(Keys.Lease(project), token.ToString()));
            tx.AddCondition(pending.CursorBefore is null or NoCursor ? Condition.KeyNotExists(cursorKey) : Condition.StringEqual(cursorKey, pending.CursorBefore));
            _ = tx.StringSetAsync(desired, pending.NextPayload);
            _ = tx.SetAddAsync(Keys.Projects, project); // a Redis that lost its data gets the project back
            _ = tx.StringSetAsync(cursorKey, pending.Entry);
            if (pending.Id is { } id)
            {
                _ = tx.SortedSetAddAsync(Keys.CommandIds(project), id, pending.Revision);
                _ = tx.SortedSetRemoveRangeByRankAsync(Keys.CommandIds(project), 0, -(IdWindow + 1));
            }
            var applied = events.CommandApplied(project, pending.Revision, pending.Reference, pending.Entry) with { Epoch = token.Epoch };
            _ = ProjectEvents.PublishAsync(tx, Keys, applied);
            if (await tx.ExecuteAsync())
            {
                metrics.CommandAnswered(pending.Command, Answered.Applied, pending.Entry);
                runtime.Noticed(applied);
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

            if (await db.StringGetAsync(Keys.Lease(project)) is var holder && holder != token.ToString())
            {
                // Fenced: the lease lapsed while the command was carried out (this worker was paused, starved or
                // cut off). The result stays pending with this mixer, which must not carry the entry out again:
                // the lease keeper takes the lease back (then it is stored, if nothing moved meanwhile) or finds
                // it taken (then this mixer stops, and the new owner carries the entry out on a mixer built from
                // the stored state, which never saw it).
                if (!pending.Fenced)
                    log.LogWarning("project {Project}: command {Command} ({Entry}) carried out but not stored: this worker's lease (epoch {Epoch}) lapsed meanwhile ({Holder}); the result is kept until the lease is taken back or the project stops here",
                        project, pending.Reference, pending.Entry, token.Epoch, LeaseToken.Parse(holder) is { } h ? $"{h.Worker} holds it at epoch {h.Epoch}" : "nobody holds it");
                pending.Fenced = true;
                return Outcome.Stop;
            }
            if (await db.KeyExistsAsync(Keys.Removed(project)))
            {
                state.Pending = null; // the project is being removed; its mixer stops next
                return Outcome.Stop;
            }
            var current = await db.StringGetAsync(desired);
            var cursor = await db.StringGetAsync(cursorKey);
            if (current == pending.NextPayload && cursor == pending.Entry)
            {
                // An earlier EXEC went through but its reply was lost with the connection: it is stored.
                state.Pending = null;
                state.Revision = pending.Revision;
                state.SeenPayload = state.AppliedScene = pending.NextPayload;
                state.Cursor = pending.Entry;
                return Outcome.Done;
            }
            var cursorKept = cursor.IsNull ? pending.CursorBefore is null or NoCursor : cursor == pending.CursorBefore;
            if ((current.IsNull ? pending.Before.IsNull : current == pending.Before) && cursorKept && attempt < MaxSpuriousAborts)
            {
                log.LogDebug("project {Project}: storing command {Command} ({Entry}) again: a renewal of the lease aborted the transaction", project, pending.Reference, pending.Entry);
                continue; // nothing changed (see MaxSpuriousAborts)
            }
            if (current.IsNull && cursor.IsNull && attempt == 0)
            {
                // Redis lost its data: the result becomes the desired state
                pending.Before = RedisValue.Null;
                pending.CursorBefore = null;
                continue;
            }
            log.LogWarning("project {Project}: the stored state moved ({What}) while command {Command} ({Entry}) was stored; taking it back and reading the entry again from the stored cursor",
                project, cursorKept ? "the desired state was replaced" : "the cursor moved", pending.Reference, pending.Entry);
            state.Pending = null;
            state.Cursor = null;
            await RestoreAsync(runtime, pending.PreviousScene);
            await convergence.ConvergeLockedAsync(db, runtime);
            return Outcome.Conflict;
        }
    }

    /// <summary>Puts the scene on air that was there before a command that failed or could not be stored.</summary>
    private async Task RestoreAsync(ProjectRuntime runtime, string? previous)
    {
        var state = runtime.Show;
        if (previous is null || state.Mixer is not { } mixer) return;
        try { await mixer.ApplyAsync(SceneJson.Parse(previous)); }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            log.LogError(e, "project {Project}: could not restore revision {Revision} after a failed command", runtime.Project, state.Revision);
        }
        state.SeenPayload = null; // the next resync looks at the desired state again
        state.AppliedScene = previous;
    }

    private async Task<Outcome> RefuseAsync(IDatabase db, ProjectRuntime runtime, string entryId, ShowCommand? command, string reason, IReadOnlyList<string> errors)
    {
        var id = command?.Id;
        log.LogWarning("project {Project}: command {Command} refused ({Reason}): {Errors}; what is on air stays", runtime.Project, id ?? entryId, reason, string.Join("; ", errors));
        return await AnswerAsync(db, runtime, entryId, command, events.CommandRefused(runtime.Project, runtime.Show.Revision, id ?? entryId, entryId, reason, errors));
    }

    /// <summary>Moves the cursor past an entry that changed nothing, and answers it (only while the lease is this worker's).</summary>
    private async Task<Outcome> AnswerAsync(IDatabase db, ProjectRuntime runtime, string entryId, ShowCommand? command, ProjectEvent answer)
    {
        if (runtime.Lease is not { } token) return Outcome.Stop;
        answer = answer with { Epoch = token.Epoch };
        for (var attempt = 0; ; attempt++)
        {
            var tx = db.CreateTransaction();
            tx.AddCondition(Condition.StringEqual(Keys.Lease(runtime.Project), token.ToString()));
            _ = tx.StringSetAsync(Keys.CommandCursor(runtime.Project), entryId);
            _ = ProjectEvents.PublishAsync(tx, Keys, answer);
            if (await tx.ExecuteAsync()) break;
            // Aborted by a renewal of the lease (see MaxSpuriousAborts), or the lease is gone.
            if (attempt >= MaxSpuriousAborts || await db.StringGetAsync(Keys.Lease(runtime.Project)) != token.ToString()) return Outcome.Stop;
        }
        metrics.CommandAnswered(command, answer.Duplicate == true ? Answered.Duplicate : answer.Reason ?? Answered.Applied, entryId);
        runtime.Noticed(answer);
        runtime.Show.Cursor = entryId;
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

    /// <summary>The in-memory cursor of a project whose cursor key does not exist (no entry dealt with yet).</summary>
    private const string NoCursor = "0-0";

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
