using System.Diagnostics;
using Microsoft.Extensions.Logging;
using MixerWorker.Fleet;
using MixerWorker.Pipeline.Engine;
using MixerWorker.Pipeline.Scene;
using StackExchange.Redis;

namespace MixerWorker.ControlPlane;

/// <summary>
/// One project on this worker: its gate, its lease, its mixer and what it knows of its show. The
/// services never change its state themselves; they ask it to converge, carry out commands, hand
/// over, or stop, and read its reports. Everything that changes what is on air runs under the gate,
/// so a command is always reduced against the scene the desired key holds and a stop never races a
/// command. Outputs may (re)connect only while this worker owns the lease, confirmed within the TTL,
/// and is not handing the project over (<see cref="PublishGate"/>).
/// </summary>
internal sealed class ProjectRuntime
{
    private static readonly TimeSpan ReplacementWait = TimeSpan.FromSeconds(3);
    private readonly ProjectRuntimeFactory _c;
    private readonly ILogger _log;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly ProjectLease _lease;
    private readonly PublishGate _publish;
    private readonly TaskCompletionSource<LeaseToken?> _handedOver = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile ProjectRole _role;
    private ProjectCost _cost;
    private volatile TallyState? _tally;
    private bool _gateClosedByAge;
    private volatile bool _gateOpen;
    private LeaseToken? _commandMark; // under the gate
    private volatile bool _showStale; // another worker held the lease while this one had lost it
    private volatile string? _succession; // this worker's successor value while it prepares a drain's take-over

    internal ProjectRuntime(string project, ProjectRole role, ProjectCost cost, ProjectRuntimeFactory context)
    {
        Project = project;
        _role = role;
        _cost = cost;
        _c = context;
        _log = context.Loggers.CreateLogger<ProjectRuntime>();
        _lease = new ProjectLease(context.Fleet.ConfirmedFor);
        _publish = new PublishGate(open: false, stillOpen: MayPublish);
    }

    public string Project { get; }
    public ProjectRole Role => _role;
    public LeaseToken? Lease => _lease.Token;
    /// <summary>Owner or handing over, with a lease: may write about the project (Redis still checks every write).</summary>
    public bool HoldsLease => _role is ProjectRole.Owner or ProjectRole.HandingOver && _lease.Token is not null;
    /// <summary>The estimated cost of the scene on air (or, before it runs, of the desired one).</summary>
    public ProjectCost Cost => Volatile.Read(ref _cost);
    public TallyState? Tally => _tally;
    /// <summary>For <see cref="SceneConvergence"/> and <see cref="CommandExecutor"/> only, under the gate.</summary>
    internal ProjectShow Show { get; } = new();

    /// <summary>The mixer runs and this worker holds the lease (after a claim's first scene, or a take-over).</summary>
    public event Action<ProjectRuntime>? OnAir;
    /// <summary>The project stopped on this worker, for whatever reason.</summary>
    public event Action<ProjectRuntime>? Ended;
    /// <summary>Raised on the engine's thread: handlers must be quick.</summary>
    public event Action<ProjectRuntime>? TallyChanged;

    // ---- what the services may ask -------------------------------------------------------------

    /// <summary>Reads the desired state and puts it on air when it changed.</summary>
    public async Task ConvergeAsync()
    {
        await _gate.WaitAsync();
        try
        {
            if (_role == ProjectRole.Stopped) return;
            ForgetStaleShowLocked();
            await _c.Convergence.ConvergeLockedAsync(await DbAsync(), this);
        }
        finally { _gate.Release(); }
    }

    /// <summary>
    /// Carries out every command after the cursor, while this worker holds the lease, one per turn of the
    /// gate. Handing over, only until a successor prepares (<see cref="BeginCommandAsync"/>): from then on
    /// commands wait in the stream for the successor.
    /// </summary>
    public async Task DrainCommandsAsync()
    {
        while (true)
        {
            await _gate.WaitAsync();
            try
            {
                if (!HoldsLease) return;
                ForgetStaleShowLocked();
                if (!await _c.Executor.NextLockedAsync(await DbAsync(), this)) return;
            }
            finally { _gate.Release(); }
        }
    }

    /// <summary>
    /// For <see cref="CommandExecutor"/>, under the gate, before a command goes on air. Handing over: true
    /// only while no successor prepares, and the command is marked in flight until <see cref="EndCommandAsync"/>
    /// (the successor's take-over waits for the mark). An owner: only while its lease was confirmed within the
    /// TTL, so that an owner back from a pause or a cut-off waits for its next renewal instead of carrying out
    /// a command that its successor (if any) carries out again.
    /// </summary>
    internal async Task<bool> BeginCommandAsync()
    {
        if (_role != ProjectRole.HandingOver) return _lease.IsConfirmed;
        if (_lease.Token is not { } token || !await _c.Leases.BeginCommandAsync(Project, token)) return false;
        _commandMark = token;
        return true;
    }

    /// <summary>The command begun with <see cref="BeginCommandAsync"/> is stored (or given up): its mark goes.</summary>
    internal async Task EndCommandAsync()
    {
        if (_commandMark is not { } token) return;
        _commandMark = null;
        await _c.Leases.EndCommandAsync(Project, token);
    }

    /// <summary>
    /// Drain: offers the project to a successor and stays on air until the successor has taken the
    /// lease (it then replaces the outputs), or, when nobody does within <paramref name="timeout"/>,
    /// releases it so that any worker can claim it at once.
    /// </summary>
    public async Task HandOverAsync(TimeSpan timeout, CancellationToken noSuccessor)
    {
        await _gate.WaitAsync();
        LeaseToken? token;
        try
        {
            if (!HoldsLease) return;
            _role = ProjectRole.HandingOver;
            UpdatePublishGate();
            token = _lease.Token;
        }
        finally { _gate.Release(); }
        var clock = Stopwatch.StartNew();
        var offered = token is not null && await _c.Leases.OfferHandOverAsync(Project, token, timeout);
        if (offered)
        {
            _log.LogInformation("project {Project}: offered to a successor (epoch {Epoch}); staying on air for up to {Seconds:F0} s", Project, token!.Epoch, timeout.TotalSeconds);
            if (await Task.WhenAny(_handedOver.Task, Task.Delay(timeout, noSuccessor).ContinueWith(_ => { })) == _handedOver.Task)
            {
                var to = await _handedOver.Task;
                await StopAsync(StopReason.HandedOver, $"handed over to {to?.Worker ?? "a successor"} (epoch {to?.Epoch}) {clock.ElapsedMilliseconds} ms after the offer");
                return;
            }
        }
        await StopAsync(StopReason.Shutdown, !offered ? "the hand-over could not be offered (Redis did not answer, or the lease was gone)"
            : noSuccessor.IsCancellationRequested ? "no other live worker can take it" : $"no worker took it over within {timeout.TotalSeconds:F0} s");
    }

    /// <summary>
    /// Successor side of a drain: builds the project with its outputs held, waits (up to
    /// FLEET__HANDOVERINPUTWAITMS) until its inputs are live, takes the lease over, and only then lets the
    /// outputs connect; MediaMTX lets them replace the old owner's, which then stops.
    /// </summary>
    public async Task PrepareAndTakeOverAsync(string successor, string from, CancellationToken stopping)
    {
        var clock = Stopwatch.StartNew();
        _succession = successor;
        _log.LogInformation("project {Project}: preparing to take it over from {From} (outputs held until then)", Project, from);
        try
        {
            await _c.Redis.Resilience.ExecuteAsync(async _ => await ConvergeAsync(), stopping);
            var live = await WaitForInputsAsync(TimeSpan.FromMilliseconds(_c.Fleet.HandOverInputWaitMs), stopping);
            if (_role != ProjectRole.Preparing) return; // stopped meanwhile (this worker drains too): the succession is given up
            var sentAt = Stopwatch.GetTimestamp();
            var (token, why) = await _c.Leases.TakeOverAsync(Project, successor);
            if (token is null)
            {
                await StopAsync(StopReason.Abandoned, $"the take-over from {from} did not happen: {why}");
                return;
            }
            if (!await BecomeOwnerAsync(token, sentAt))
            {
                await _c.Leases.ReleaseAsync(Project, token, "shutdown"); // stopped while taking over: any worker may claim it at once
                return;
            }
            _log.LogInformation("project {Project}: took it over from {From} at epoch {Epoch}, {Ms} ms after preparing began ({Inputs})",
                Project, from, token.Epoch, clock.ElapsedMilliseconds, live ? "inputs live" : "not every input was live yet");
            await _c.Redis.Resilience.ExecuteAsync(async _ => await ConvergeAsync(), stopping); // the desired state may have moved meanwhile
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
            await StopAsync(StopReason.Abandoned, "this worker is stopping");
        }
        catch (Exception e)
        {
            _log.LogError(e, "project {Project}: preparing the take-over failed", Project);
            await StopAsync(StopReason.Abandoned, "preparing failed");
        }
    }

    /// <summary>
    /// A project prepared early (its owner's renewals were overdue: built with outputs held) whose lapsed
    /// lease this worker has now claimed: its outputs may connect. False when it stopped meanwhile (the
    /// lease is then given back at once).
    /// </summary>
    public async Task<bool> ClaimPreparedAsync(LeaseToken token, long sentAt, CancellationToken stopping)
    {
        if (!await BecomeOwnerAsync(token, sentAt))
        {
            await _c.Leases.ReleaseAsync(Project, token, "shutdown");
            return false;
        }
        await _c.Redis.Resilience.ExecuteAsync(async _ => await ConvergeAsync(), stopping); // starts the mixer if it had not yet
        return true;
    }

    // A prepared project becomes this worker's: lease held, outputs allowed, on air.
    private async Task<bool> BecomeOwnerAsync(LeaseToken token, long sentAt)
    {
        await _gate.WaitAsync();
        try
        {
            if (_role != ProjectRole.Preparing) return false;
            _lease.Hold(token, sentAt);
            _role = ProjectRole.Owner;
            UpdatePublishGate();
        }
        finally { _gate.Release(); }
        if (Show.Mixer is not null) OnAir?.Invoke(this);
        return true;
    }

    /// <summary>Stops the project on this worker; <paramref name="why"/> goes to the log.</summary>
    public async Task StopAsync(StopReason reason, string why)
    {
        await _gate.WaitAsync();
        try
        {
            if (_role == ProjectRole.Stopped) return;
            var token = _lease.Token;
            var succession = _role == ProjectRole.Preparing ? _succession : null;
            _role = ProjectRole.Stopped;
            UpdatePublishGate();
            var mixer = Show.Mixer;
            Show.Mixer = null;
            var level = reason is StopReason.Lost or StopReason.Abandoned ? LogLevel.Warning : LogLevel.Information;
            _log.Log(level, "project {Project}: stopping on this worker ({Reason}): {Why}", Project, Describe(reason), why);
            if (reason == StopReason.Shutdown && token is not null)
                await _c.Leases.ReleaseAsync(Project, token, "shutdown"); // first, so another worker can claim it at once
            if (succession is not null) await _c.Leases.GiveUpSuccessionAsync(Project, succession); // first, so the drain need not wait for it
            if (reason == StopReason.HandedOver && mixer is not null) await WaitForOutputsReplacedAsync(mixer);
            if (mixer is not null) await mixer.DisposeAsync();
            if (reason == StopReason.Removed && token is not null)
            {
                try
                {
                    await PublishAsync(await DbAsync(), token, _c.Events.Stopped(Project, Show.Revision));
                }
                catch (Exception e) when (e is RedisConnectionException or RedisTimeoutException) { }
                await _c.Leases.ReleaseAsync(Project, token, "removed");
            }
            _lease.Drop();
        }
        finally { _gate.Release(); }
        Ended?.Invoke(this);
    }

    // ---- the lease keeper's findings ----------------------------------------------------------

    /// <summary>Right after a claim, before anything runs.</summary>
    internal void Hold(LeaseToken token, long sentAt)
    {
        _lease.Hold(token, sentAt);
        UpdatePublishGate();
    }

    public void OnRenewed(LeaseToken token, long sentAt)
    {
        _lease.Confirm(token, sentAt);
        UpdatePublishGate();
    }

    /// <summary>
    /// The lease was gone from Redis (it lapsed while this worker was paused, starved or cut off, or Redis
    /// restarted without data) and this worker took it back. <paramref name="continuous"/>: nobody held it in
    /// between, so what this worker knows of the show (and a command result it could not store) still holds;
    /// else the cursor and the desired state are read again from Redis before anything else is done.
    /// </summary>
    public void OnRetaken(LeaseToken token, long sentAt, bool continuous)
    {
        if (continuous)
            _log.LogWarning("project {Project}: its lease was gone from Redis (it lapsed, or Redis restarted or failed over); taken back at epoch {Epoch}, nobody held it meanwhile", Project, token.Epoch);
        else
        {
            _log.LogWarning("project {Project}: its lease lapsed and another worker held it meanwhile; taken back at epoch {Epoch}, the stored state is read again", Project, token.Epoch);
            _showStale = true;
        }
        _lease.Hold(token, sentAt);
        UpdatePublishGate();
    }

    // Under the gate: after a lease taken back from a gap in which another worker held it, the cursor and the
    // desired state in memory may be behind Redis. A command result still pending is stored only if the desired
    // state and the cursor are still the ones it was computed on (else it is taken off air and read again).
    private void ForgetStaleShowLocked()
    {
        if (!_showStale) return;
        _showStale = false;
        Show.Cursor = null;
        Show.SeenPayload = null;
    }

    /// <summary>No answer from Redis: the lease ages; past its confirmation window the outputs may no longer reconnect.</summary>
    public void OnUnanswered() => UpdatePublishGate();

    /// <summary>Another worker holds the lease now: a successor took over (drain), or this worker lost it.</summary>
    public void OnTaken(LeaseToken? holder)
    {
        if (_role == ProjectRole.HandingOver)
        {
            _lease.Drop();
            UpdatePublishGate();
            _handedOver.TrySetResult(holder);
            return;
        }
        if (_role != ProjectRole.Owner) return;
        _lease.Drop();
        UpdatePublishGate();
        var why = holder is null
            ? "its lease lapsed and could not be taken back"
            : $"its lease lapsed (no renewal confirmed for {_lease.SinceConfirmed.TotalMilliseconds:F0} ms) and {holder.Worker} holds the project now (epoch {holder.Epoch})";
        _ = StopAsync(StopReason.Lost, why);
    }

    // ---- reports and MediaMTX's news ------------------------------------------------------------

    public async Task<ProjectStatus?> ReportAsync()
    {
        if (!HoldsLease || Show.Mixer is not { } mixer) return null;
        MixerStatus s;
        AudioMeters meters;
        try
        {
            s = await mixer.GetStatusAsync();
            meters = mixer.GetMeters();
        }
        catch (ObjectDisposedException) { return null; } // stopped meanwhile
        // Connected although MediaMTX called it offline (the slow poll found it, INGEST_ONLINE was lost): it is back.
        foreach (var (input, report) in s.Inputs)
            if (report.State == ConnectionState.Connected && Show.IngestOnline.TryGetValue(input, out var known) && !known)
            {
                Show.IngestOnline[input] = true;
                mixer.SetInputExpected(input, true);
            }
        var now = DateTimeOffset.UtcNow;
        var (lastAnswer, errors) = Show.Notices.Snapshot;
        return new ProjectStatus
        {
            Project = Project,
            Worker = _c.Worker.Id,
            Epoch = Lease?.Epoch,
            State = _role == ProjectRole.HandingOver ? ProjectStates.HandingOver : ProjectStates.Running,
            Revision = Show.Revision,
            UpdatedAt = now,
            LastCommand = Show.Cursor is "0-0" ? null : Show.Cursor,
            Inputs = s.Inputs.ToDictionary(i => i.Key, i => new InputReport(i.Value.State, i.Value.Error, i.Value.Attempts, i.Value.Since,
                Show.IngestOnline.TryGetValue(i.Key, out var online) ? online ? "online" : "offline" : null,
                i.Value.FramesIn, i.Value.DecodeErrors, now - i.Value.SinceLastFrame, i.Value.SoundDroppedLateSeconds)),
            Buses = s.Buses.ToDictionary(b => b.Key, b => new BusReport(b.Value.Output, b.Value.Error, b.Value.FramesOut, b.Value.Encoder,
                Show.OutputPublished.TryGetValue(b.Key, out var published) ? published : null, b.Value.Attempts, b.Value.BytesSent, b.Value.Lateness,
                b.Value.Stalls, b.Value.Stalled)),
            Shedding = s.Shedding,
            Tally = _tally?.Buses,
            Meters = meters.Inputs.Count + meters.Buses.Count > 0 ? meters : null,
            LastAnswer = lastAnswer,
            Errors = errors.Count > 0 ? errors : null,
            CostCpus = Cost.Cpus,
        };
    }

    /// <summary>The engine's own figures (for metrics and health); null when no mixer runs. A stuck engine never answers: callers bound the wait.</summary>
    public async Task<(MixerStatus Status, AudioMeters Meters)?> EngineReportAsync(CancellationToken cancel)
    {
        if (Show.Mixer is not { } mixer) return null;
        try { return (await mixer.GetStatusAsync().WaitAsync(cancel), mixer.GetMeters()); }
        catch (ObjectDisposedException) { return null; } // stopped meanwhile
    }

    /// <summary>MediaMTX's view of the inputs (INGEST_ONLINE/OFFLINE), as far as it told.</summary>
    public IReadOnlyDictionary<string, bool> IngestOnline => Show.IngestOnline;

    /// <summary>MediaMTX's view of the buses (OUTPUT_ONLINE/OFFLINE), as far as it told.</summary>
    public IReadOnlyDictionary<string, bool> OutputPublished => Show.OutputPublished;

    /// <summary>The newest thumbnail of every bus; null when no mixer runs or this worker does not hold the lease.</summary>
    public async Task<IReadOnlyDictionary<string, Thumbnail>?> ThumbnailsAsync()
    {
        if (!HoldsLease || Show.Mixer is not { } mixer) return null;
        try { return await mixer.GetThumbnailsAsync(); }
        catch (ObjectDisposedException) { return null; }
    }

    /// <summary>Fenced: a bus's thumbnail, only while this worker's lease is the project's.</summary>
    public Task<bool> WriteThumbnailAsync(IDatabase db, string bus, byte[] jpeg, TimeSpan ttl) =>
        _c.Fenced.SetAsync(db, Project, Lease, _c.Redis.Keys.Thumbnail(Project, bus), jpeg, ttl);

    public AudioMeters? Meters()
    {
        if (!HoldsLease || Show.Mixer is not { } mixer) return null;
        try { return mixer.GetMeters(); }
        catch (ObjectDisposedException) { return null; }
    }

    /// <summary>Fenced: the status key, only while this worker's lease is the project's.</summary>
    public Task<bool> WriteStatusAsync(IDatabase db, string json, TimeSpan ttl) =>
        _c.Fenced.SetAsync(db, Project, Lease, _c.Redis.Keys.Status(Project), json, ttl);

    /// <summary>Fenced: an event on the project's channel, only while this worker's lease is the project's.</summary>
    public Task<bool> PublishAsync(IDatabase db, ProjectEvent e) => PublishAsync(db, Lease, e);

    private Task<bool> PublishAsync(IDatabase db, LeaseToken? token, ProjectEvent e) =>
        _c.Fenced.PublishAsync(db, Project, token, ControlPlaneJson.Write(e with { Epoch = e.Epoch ?? token?.Epoch }));

    /// <summary>A command answer or an error about to go out: the status shows the latest ones.</summary>
    internal void Noticed(ProjectEvent e) => Show.Notices.Noticed(e);

    /// <summary>An error about the desired state: kept for the status (<see cref="Noticed"/>), then published, fenced.</summary>
    internal Task<bool> NoticeAsync(IDatabase db, ProjectEvent e)
    {
        Noticed(e);
        return PublishAsync(db, e);
    }

    /// <summary>INGEST_ONLINE (true) or INGEST_OFFLINE (false) for one of the project's inputs.</summary>
    public void OnIngest(string input, bool online, string protocol, double pollSeconds)
    {
        Show.IngestOnline[input] = online;
        if (Show.Mixer is not { } mixer) return;
        if (online)
        {
            _log.LogInformation("project {Project}: ingest {Input} online ({Protocol}); connecting now", Project, input, protocol);
            mixer.SetInputExpected(input, true);
            mixer.ConnectInputNow(input);
        }
        else
        {
            _log.LogInformation("project {Project}: ingest {Input} offline ({Protocol}); slate on air, retrying every {Seconds} s until it is back", Project, input, protocol, pollSeconds);
            mixer.SetInputExpected(input, false);
        }
    }

    /// <summary>OUTPUT_ONLINE (true) or OUTPUT_OFFLINE (false) for one of the project's buses.</summary>
    public void OnOutputPublished(string bus, bool published)
    {
        Show.OutputPublished[bus] = published;
        _log.LogInformation("project {Project}: output {Bus} {State} in MediaMTX", Project, bus, published ? "published" : "no longer published");
    }

    /// <summary>The slow fallback poll of inputs MediaMTX called offline.</summary>
    public void RetryOfflineInputs()
    {
        if (Show.Mixer is not { } mixer) return;
        foreach (var (input, online) in Show.IngestOnline)
            if (!online) mixer.ConnectInputNow(input);
    }

    // ---- for the helpers --------------------------------------------------------------------------

    /// <summary>Starts the mixer on the first scene (under the gate); outputs wait for the publish gate.</summary>
    internal async Task StartMixerAsync(SceneDefinition scene)
    {
        UpdatePublishGate();
        var mixer = await _c.Mixers.StartAsync(scene, _publish);
        Show.Mixer = mixer;
        mixer.TallyChanged += tally =>
        {
            _tally = tally;
            TallyChanged?.Invoke(this);
        };
        // An event heard before the mixer started still applies to it.
        foreach (var (input, online) in Show.IngestOnline)
            if (!online) mixer.SetInputExpected(input, false);
        _ = Task.Run(async () =>
        {
            try
            {
                var tally = await mixer.GetTallyAsync();
                if (_tally is null) _tally = tally;
                TallyChanged?.Invoke(this);
            }
            catch (ObjectDisposedException) { }
        });
        if (HoldsLease) OnAir?.Invoke(this);
    }

    /// <summary>A new scene is on air: its estimated cost is what admission counts from now on.</summary>
    internal void SceneChanged(SceneDefinition scene) => Volatile.Write(ref _cost, _c.Costs.Estimate(scene, _c.Mixers.Encoders.Selected));

    private async Task<IDatabase> DbAsync() => (await _c.Redis.GetAsync()).GetDatabase();

    private void UpdatePublishGate()
    {
        // Handing over: what is on air stays, but an output that closes (the successor replacing it) must
        // not come back and take the path from the successor again.
        // The gate also closes by itself at a connection attempt once the lease is too old (MayPublish);
        // opening or closing it again is harmless, and _gateOpen tracks what was last said in the log.
        var open = MayPublish();
        if (open) _publish.Open();
        else _publish.Close();
        if (open == _gateOpen) return;
        _gateOpen = open;
        if (open)
        {
            if (_gateClosedByAge) _log.LogInformation("project {Project}: lease epoch {Epoch} confirmed again; outputs may reconnect", Project, _lease.Token?.Epoch);
            _gateClosedByAge = false;
        }
        else
        {
            _gateClosedByAge = _role == ProjectRole.Owner;
            if (_gateClosedByAge)
                _log.LogWarning("project {Project}: lease not confirmed for {Ms:F0} ms; what is on air stays, but an output that closes will not reconnect until Redis confirms the lease",
                    Project, _lease.SinceConfirmed.TotalMilliseconds);
        }
    }

    /// <summary>The publish rule (docs/fleet.md): owner, lease confirmed within the TTL, not handing over.</summary>
    private bool MayPublish() => _role == ProjectRole.Owner && _lease.IsConfirmed;

    private async Task<bool> WaitForInputsAsync(TimeSpan timeout, CancellationToken token)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        while (Show.Mixer is { } mixer)
        {
            var status = await mixer.GetStatusAsync();
            if (status.Inputs.Values.All(i => i.State == ConnectionState.Connected)) return true;
            if (Stopwatch.GetTimestamp() > deadline) return false;
            await Task.Delay(50, token);
        }
        return false;
    }

    // The successor's outputs replace ours at MediaMTX, which closes ours; our closed gate keeps them closed.
    private async Task WaitForOutputsReplacedAsync(IProjectMixer mixer)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < ReplacementWait)
        {
            try
            {
                var status = await mixer.GetStatusAsync();
                if (status.Buses.Values.All(b => b.Output != ConnectionState.Connected))
                {
                    _log.LogInformation("project {Project}: outputs replaced by the successor after {Ms} ms", Project, clock.ElapsedMilliseconds);
                    return;
                }
            }
            catch (ObjectDisposedException) { return; }
            await Task.Delay(50);
        }
        _log.LogInformation("project {Project}: outputs still connected {Seconds:F0} s after the take-over; stopping them", Project, ReplacementWait.TotalSeconds);
    }

    private static string Describe(StopReason reason) => reason switch
    {
        StopReason.Removed => "removed",
        StopReason.Lost => "lease lost",
        StopReason.HandedOver => "handed over",
        StopReason.Shutdown => "released",
        _ => "hand-over abandoned",
    };
}
