using System.Diagnostics;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using MixerWorker.ControlPlane;

namespace MixerWorker.Fleet;

/// <summary>
/// Renews every lease this worker holds, every FLEET__RENEWINTERVALMS, on the lease connection, all at
/// once and each bounded by FLEET__RENEWTIMEOUTMS, and tells each project what it found: still ours
/// (confirmed), gone from Redis (taken back at a higher epoch), another worker's (lost, or handed over),
/// or no answer (the project decides whether its outputs may still reconnect).
/// </summary>
internal sealed class LeaseKeeper(
    ProjectRegistry registry,
    LeaseStore leases,
    LeaseConnection connection,
    ClaimWindow window,
    IOptions<FleetOptions> fleet,
    ILogger<LeaseKeeper> log) : BackgroundService
{
    private readonly FleetOptions _fleet = fleet.Value;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var pace = Stopwatch.StartNew();
        var unanswered = false;
        while (!stoppingToken.IsCancellationRequested)
        {
            pace.Restart();
            try
            {
                var answered = await RenewAllAsync();
                if (answered == unanswered)
                {
                    unanswered = !answered;
                    if (unanswered) log.LogWarning("Redis does not answer lease renewals; projects stay on air, and a closed output reconnects only while its lease was confirmed within {Ms} ms", _fleet.ConfirmedFor.TotalMilliseconds);
                    else log.LogInformation("Redis answers lease renewals again");
                }
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                log.LogError(e, "lease renewal round failed");
            }
            var rest = _fleet.RenewInterval - pace.Elapsed;
            if (rest > TimeSpan.Zero)
            {
                try { await Task.Delay(rest, stoppingToken); }
                catch (OperationCanceledException) { break; }
            }
        }
    }

    /// <summary>One round; false when Redis did not answer.</summary>
    private async Task<bool> RenewAllAsync()
    {
        var held = registry.All.Where(r => r.HoldsLease).Select(r => (Runtime: r, Token: r.Lease!)).Where(h => h.Token is not null).ToList();
        if (held.Count == 0)
        {
            // Nothing to renew: a ping keeps the claim window honest about outages.
            var ok = await PingAsync();
            if (ok) window.NoteAnswered(); else window.NoteUnanswered();
            return ok;
        }
        var sentAt = Stopwatch.GetTimestamp();
        var results = await Task.WhenAll(held.Select(h => leases.RenewAsync(h.Runtime.Project, h.Token)));
        var answered = true;
        for (var i = 0; i < held.Count; i++)
        {
            var (runtime, token) = held[i];
            var result = results[i];
            switch (result.Outcome)
            {
                case RenewOutcome.Renewed:
                    window.NoteAnswered();
                    runtime.OnRenewed(token, sentAt);
                    break;
                case RenewOutcome.Taken:
                    window.NoteAnswered();
                    runtime.OnTaken(result.Holder);
                    break;
                case RenewOutcome.Missing:
                    window.NoteAnswered();
                    await TakeBackAsync(runtime, token);
                    break;
                default:
                    answered = false;
                    window.NoteUnanswered();
                    runtime.OnUnanswered();
                    break;
            }
        }
        return answered;
    }

    // The lease vanished while we still run the show: it lapsed while nobody else wanted the project, or
    // Redis restarted empty. Take it back with an epoch above ours; if another worker was faster, it wins.
    private async Task TakeBackAsync(ProjectRuntime runtime, LeaseToken token)
    {
        var sentAt = Stopwatch.GetTimestamp();
        var result = await leases.AcquireAsync(runtime.Project, token.Epoch, "reacquired");
        // Continuous: the last lease taken was this one (or Redis lost that record too): nobody held it meanwhile.
        if (result.Acquired is { } again) runtime.OnRetaken(again, sentAt, continuous: result.Previous == "" || result.Previous == token.ToString());
        else if (result.Holder is { } holder) runtime.OnTaken(holder);
        else runtime.OnUnanswered();
    }

    private async Task<bool> PingAsync()
    {
        try
        {
            await (await connection.GetAsync()).PingAsync().WaitAsync(_fleet.RenewTimeout);
            return true;
        }
        catch (Exception e) when (LeaseStore.IsUnanswered(e)) { return false; }
    }
}
