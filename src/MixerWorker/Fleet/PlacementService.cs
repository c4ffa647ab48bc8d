using System.Diagnostics;
using System.Threading.Channels;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using MixerWorker.ControlPlane;
using MixerWorker.Pipeline.Engine;
using MixerWorker.Pipeline.Scene;
using StackExchange.Redis;

namespace MixerWorker.Fleet;

/// <summary>
/// Finds projects that have no owner (the projects set, every FLEET__CLAIMSCANMS and on every claimed,
/// released, lost, hand-over or desired event) and takes them when this worker should: it has room for
/// their estimated cost, and, with the least-loaded policy, no better-placed worker has claimed
/// anything for as long as its rank makes it wait. One claim per scan, the costliest first, and the
/// heartbeat is rewritten right after each, so that the others rank themselves on the new load.
/// Projects a draining worker offers are prepared for and taken over the same way. A project whose
/// owner has stopped renewing its lease (FLEET__PREPAREEARLY) is built here, outputs held, by the worker
/// that would claim it, before the lease lapses; at the lapse that worker claims it and only the outputs
/// are left to connect. A project no live worker has room for gets a "waiting" status with the numbers.
/// </summary>
internal sealed class PlacementService(
    RedisConnection redis,
    ProjectRegistry registry,
    ProjectRuntimeFactory runtimes,
    LeaseStore leases,
    WorkerLoad load,
    FleetView fleetView,
    HeartbeatService heartbeat,
    ClaimWindow window,
    ProjectCostModel costs,
    IProjectMixerFactory mixers,
    IOptions<FleetOptions> fleetOptions,
    IOptions<WorkerOptions> workerOptions,
    ILogger<PlacementService> log) : BackgroundService
{
    private readonly FleetOptions _fleet = fleetOptions.Value;
    private readonly WorkerOptions _worker = workerOptions.Value;
    private readonly Channel<bool> _wake = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
    private readonly Dictionary<string, long> _unownedSince = [];
    private readonly Dictionary<string, (long Length, string Payload, ProjectCost Cost, long Revision)> _costs = [];
    private readonly Dictionary<string, string> _waiting = [];
    private readonly Dictionary<string, Early> _early = [];
    private long _activityAt;
    private TimeSpan? _nextLapse;
    private int _ownedSeen = -1;
    private CancellationToken _stopping;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        _stopping = stoppingToken;
        var connection = await redis.GetAsync();
        await redis.Resilience.ExecuteAsync(async _ => await connection.GetSubscriber().SubscribeAsync(redis.Keys.AllEvents, (channel, message) =>
        {
            if (redis.Keys.ProjectOf(channel) is not null && DesiredStateService.TypeOf(message.ToString()) is
                EventTypes.Desired or EventTypes.Released or EventTypes.Lost or EventTypes.HandOver or EventTypes.Claimed)
                _wake.Writer.TryWrite(true);
        }), stoppingToken);
        var scan = TimeSpan.FromMilliseconds(_fleet.ClaimScanMs);
        while (!stoppingToken.IsCancellationRequested)
        {
            try { await ScanAsync(connection.GetDatabase()); }
            catch (Exception e) when (e is RedisConnectionException or RedisTimeoutException) { /* Redis is away: nothing can be claimed anyway */ }
            catch (Exception e) when (e is not OperationCanceledException) { log.LogError(e, "placement scan failed"); }
            using var wait = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
            // Look again right when the next lease held elsewhere would lapse, not up to a scan later.
            wait.CancelAfter(_nextLapse is { } lapse && lapse < scan ? lapse + TimeSpan.FromMilliseconds(5) : scan);
            try { await _wake.Reader.ReadAsync(wait.Token); }
            catch (OperationCanceledException) { }
        }
    }

    private enum Kind { Claim, Succession }

    private sealed record Option(string Project, Kind Kind, ProjectCost Cost, int Rank, int Candidates, string? From);

    /// <summary>A project whose owner missed renewals, for this worker to prepare (it would claim it).</summary>
    private sealed record OverdueLease(string Project, ProjectCost Cost, LeaseToken Owner, TimeSpan Left);

    /// <summary>A project prepared here before its owner's lease lapsed, waiting for the lapse.</summary>
    private sealed record Early(ProjectRuntime Runtime, LeaseToken Owner, long Since);

    private async Task ScanAsync(IDatabase db)
    {
        if (registry.Draining) return;
        var members = (await db.SetMembersAsync(redis.Keys.Projects)).Select(m => m.ToString()).ToList();
        var now = Stopwatch.GetTimestamp();
        var batch = db.CreateBatch();
        var looks = members.Select(p => (Project: p,
            Lease: batch.StringGetAsync(redis.Keys.Lease(p)),
            LeaseTtl: batch.KeyTimeToLiveAsync(redis.Keys.Lease(p)),
            Offer: batch.StringGetAsync(redis.Keys.HandOver(p)),
            Successor: batch.KeyExistsAsync(redis.Keys.Successor(p)),
            Removed: batch.KeyExistsAsync(redis.Keys.Removed(p)),
            Length: batch.StringLengthAsync(redis.Keys.Desired(p)))).ToList();
        batch.Execute();
        await Task.WhenAll(looks.SelectMany(l => new Task[] { l.Lease, l.LeaseTtl, l.Offer, l.Successor, l.Removed, l.Length }));
        _nextLapse = looks.Where(l => (!registry.TryGet(l.Project, out _) || _early.ContainsKey(l.Project)) && l.LeaseTtl.Result is not null)
            .Select(l => l.LeaseTtl.Result).Min();

        var owned = looks.Count(l => !l.Lease.Result.IsNull);
        if (owned > _ownedSeen && _ownedSeen >= 0) _activityAt = now; // somebody claimed something: the better-placed are at work
        _ownedSeen = owned;

        IReadOnlyList<WorkerHeartbeat>? fleet = null;
        var options = new List<Option>();
        var open = new HashSet<string>();
        OverdueLease? overdue = null;
        foreach (var l in looks)
        {
            var project = l.Project;
            if (_early.TryGetValue(project, out var prepared))
            {
                await FollowEarlyAsync(project, prepared, l.Lease.Result, l.LeaseTtl.Result, l.Removed.Result);
                continue;
            }
            if (registry.TryGet(project, out _) || l.Removed.Result || l.Length.Result == 0) continue;
            if (LeaseToken.Parse(l.Lease.Result) is { } holder && holder.Worker == _worker.Id && leases.TryAdopt(project, holder, out var sentAt))
            {
                // A claim whose answer was lost took the lease after all: it is ours.
                var adopted = runtimes.Own(project, await CostAsync(db, project, l.Length.Result), holder, sentAt);
                if (registry.TryAdd(adopted)) Start(adopted, $"claimed at epoch {holder.Epoch} (the claim's answer was lost; the lease, read back, is ours)");
                continue;
            }
            Kind kind;
            string? from = null;
            if (l.Offer.Result is { IsNull: false } offer && !l.Successor.Result)
            {
                kind = Kind.Succession;
                from = LeaseToken.Parse(offer.ToString())?.Worker;
                if (from == _worker.Id) continue;
            }
            else if (l.Lease.Result.IsNull) kind = Kind.Claim;
            else
            {
                // Owned elsewhere, but its owner has missed renewals: the worker that would claim it prepares it now.
                if (overdue is null && _fleet.PrepareEarly && window.IsOpen && l.LeaseTtl.Result is { } left && left < _fleet.Overdue
                    && LeaseToken.Parse(l.Lease.Result) is { } owner && owner.Worker != _worker.Id)
                {
                    var price = await CostAsync(db, project, l.Length.Result);
                    fleet ??= await PeersAsync(db);
                    if (Placement.Candidates(project, price.Cpus, fleet.Where(w => w.Id != owner.Worker)).FirstOrDefault()?.Id == _worker.Id)
                        overdue = new OverdueLease(project, price, owner, left);
                }
                continue;
            }
            open.Add(project);
            if (!_unownedSince.ContainsKey(project)) _unownedSince[project] = now;
            var cost = await CostAsync(db, project, l.Length.Result);
            fleet ??= await PeersAsync(db);
            var candidates = Placement.Candidates(project, cost.Cpus, fleet.Where(w => w.Id != from));
            var rank = candidates.Select((w, i) => (w, i)).FirstOrDefault(x => x.w.Id == _worker.Id, (null!, -1)).Item2;
            if (candidates.Count == 0)
            {
                if (kind == Kind.Claim) await ReportWaitingAsync(db, project, cost, fleet);
                continue;
            }
            ForgetWaiting(project);
            if (rank < 0) continue;
            // Rank 0 claims at once; rank r waits r steps, counted from the last claim seen anywhere,
            // so that while the better-placed keep claiming, the others keep out of their way.
            var since = rank == 0 ? _unownedSince[project] : Math.Max(_unownedSince[project], _activityAt);
            if (Stopwatch.GetElapsedTime(since, now) < Placement.Delay(rank, _fleet.ClaimPolicy, TimeSpan.FromMilliseconds(_fleet.RankStepMs))) continue;
            options.Add(new Option(project, kind, cost, rank, candidates.Count, from));
        }
        foreach (var gone in _unownedSince.Keys.Where(p => !open.Contains(p)).ToList())
        {
            _unownedSince.Remove(gone);
            ForgetWaiting(gone);
        }
        foreach (var gone in _costs.Keys.Where(p => !members.Contains(p)).ToList()) _costs.Remove(gone);

        // Successions first (a draining worker is waiting), then the costliest: a greedy spread by cost.
        var pick = options.Where(o => o.Kind == Kind.Succession || window.IsOpen)
            .OrderBy(o => o.Kind == Kind.Succession ? 0 : 1).ThenByDescending(o => o.Cost.Cpus).ThenBy(o => o.Project, StringComparer.Ordinal).FirstOrDefault();
        if (overdue is not null) await PrepareEarlyAsync(overdue);
        if (pick is null) return;
        if (pick.Kind == Kind.Claim) await ClaimAsync(pick);
        else await SucceedAsync(pick);
    }

    private async Task PrepareEarlyAsync(OverdueLease o)
    {
        var runtime = runtimes.Prepare(o.Project, o.Cost);
        if (!registry.TryAdd(runtime)) return;
        _early[o.Project] = new Early(runtime, o.Owner, Stopwatch.GetTimestamp());
        Start(runtime, FormattableString.Invariant(
            $"{o.Owner.Worker}'s lease (epoch {o.Owner.Epoch}) was last renewed {(_fleet.LeaseTtl - o.Left).TotalMilliseconds:0} ms ago; preparing the project with outputs held, to claim it if the lease lapses (estimated {o.Cost.Cpus:0.###} CPUs; this worker's load now {load.LoadCpus:0.###} of {load.CapacityCpus:0.###} CPUs)"));
        await heartbeat.BeatNowAsync();
    }

    // A project prepared early: claimed at the lapse, or given up when its owner renews after all or someone else takes it.
    private async Task FollowEarlyAsync(string project, Early early, RedisValue lease, TimeSpan? left, bool removed)
    {
        var runtime = early.Runtime;
        if (runtime.Role != ProjectRole.Preparing)
        {
            _early.Remove(project); // stopped meanwhile (drain, removal)
            return;
        }
        if (removed)
        {
            Abandon(project, early, "the project was removed");
            return;
        }
        var holder = LeaseToken.Parse(lease);
        long sentAt;
        if (holder is null)
        {
            if (!window.IsOpen) return; // after a Redis spell the owners take their leases back first
            sentAt = Stopwatch.GetTimestamp();
            var result = await leases.AcquireAsync(project, 0, "claim");
            if (result.Acquired is null)
            {
                if (result.Error is not null) return; // unanswered: settled by reading the lease at the next scan
                Abandon(project, early, $"{result.Holder?.Worker ?? "another worker"} claimed it first");
                return;
            }
            holder = result.Acquired;
        }
        else if (holder.Worker == _worker.Id && leases.TryAdopt(project, holder, out sentAt)) { /* a claim whose answer was lost took it */ }
        else
        {
            if (holder != early.Owner) Abandon(project, early, $"{holder.Worker} holds it now (epoch {holder.Epoch})");
            else if (left is { } l && l >= _fleet.Overdue) Abandon(project, early, $"{holder.Worker} renewed its lease after all");
            return;
        }
        _early.Remove(project);
        _activityAt = sentAt;
        log.LogInformation("project {Project}: claimed at epoch {Epoch} ({Owner}'s lease lapsed; prepared here {Ms} ms before, outputs connect now)",
            project, holder.Epoch, early.Owner.Worker, (long)Stopwatch.GetElapsedTime(early.Since).TotalMilliseconds);
        if (await runtime.ClaimPreparedAsync(holder, sentAt, _stopping)) await heartbeat.BeatNowAsync();
    }

    private void Abandon(string project, Early early, string why)
    {
        _early.Remove(project);
        _ = early.Runtime.StopAsync(StopReason.Abandoned, $"prepared because its owner's renewals were overdue, but {why}");
    }

    private async Task ClaimAsync(Option o)
    {
        var sentAt = Stopwatch.GetTimestamp();
        var result = await leases.AcquireAsync(o.Project, 0, "claim");
        if (result.Acquired is not { } token)
        {
            if (result.Error is not null) log.LogDebug("project {Project}: claim unanswered ({Error}); {Holder}", o.Project, result.Error, result.Holder?.Worker ?? "nobody holds it");
            return;
        }
        var runtime = runtimes.Own(o.Project, o.Cost, token, sentAt);
        if (!registry.TryAdd(runtime)) return;
        _activityAt = sentAt;
        Start(runtime, FormattableString.Invariant(
            $"claimed at epoch {token.Epoch} (no owner; estimated {o.Cost.Cpus:0.###} CPUs; this worker's load now {load.LoadCpus:0.###} of {load.CapacityCpus:0.###} CPUs; rank {o.Rank + 1} of {o.Candidates} with room)"));
        await heartbeat.BeatNowAsync();
    }

    private void Start(ProjectRuntime runtime, string why)
    {
        log.LogInformation("project {Project}: {Why}", runtime.Project, why);
        _ = Task.Run(async () =>
        {
            try { await redis.Resilience.ExecuteAsync(async _ => await runtime.ConvergeAsync(), _stopping); }
            catch (OperationCanceledException) { }
            catch (Exception e) { log.LogError(e, "project {Project}: starting it failed", runtime.Project); }
        });
    }

    private async Task SucceedAsync(Option o)
    {
        var successor = await leases.ClaimSuccessionAsync(o.Project, TimeSpan.FromMilliseconds(_fleet.HandOverInputWaitMs) + TimeSpan.FromSeconds(10));
        if (successor is null) return;
        var runtime = runtimes.Prepare(o.Project, o.Cost);
        if (!registry.TryAdd(runtime)) return;
        log.LogInformation("project {Project}: successor of draining {From} (estimated {Cost:0.###} CPUs; this worker's load now {Load:0.###} of {Capacity:0.###} CPUs)",
            o.Project, o.From, o.Cost.Cpus, load.LoadCpus, load.CapacityCpus);
        await heartbeat.BeatNowAsync();
        _ = Task.Run(() => runtime.PrepareAndTakeOverAsync(successor, o.From ?? "?", _stopping));
    }

    /// <summary>The live workers as their records say, with this worker's own numbers fresh.</summary>
    private async Task<IReadOnlyList<WorkerHeartbeat>> PeersAsync(IDatabase db)
    {
        var records = await fleetView.ReadAsync(db);
        return [.. records.Where(w => w.Id != _worker.Id), load.Snapshot()];
    }

    private async Task<ProjectCost> CostAsync(IDatabase db, string project, long length)
    {
        if (_costs.TryGetValue(project, out var cached) && cached.Length == length) return cached.Cost;
        if (length > _worker.MaxSceneBytes) return costs.Base; // refused by whoever claims it, with the reason
        string payload = (await db.StringGetAsync(redis.Keys.Desired(project))).ToString();
        ProjectCost cost;
        long revision = 0;
        try
        {
            var scene = SceneJson.Parse(payload);
            cost = costs.Estimate(scene, mixers.Encoders.Selected);
            revision = scene.Revision;
        }
        catch (SceneException) { cost = costs.Base; }
        _costs[project] = (length, payload, cost, revision);
        return cost;
    }

    // Written by one worker only (the first live one by id), and only while nobody holds the project.
    private async Task ReportWaitingAsync(IDatabase db, string project, ProjectCost cost, IReadOnlyList<WorkerHeartbeat> fleet)
    {
        var live = fleet.Where(w => w.State != WorkerStates.Draining).ToList();
        if (live.Count == 0 || live.Select(w => w.Id).Order(StringComparer.Ordinal).First() != _worker.Id || !window.IsOpen) return;
        var largest = Math.Round(live.Max(w => w.FreeCpus), 4);
        var since = DateTimeOffset.UtcNow - Stopwatch.GetElapsedTime(_unownedSince[project]);
        var status = new ProjectStatus
        {
            Project = project,
            State = ProjectStates.Waiting,
            Reason = ProjectStates.NoCapacity,
            Revision = _costs.TryGetValue(project, out var c) ? c.Revision : 0,
            UpdatedAt = DateTimeOffset.UtcNow,
            CostCpus = cost.Cpus,
            Waiting = new WaitingReport(cost.Cpus, largest, live.Count, since),
        };
        var signature = $"{cost.Cpus}|{largest}|{live.Count}";
        var changed = !_waiting.TryGetValue(project, out var last) || last != signature;
        var message = changed ? ControlPlaneJson.Write(ProjectEvents.Status(status)) : null;
        if (await runtimes.Fenced.SetWaitingAsync(db, project, ControlPlaneJson.Write(status), TimeSpan.FromSeconds(_worker.StatusTtlSeconds), message) && changed)
        {
            _waiting[project] = signature;
            log.LogWarning("project {Project}: waiting, no worker has room: it needs {Cost:0.###} CPUs, the most any of {Workers} live worker(s) has free is {Free:0.###}",
                project, cost.Cpus, live.Count, largest);
        }
    }

    private void ForgetWaiting(string project) => _waiting.Remove(project);
}
