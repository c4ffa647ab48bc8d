using System.Collections.Concurrent;
using System.Diagnostics;
using Microsoft.Extensions.Options;
using MixerWorker.ControlPlane;
using StackExchange.Redis;

namespace MixerWorker.Fleet;

/// <summary>
/// The lease operations of this worker, on the lease connection, each bounded by FLEET__RENEWTIMEOUTMS.
/// A call that gets no answer in time may still have been carried out: acquisitions are then settled by
/// reading who holds the lease (the value carries a nonce only this attempt knows), at once, or, when
/// that read gets no answer either, whenever the placement next sees the lease (<see cref="TryAdopt"/>).
/// </summary>
internal sealed class LeaseStore(LeaseConnection connection, IOptions<FleetOptions> fleet, IOptions<WorkerOptions> worker)
{
    private readonly FleetOptions _fleet = fleet.Value;
    private readonly string _worker = worker.Value.Id;
    private readonly ConcurrentDictionary<string, (string Nonce, long SentAt)> _unsettled = new();
    private RedisKeys Keys => connection.Keys;

    public string Worker => _worker;

    public async Task<AcquireResult> AcquireAsync(string project, long epochFloor, string reason)
    {
        var nonce = LeaseToken.NewNonce();
        var sentAt = Stopwatch.GetTimestamp();
        _unsettled.TryRemove(project, out _);
        try
        {
            var db = await connection.GetAsync();
            var r = (RedisResult[])(await Bounded(db.ScriptEvaluateAsync(LeaseScripts.Acquire,
                [Keys.Lease(project), Keys.Epoch(project), Keys.LastLease(project)],
                [_worker, nonce, _fleet.LeaseTtlMs, epochFloor, Keys.Events(project).ToString(), project, reason])))!;
            var value = LeaseToken.Parse((string?)r[1]);
            return (long)r[0] == 1 ? new AcquireResult(value, value) { Previous = r.Length > 2 ? (string?)r[2] ?? "" : null } : new AcquireResult(null, value);
        }
        catch (Exception e) when (IsUnanswered(e))
        {
            // The script may have run. Whoever holds the lease now says whether it was us.
            try
            {
                var holder = await ReadAsync(project);
                return holder?.Nonce == nonce ? new AcquireResult(holder, holder) : new AcquireResult(null, holder, Describe(e));
            }
            catch (Exception again) when (IsUnanswered(again))
            {
                _unsettled[project] = (nonce, sentAt);
                return new AcquireResult(null, null, Describe(e));
            }
        }
    }

    /// <summary>
    /// True when <paramref name="holder"/> is the lease an unanswered acquisition of this worker took after
    /// all; <paramref name="sentAt"/> is when that request left (its confirmation time, on the safe side).
    /// </summary>
    public bool TryAdopt(string project, LeaseToken holder, out long sentAt)
    {
        sentAt = 0;
        if (holder.Worker != _worker || !_unsettled.TryGetValue(project, out var attempt) || attempt.Nonce != holder.Nonce) return false;
        _unsettled.TryRemove(project, out _);
        sentAt = attempt.SentAt;
        return true;
    }

    public async Task<RenewResult> RenewAsync(string project, LeaseToken token)
    {
        try
        {
            var db = await connection.GetAsync();
            var r = await Bounded(db.ScriptEvaluateAsync(LeaseScripts.Renew, [Keys.Lease(project)], [token.ToString(), _fleet.LeaseTtlMs]));
            if (r.Resp2Type == ResultType.Integer) return new RenewResult((long)r == 1 ? RenewOutcome.Renewed : RenewOutcome.Missing);
            return new RenewResult(RenewOutcome.Taken, LeaseToken.Parse((string?)r));
        }
        catch (Exception e) when (IsUnanswered(e)) { return new RenewResult(RenewOutcome.Unknown, Error: Describe(e)); }
    }

    public async Task<LeaseToken?> ReadAsync(string project)
    {
        var db = await connection.GetAsync();
        return LeaseToken.Parse(await Bounded(db.StringGetAsync(Keys.Lease(project))));
    }

    /// <summary>Gives the lease up (it and the status go; "released" goes out). False when it was no longer ours or the answer did not come.</summary>
    public async Task<bool> ReleaseAsync(string project, LeaseToken token, string reason)
    {
        try
        {
            var db = await connection.GetAsync();
            return (long)await Bounded(db.ScriptEvaluateAsync(LeaseScripts.Release,
                [Keys.Lease(project), Keys.LastLease(project), Keys.Status(project)],
                [token.ToString(), Keys.Events(project).ToString(), project, _worker, token.Epoch, reason])) == 1;
        }
        catch (Exception e) when (IsUnanswered(e)) { return false; }
    }

    public async Task<bool> OfferHandOverAsync(string project, LeaseToken token, TimeSpan ttl)
    {
        try
        {
            var db = await connection.GetAsync();
            return (long)await Bounded(db.ScriptEvaluateAsync(LeaseScripts.OfferHandOver, [Keys.Lease(project), Keys.HandOver(project)],
                [token.ToString(), (long)ttl.TotalMilliseconds, Keys.Events(project).ToString(), project, _worker, token.Epoch])) == 1;
        }
        catch (Exception e) when (IsUnanswered(e)) { return false; }
    }

    /// <summary>Becomes the one successor of an offered project; returns the successor value to take over with, or null.</summary>
    public async Task<string?> ClaimSuccessionAsync(string project, TimeSpan ttl)
    {
        var value = $"{_worker}:{LeaseToken.NewNonce()}";
        try
        {
            var db = await connection.GetAsync();
            var won = (long)await Bounded(db.ScriptEvaluateAsync(LeaseScripts.ClaimSuccession, [Keys.HandOver(project), Keys.Successor(project)],
                [value, (long)ttl.TotalMilliseconds])) == 1;
            return won ? value : null;
        }
        catch (Exception e) when (IsUnanswered(e))
        {
            // Settled by reading who the successor is.
            try { return await Bounded((await connection.GetAsync()).StringGetAsync(Keys.Successor(project))) == value ? value : null; }
            catch (Exception again) when (IsUnanswered(again)) { return null; }
        }
    }

    /// <summary>
    /// A successor that stops preparing (its own drain, a failed build) gives its place up, so that the
    /// draining holder does not wait for it: another worker may succeed, or the holder releases at once.
    /// </summary>
    public async Task GiveUpSuccessionAsync(string project, string successor)
    {
        try
        {
            var db = await connection.GetAsync();
            await Bounded(db.ScriptEvaluateAsync(LeaseScripts.GiveUpSuccession, [Keys.Successor(project)], [successor]));
        }
        catch (Exception e) when (IsUnanswered(e)) { /* the key lapses with its TTL */ }
    }

    /// <summary>
    /// Takes the lease of an offered project this worker prepared; null with the reason when it cannot.
    /// While the old holder carries out a command (its in-flight mark), waits until it has stored the result:
    /// at most the mark's TTL, since no new mark can be set once this worker is the successor.
    /// </summary>
    public async Task<(LeaseToken? Token, string? Why)> TakeOverAsync(string project, string successor)
    {
        var nonce = LeaseToken.NewNonce();
        try
        {
            var db = await connection.GetAsync();
            while (true)
            {
                var r = (RedisResult[])(await Bounded(db.ScriptEvaluateAsync(LeaseScripts.TakeOver,
                    [Keys.Lease(project), Keys.Epoch(project), Keys.LastLease(project), Keys.HandOver(project), Keys.Successor(project), Keys.CommandInFlight(project)],
                    [successor, _worker, nonce, _fleet.LeaseTtlMs, Keys.Events(project).ToString(), project])))!;
                switch ((long)r[0])
                {
                    case 1: return (LeaseToken.Parse((string?)r[1]), null);
                    case 2: await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(10, (long)r[1]))); continue;
                    default: return (null, (string?)r[1]);
                }
            }
        }
        catch (Exception e) when (IsUnanswered(e))
        {
            try
            {
                var holder = await ReadAsync(project);
                return holder?.Nonce == nonce ? (holder, null) : (null, Describe(e));
            }
            catch (Exception again) when (IsUnanswered(again)) { return (null, Describe(e)); }
        }
    }

    /// <summary>
    /// A handing-over holder about to carry out a command: true (and the command marked in flight for
    /// FLEET__LEASETTLMS at most) only while no successor prepares and the lease is still <paramref name="token"/>.
    /// No answer counts as no: the command waits in the stream.
    /// </summary>
    public async Task<bool> BeginCommandAsync(string project, LeaseToken token)
    {
        try
        {
            var db = await connection.GetAsync();
            return (long)await Bounded(db.ScriptEvaluateAsync(LeaseScripts.BeginCommand,
                [Keys.Lease(project), Keys.Successor(project), Keys.CommandInFlight(project)], [token.ToString(), _fleet.LeaseTtlMs])) == 1;
        }
        catch (Exception e) when (IsUnanswered(e))
        {
            await EndCommandAsync(project, token); // in case it ran: a mark left behind would hold the take-over up
            return false;
        }
    }

    /// <summary>The command begun with <see cref="BeginCommandAsync"/> is stored or dropped. Unanswered: the mark lapses by itself.</summary>
    public async Task EndCommandAsync(string project, LeaseToken token)
    {
        try
        {
            var db = await connection.GetAsync();
            await Bounded(db.ScriptEvaluateAsync(LeaseScripts.EndCommand, [Keys.CommandInFlight(project)], [token.ToString()]));
        }
        catch (Exception e) when (IsUnanswered(e)) { }
    }

    private async Task<T> Bounded<T>(Task<T> call) => await call.WaitAsync(_fleet.RenewTimeout);

    internal static bool IsUnanswered(Exception e) => e is TimeoutException or RedisTimeoutException or RedisConnectionException;

    private static string Describe(Exception e) => e.Message.Split(';', 2)[0];
}
