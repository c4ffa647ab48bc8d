using Microsoft.Extensions.Logging;
using MixerWorker.Pipeline.Builders;
using MixerWorker.Pipeline.Encoding;
using MixerWorker.Pipeline.Interop;
using MixerWorker.Pipeline.Scene;
using MixerWorker.Pipeline.Sinks;
using MixerWorker.Pipeline.Sources;

namespace MixerWorker.Pipeline.Engine;

/// <summary>
/// What a project's pipeline holds — its inputs and buses as built, with their connections — and
/// the scene they show. Only the project's control thread touches it: its entry points assert so
/// while the graph-thread check is on, and a whole scene change is one call to <see cref="Apply"/>.
/// Connection supervisors are made here but started and stopped by <see cref="ProjectMixer"/>
/// around that call, because stopping one waits for the control thread.
/// </summary>
internal sealed class ProjectGraph(
    Graph graph,
    ControlThread control,
    MixerOptions options,
    EncoderChainBuilder encoders,
    IReadOnlyList<IVideoEncoderBackend> backends,
    AudioMeterBoard meters,
    SecretRedactor redactor,
    PublishGate publish,
    ILogger log)
{
    private readonly Dictionary<string, InputRuntime> _inputs = [];
    private readonly Dictionary<string, BusRuntime> _buses = [];
    // Per bus, which of the backends it encodes with: a bus whose encoder failed stays on the next
    // one for the mixer's life (a hardware encoder that refused once, for want of a session or a
    // preset, would refuse again), including when a format change rebuilds it.
    private readonly Dictionary<string, int> _busBackend = [];
    // Per bus: the counts of the branches it had before its current one, so that its status's
    // counters never fall while the mixer runs (like its fallbacks and stalls, kept by name).
    private readonly Dictionary<string, BusCounts> _retired = [];
    // And the connection attempts of its outputs before the current one (a format change opens a new one).
    private readonly Dictionary<string, int> _retiredAttempts = [];
    private Func<string, string> _resolveGraphic = file => file;
    private readonly LatenessWatch _lateness = new(log);
    private readonly BusStallWatch _stalls = new();
    // Boxes of every bus showing the same source at the same size share one scaler.
    private readonly BusLatency _latency = new(options.InputJitter, options.MixerLatency);
    private readonly ScalerPool _scalers = new(graph, new BusLatency(options.InputJitter, options.MixerLatency).Total);
    // Buses whose sound is the same share one mix chain.
    private SharedSound? _sound;
    private SharedSound Sound => _sound ??= new SharedSound(graph, _latency, control.Post,
        () => [.. _buses.Values.Select(b => b.Branch)]);
    private int _connectionSerial;

    internal TallyPublisher Tally { get; } = new();

    /// <summary>The scene last applied.</summary>
    internal SceneDefinition Scene { get; private set; } = null!;

    internal void Start(SceneDefinition empty)
    {
        graph.AssertOwnerThread();
        Scene = empty;
        if (graph.SetState(State.Playing) == StateChange.Failure) throw new GstException("the pipeline refused to start");
    }

    internal InputRuntime? Input(string name)
    {
        graph.AssertOwnerThread();
        return _inputs.GetValueOrDefault(name);
    }

    /// <summary>
    /// Not expected (the hub says the feed is gone): its supervisor stops retrying, and its boxes show the card at
    /// once, without waiting for a first try that may never come. Expected again: it connects at once.
    /// </summary>
    internal void ExpectInput(string name, bool expected)
    {
        graph.AssertOwnerThread();
        if (_inputs.GetValueOrDefault(name) is not { } input) return;
        if (input.Supervisor is { } s) s.Paused = !expected;
        if (expected || input.FirstTryOver) return;
        input.FirstTryOver = true;
        RefreshCards();
    }

    internal BusRuntime? Bus(string name)
    {
        graph.AssertOwnerThread();
        return _buses.GetValueOrDefault(name);
    }

    internal void RecalculateLatency() => graph.RecalculateLatency();

    /// <summary>
    /// Reports the buses' drop episodes and sets how much the others give way to Program (<see cref="LatenessWatch"/>);
    /// says when an input's sound is in time again (<see cref="LateSound"/>).
    /// </summary>
    internal void WatchLateness()
    {
        graph.AssertOwnerThread();
        _lateness.Watch(_buses.Values.Select(b => b.Branch));
        var now = TimeSpan.FromMilliseconds(Environment.TickCount64);
        foreach (var input in _inputs.Values)
            if (input.LateSound.Tick(now) is { } ended)
                log.LogInformation("input {Input}: its sound reaches the mix in time again; {Ms:F0} ms of it were dropped late over {Seconds:F1} s",
                    input.Name, ended.Lost.TotalMilliseconds, ended.Length.TotalSeconds);
    }

    /// <summary>
    /// A bus mixer's pad at <paramref name="padPath"/> dropped sound for coming after its time (a QoS message): counted
    /// for the input it hears, and an episode worth telling is told once. QoS from anything else is no concern here.
    /// </summary>
    internal void SoundDroppedLate(string padPath, ulong runningTimeNs, ulong durationNs)
    {
        graph.AssertOwnerThread();
        if (_sound?.InputHeardAt(padPath) is not { } name || _inputs.GetValueOrDefault(name) is not { } input) return;
        var live = input.IsLive ? DateTimeOffset.UtcNow - input.Since : TimeSpan.Zero;
        if (input.LateSound.Note(runningTimeNs, durationNs, TimeSpan.FromMilliseconds(Environment.TickCount64), live) is { } episode)
            log.LogWarning("input {Input}: its sound comes to the mix after its time and is dropped, heard as gaps on every bus hearing it "
                + "({Ms:F0} ms in {Seconds:F1} s): its publisher sends sound later than its pictures (ffmpeg or OBS packing it: -muxdelay), "
                + "the network holds it past the jitter allowance, or the machine is short of CPU",
                input.Name, episode.Lost.TotalMilliseconds, episode.Length.TotalSeconds);
    }

    /// <summary>
    /// Decides a change against the graph as it is now (the scene, what is built, which buses are in a
    /// real transition) and works out its <see cref="SceneDiff"/>; <paramref name="validate"/> refuses a
    /// bad next scene before anything changes. Lists the outputs that must stop before it is applied.
    /// </summary>
    internal PlannedChange Plan(Func<RunningState, ShowStep> decide, Action<SceneDefinition> validate)
    {
        graph.AssertOwnerThread();
        var transitioning = InFlight().Where(a => a.Value.Transition.Kind != TransitionKind.Cut).Select(a => a.Key).ToHashSet();
        var step = decide(new RunningState(Scene, transitioning));
        var diff = SceneDiff.Between([.. _inputs.Keys], [.. _buses.Values.Select(b => b.Branch.Definition)], step);
        if (!diff.FinishesOnly) validate(diff.Next);
        return new PlannedChange(diff, [.. diff.RemoveBuses.Select(b => _buses[b].Supervisor).OfType<ConnectionSupervisor>()]);
    }

    /// <summary>
    /// Carries out <paramref name="diff"/> on the graph: finishes the transitions it ends, builds new
    /// inputs and sets every input's audio, takes down the buses it removes (their outputs are already
    /// stopped), builds and shows every bus, then refreshes tally and multiviews. Inputs it removes are
    /// only cut away from here; <see cref="Retire"/> takes them down once their connections stopped.
    /// </summary>
    internal AppliedChange Apply(SceneDiff diff, Func<string, string> resolveGraphic)
    {
        graph.AssertOwnerThread();
        _resolveGraphic = resolveGraphic;
        foreach (var name in diff.FinishTransitions) _buses.GetValueOrDefault(name)?.Branch.Director.FinishNow();
        if (diff.FinishesOnly) return AppliedChange.Nothing;

        foreach (var name in diff.AddInputs) _inputs[name] = new InputRuntime(new InputBranch(graph, name, options.InputJitter,
            // Straight from the input's thread, like a bus's: the board is thread-safe, and Retire forgets the
            // meter only after the branch's Dispose, which ends its readings.
            reading => meters.Record(ElementKind.Input, name, reading)));
        foreach (var input in diff.Next.Inputs) _inputs[input.Name].Branch.ApplyAudio(input);
        // Inputs on their way out are left out, so no new branch (audio crossfade included) hangs on them.
        var staying = InputsOf(diff.Next);

        foreach (var name in diff.RemoveBuses) RemoveBus(_buses[name]);
        foreach (var show in diff.Buses)
        {
            if (show.Build)
            {
                var built = new BusRuntime(BuildBus(show.Bus)) { CardsFrom = Environment.TickCount64 + (long)CardHold.TotalMilliseconds };
                _buses[show.Bus.Name] = built;
                built.Branch.Director.SetLive(LiveInputs());
            }
            _buses[show.Bus.Name].Branch.Show(show.Bus, show.Transition, show.FadeToBlack, staying, resolveGraphic);
        }
        // After the pictures: a bus's sound depends on the transition its director started.
        Sound.Apply(staying);

        Scene = diff.Next;
        // Multiviews first see the new scene here, before a removed input's branch goes.
        RefreshTally(multiviewsAnyway: true);
        RefreshCards();
        var removed = diff.RemoveInputs.Select(n => _inputs[n]).ToList();
        // A cut away from a removed input must be finished before its branch goes.
        if (removed.Count > 0) foreach (var b in _buses.Values) b.Branch.Director.FinishNow();
        // Outputs first, Program's first of all: each connection is opened on this thread in the order
        // started, and a viewer waits for Program's output, not for an input (its box shows the background, then its card).
        return new AppliedChange(
            [.. _buses.Values.Where(b => b.Supervisor is null).OrderBy(b => b.Name != "program").Select(Supervise),
                .. _inputs.Values.Where(i => i.Supervisor is null && !removed.Contains(i)).Select(Supervise)],
            [.. removed.Where(i => i.Supervisor is not null).Select(i => i.Supervisor!)],
            [.. removed.Select(i => i.Name)]);
    }

    /// <summary>Takes down inputs that left the scene, once their connections have stopped.</summary>
    internal void Retire(IReadOnlyList<string> inputs)
    {
        graph.AssertOwnerThread();
        foreach (var name in inputs)
        {
            if (!_inputs.Remove(name, out var gone)) continue;
            gone.Branch.Dispose();
            meters.Forget(ElementKind.Input, name);
            log.LogInformation("input {Input} removed", name);
        }
    }

    // The inputs of `scene`; those on their way out get no new branch.
    private Dictionary<string, InputBranch> InputsOf(SceneDefinition scene) =>
        _inputs.Where(i => scene.FindInput(i.Key) is not null).ToDictionary(i => i.Key, i => i.Value.Branch);

    private void ShareSound() => Sound.Apply(InputsOf(Scene));

    private void RemoveBus(BusRuntime bus)
    {
        foreach (var other in _buses.Values) other.Branch.Multiview?.Detach(bus.Branch.RawTee);
        bus.Branch.Dispose();
        KeepCounts(bus.Branch);
        _retiredAttempts[bus.Name] = _retiredAttempts.GetValueOrDefault(bus.Name) + (bus.Supervisor?.Attempts ?? 0);
        _buses.Remove(bus.Name);
        Sound.Sweep();
        meters.Forget(ElementKind.Bus, bus.Name);
        log.LogInformation("bus {Bus} stopped", bus.Name);
    }

    private BusBranch BuildBus(BusDefinition bus)
    {
        var f = bus.Format;
        var settings = new VideoEncodeSettings(f.Width, f.Height, f.Fps, f.VideoBitrateKbps, f.GopFrames);
        while (true)
        {
            var index = _busBackend.GetValueOrDefault(bus.Name);
            var plan = encoders.Plan(backends[index], settings);
            var last = index + 1 >= backends.Count;
            // Every backend but the last is tried on a few frames first: one that refuses to open
            // fails here, and the bus goes on air on the next one without ever having stalled.
            if (!last && encoders.TrialRuns && Trial(bus.Name, plan, settings) is { } refusal)
            {
                FallBack(bus.Name, index, plan.Backend, refusal);
                continue;
            }
            log.LogInformation("bus {Bus}: {Width}x{Height}@{Fps} {Plan}", bus.Name, f.Width, f.Height, f.Fps, plan);
            try
            {
                var branch = new BusBranch(graph, _scalers, bus, plan, _latency, control.Post,
                    // Straight from the mixer's thread: the board is thread-safe, and a bus's readings end
                    // with its Dispose, before RemoveBus forgets its meter.
                    reading => meters.Record(ElementKind.Bus, bus.Name, reading));
                branch.Director.TransitionFinished += () =>
                {
                    RefreshTally();
                    // A bus that crossfaded on a chain of its own may share again.
                    control.Post(ShareSound);
                };
                _lateness.Adopt(branch);
                if (options.ThumbnailInterval > TimeSpan.Zero) branch.TakeThumbnails(options.ThumbnailInterval, options.ThumbnailWidth);
                return branch;
            }
            // An encoder that cannot even be made is the same failure as one that refuses to open.
            catch (GstException e) when (!last)
            {
                FallBack(bus.Name, index, plan.Backend, e.Message);
            }
        }
    }

    // Per backend and encode settings: whether a trial run passed (it is not run again) or why it failed.
    private readonly Dictionary<(string, VideoEncodeSettings), string?> _trials = [];

    private string? Trial(string busName, EncoderChainPlan plan, VideoEncodeSettings s)
    {
        if (_trials.TryGetValue((plan.Backend, s), out var known)) return known;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var chain = new List<Element>();
        try
        {
            var source = Element.Make("videotestsrc", $"trial.{busName}.src");
            source.Set("num-buffers", 3);
            chain.Add(source);
            chain.Add(ElementFactory.CapsFilter($"trial.{busName}.caps", $"video/x-raw,format=I420,width={s.Width},height={s.Height},framerate={s.Fps}/1"));
            chain.AddRange(ElementFactory.CreateChain(plan, i => $"trial.{busName}.{i}"));
            chain.Add(Element.Make("fakesink", $"trial.{busName}.sink"));
        }
        catch (GstException e)
        {
            foreach (var made in chain) made.Dispose();
            return _trials[(plan.Backend, s)] = e.Message;
        }
        var refusal = TrialRun.Run(chain, TimeSpan.FromSeconds(2));
        log.LogDebug("bus {Bus}: trial of encoder {Backend}: {Outcome} in {Ms} ms", busName, plan.Backend, refusal ?? "works", clock.ElapsedMilliseconds);
        return _trials[(plan.Backend, s)] = refusal switch
        {
            null => null,
            // What feeds an encoder that will not open says "not-negotiated"; the encoder itself often says nothing.
            _ when refusal.Contains("not-negotiated", StringComparison.Ordinal) => $"it refused {s.Width}x{s.Height}@{s.Fps} I420 frames",
            _ => redactor.Redact(refusal.Split('\n')[0]),
        };
    }

    private void FallBack(string busName, int index, string failed, string reason)
    {
        _busBackend[busName] = index + 1;
        _fallbacks[busName] = _fallbacks.GetValueOrDefault(busName) + 1;
        _fallbackReason[busName] = $"encoder {failed} failed ({reason}); the bus now encodes with {backends[index + 1].Name}";
        log.LogError("bus {Bus}: encoder {Failed} refused to open ({Reason}); the bus is built on {Next} instead", busName, failed, reason, backends[index + 1].Name);
    }

    // Per bus: how often its encoder fell back, and the last reason, for the status.
    private readonly Dictionary<string, int> _fallbacks = [];
    private readonly Dictionary<string, string> _fallbackReason = [];

    /// <summary>
    /// A bus's encoder failed (refused to open, or failed mid-show): the bus is rebuilt on the next
    /// backend, software last (<see cref="Rebuild"/>: its output kept, other buses not touched). Errors
    /// from a chain already replaced (<paramref name="failedBackend"/> is not the bus's current one;
    /// null: the current one) are ignored.
    /// </summary>
    internal void EncoderFailed(string busName, string? failedBackend, string reason)
    {
        graph.AssertOwnerThread();
        if (_buses.GetValueOrDefault(busName) is not { } bus) return;
        failedBackend ??= bus.Branch.EncoderPlan.Backend;
        if (bus.Branch.EncoderPlan.Backend != failedBackend) return;
        var index = _busBackend.GetValueOrDefault(busName);
        if (index + 1 >= backends.Count)
        {
            log.LogError("bus {Bus}: encoder {Backend} failed ({Reason}) and no other encoder backend is left", busName, failedBackend, reason);
            bus.Report(bus.State, $"encoder {failedBackend} failed: {reason}");
            return;
        }
        var clock = System.Diagnostics.Stopwatch.StartNew();
        _busBackend[busName] = index + 1;
        var output = Rebuild(bus);
        _fallbacks[busName] = _fallbacks.GetValueOrDefault(busName) + 1;
        var now = bus.Branch.EncoderPlan.Backend;
        _fallbackReason[busName] = $"encoder {failedBackend} failed ({reason}); the bus now encodes with {now}";
        log.LogError("bus {Bus}: encoder {Failed} failed ({Reason}); rebuilt on {Now} in {Ms} ms, {Output}; other buses untouched",
            busName, failedBackend, reason, now, clock.ElapsedMilliseconds, output);
    }

    /// <summary>
    /// Takes a bus's branch down and builds it again as it was (on its current encoder backend), in
    /// place: its SRT output is moved over to the new muxer, so MediaMTX keeps the publisher and its
    /// viewers; other buses are not touched. Says what became of the output, for the log.
    /// </summary>
    private string Rebuild(BusRuntime bus, TimeSpan heldAfterStop = default)
    {
        var output = bus.Connection as SrtOutput;
        output?.Detach();
        foreach (var other in _buses.Values) other.Branch.Multiview?.Detach(bus.Branch.RawTee);
        var definition = bus.Branch.Definition;
        bus.Branch.StopDownstreamFirst();
        if (heldAfterStop > TimeSpan.Zero) Thread.Sleep(heldAfterStop);
        bus.Branch.Dispose();
        var retired = bus.Branch;
        bus.Branch = BuildBus(definition);
        // Kept once the output counts into the new branch: until then it may have sent the old one's last bytes.
        KeepCounts(retired);
        bus.Branch.Director.SetLive(LiveInputs());
        var staying = InputsOf(Scene);
        bus.Branch.Show(definition, TransitionSpec.Cut, TimeSpan.Zero, staying, _resolveGraphic);
        Sound.Apply(staying);
        output?.Attach(bus.Branch.MuxTee);
        bus.ReplacedAt = Environment.TickCount64;
        RefreshTally(multiviewsAnyway: true); // a multiview's program tile hangs on the rebuilt bus
        return output is null ? "its output connects when ready" : "its SRT output connection kept";
    }

    /// <summary>
    /// Rebuilds each bus whose pictures stopped leaving its muxer while the others go on
    /// (<see cref="BusStallWatch"/>); says so once per episode, and again when its pictures flow.
    /// </summary>
    internal void WatchStalls()
    {
        graph.AssertOwnerThread();
        var looks = _buses.Values.Select(b => new BusStallWatch.Look(b.Name, b.Branch, b.Branch.PicturesMuxed, b.Branch.Guard.LateDrops,
            BusStallWatch.Allowance(options.BusStallTimeout, b.Branch.Definition.Format.Fps), BusStallWatch.GoingOn(b.Branch.Definition.Format.Fps))).ToList();
        var (stalled, recovered) = _stalls.Watch(looks, TimeSpan.FromMilliseconds(Environment.TickCount64));
        foreach (var r in recovered)
            log.LogInformation("bus {Bus}: pictures leave it again, {Seconds:F1} s after its last one, after {Rebuilds} rebuild(s)", r.Bus, r.After.TotalSeconds, r.Rebuilds);
        foreach (var stall in stalled)
        {
            var clock = System.Diagnostics.Stopwatch.StartNew();
            var output = Rebuild(_buses[stall.Bus]);
            if (stall.Rebuild == 1)
                log.LogWarning("bus {Bus}: no picture has left its muxer for {Seconds:F1} s while the other buses go on: stalled; rebuilt in {Ms} ms, {Output}; other buses untouched",
                    stall.Bus, stall.Silent.TotalSeconds, clock.ElapsedMilliseconds, output);
            else
                log.LogInformation("bus {Bus}: still no picture {Seconds:F1} s after its last one; rebuilt again ({Rebuild}) in {Ms} ms",
                    stall.Bus, stall.Silent.TotalSeconds, stall.Rebuild, clock.ElapsedMilliseconds);
        }
    }

    private ConnectionSupervisor Supervise(InputRuntime input)
    {
        var endpoint = options.MediaMtx.Ingest(Scene.Project, input.Name);
        return Supervise(input, $"input {input.Name} ({endpoint})",
            (generation, session) => new SrtSource(graph, input.Branch, endpoint, generation, session, options.InputJitter, redactor.Redact, log,
                runningTime => _scalers.Skipped(input.Branch.VideoTee, runningTime)),
            (state, error) => OnInputState(input, state, error));
    }

    private ConnectionSupervisor Supervise(BusRuntime bus)
    {
        var endpoint = options.MediaMtx.Output(Scene.Project, bus.Name);
        return Supervise(bus, $"bus {bus.Name} output ({endpoint})",
            (generation, session) =>
            {
                var output = new SrtOutput(graph, bus.Branch.MuxTee, bus.Name, endpoint, generation, session,
                    // A new bus's cards wait for its output's first keyframe, not for the handshake: the handshake can
                    // finish while the bus still negotiates its first pictures, and cards linked then raced that
                    // negotiation (a compositor's not-negotiated, read as the encoder refusing the bus's format).
                    () => control.Post(() =>
                    {
                        if (bus.CardsFrom <= Environment.TickCount64) return;
                        bus.CardsFrom = 0;
                        RefreshCards();
                    }),
                    // The bus's branch, current when the bytes and pictures pass: an encoder fallback rebuilds it behind the connection.
                    bytes => bus.Branch.CountSent(bytes), () => bus.Branch.Leaving, () => bus.Branch.RequestKeyFrame());
                foreach (var after in KeyFrameBurst)
                    control.PostAfter(after, () =>
                    {
                        if (ReferenceEquals(bus.Connection, output)) output.RequestKeyFrame();
                    });
                return output;
            },
            (state, error) =>
            {
                bus.Report(state, error);
                // The output sends nothing until a keyframe: one now, rather than the next of the GOP.
                if (state == ConnectionState.Connected)
                    control.Post(() => (bus.Connection as SrtOutput)?.RequestKeyFrame());
            },
            publish);
    }

    // A new publisher connection makes MediaMTX drop the path's readers (it replaced the previous
    // publisher: a restart, a hand-over between workers). They reconnect within a second or so and
    // would then wait up to a whole GOP for a keyframe; a few extra keyframes let them start at once.
    private static readonly TimeSpan[] KeyFrameBurst = [.. new[] { 250, 500, 750, 1000, 1500 }.Select(ms => TimeSpan.FromMilliseconds(ms))];

    // Inputs and outputs are kept alive the same way; only what one connection builds differs.
    // Connection serials are unique in the mixer, so a bin's name never repeats, even for an input
    // removed and added again, and a late error from an old bin can never match the current one.
    private ConnectionSupervisor Supervise(Runtime runtime, string what, Func<int, Srt.ConnectionSession, IDisposable> connect, Action<ConnectionState, string?> report, PublishGate? gate = null) =>
        runtime.Supervisor = new ConnectionSupervisor(what, options, log,
            open: () => control.Invoke(() =>
            {
                graph.AssertOwnerThread();
                var session = new Srt.ConnectionSession(++_connectionSerial);
                runtime.Connection = connect(session.Generation, session);
                return session;
            }),
            close: _ => control.Invoke(() =>
            {
                runtime.Connection?.Dispose();
                runtime.Connection = null;
            }),
            report: (state, error) => control.Post(() => report(state, error)),
            readyTimeout: options.FirstFrameTimeout,
            gate: gate);

    private void OnInputState(InputRuntime input, ConnectionState state, string? error)
    {
        var wasLive = input.IsLive;
        input.Report(state, error);
        if (!input.FirstTryOver && state is not (ConnectionState.Connecting or ConnectionState.Held))
        {
            input.FirstTryOver = true;
            if (!input.IsLive) RefreshCards();
        }
        if (wasLive == input.IsLive) return;
        if (wasLive) input.LostAt = DateTimeOffset.UtcNow;
        var liveInputs = LiveInputs();
        foreach (var bus in _buses.Values) bus.Branch.Director.SetLive(liveInputs);
        RefreshTally(multiviewsAnyway: true);
        RefreshCards();
        log.LogInformation("input {Input} is {State}", input.Name, input.IsLive ? "live" : "off air (no signal card shown)");
    }

    /// <summary>Ends connections that stopped delivering frames without an error (a stalled peer).</summary>
    internal void EndStalledInputs()
    {
        graph.AssertOwnerThread();
        foreach (var input in _inputs.Values)
            if (input.IsLive && input.Supervisor?.Current is { HasEnded: false } s && s.SinceActivity > options.InputStallTimeout)
                s.Fail($"input '{input.Name}': no data for {s.SinceActivity.TotalSeconds:F1} s" + (s.ExplainSilence?.Invoke() is { } what ? $" ({what})" : ""));
    }

    /// <summary>
    /// How long a new bus at most waits for its output to connect before it builds its "no signal" cards.
    /// Drawing the first cards (text layout, fonts) cost about a quarter of a second of the control thread
    /// and of a core when all were built with the pipeline, before any output had opened, at the start,
    /// when every input is still missing; until then a box without picture shows the background.
    /// </summary>
    internal static readonly TimeSpan CardHold = TimeSpan.FromSeconds(2);

    /// <summary>
    /// Brings every bus's "no signal" cards in line with the inputs without signal and the time since
    /// each was lost (called on every change and a few times a second; a card's text changes once a second).
    /// A bus still holding its cards (<see cref="BusRuntime.CardsFrom"/>) is left as it is.
    /// </summary>
    internal void RefreshCards()
    {
        graph.AssertOwnerThread();
        var now = DateTimeOffset.UtcNow;
        var noSignal = _inputs.Values.Where(i => !i.IsLive && i.FirstTryOver && Scene.FindInput(i.Name) is not null)
            .ToDictionary(i => i.Name, i => i.LostAt is { } lost ? now - lost : (TimeSpan?)null);
        var tick = Environment.TickCount64;
        foreach (var bus in _buses.Values)
        {
            if (tick < bus.CardsFrom) continue;
            bus.Branch.Director.UpdateCards(noSignal);
            bus.Branch.Multiview?.UpdateCards(noSignal, bus.Branch.Definition.Format.Fps);
        }
    }

    /// <summary>The text of each "no signal" card a bus shows, by input and size (a multiview's: by input, size 0).</summary>
    /// <summary>How long each bus's compositor and muxer wait past a buffer's running time; null where one does not wait for the clock (tests).</summary>
    internal IReadOnlyDictionary<string, (TimeSpan? Compositor, TimeSpan? Muxer)> BusLatencies()
    {
        graph.AssertOwnerThread();
        return _buses.Values.ToDictionary(b => b.Name, b => (b.Branch.Compositor.AggregatorLatency(), b.Branch.Mux.AggregatorLatency()));
    }

    internal IReadOnlyDictionary<(string Input, int Width, int Height), string> Cards(string bus)
    {
        graph.AssertOwnerThread();
        if (!_buses.TryGetValue(bus, out var b)) return new Dictionary<(string, int, int), string>();
        return b.Branch.Multiview is { } board ? board.Cards().ToDictionary(c => (c.Key, 0, 0), c => c.Value) : b.Branch.Director.Cards;
    }

    private HashSet<string> LiveInputs() => _inputs.Values.Where(i => i.IsLive).Select(i => i.Name).ToHashSet();

    internal Dictionary<string, BusAnimation> InFlight() =>
        _buses.Values.Select(b => (b.Name, Animation: b.Branch.Director.Animation)).Where(b => b.Animation is not null).ToDictionary(b => b.Name, b => b.Animation!);

    // Multiviews show the tally, so they follow it; they also follow the scene and which inputs are
    // live, hence the refresh when the tally alone did not change.
    private void RefreshTally(bool multiviewsAnyway = false)
    {
        var changed = Tally.Refresh(Scene, InFlight(), out var tally);
        if (changed || multiviewsAnyway) UpdateMultiviews(tally);
        if (changed) Tally.Announce(tally);
    }

    private void UpdateMultiviews(TallyState tally)
    {
        var boards = _buses.Values.Where(b => b.Branch.Multiview is not null).ToList();
        if (boards.Count == 0) return;
        var inputs = _inputs.ToDictionary(i => i.Key, i => i.Value.Branch);
        var programTee = _buses.TryGetValue("program", out var program) && program.Branch.Multiview is null ? program.Branch.RawTee : null;
        var live = LiveInputs();
        foreach (var b in boards) b.Branch.Multiview!.Update(Scene, b.Branch.Definition.Format, tally, inputs, programTee, live);
    }

    internal MixerStatus Status()
    {
        graph.AssertOwnerThread();
        return new MixerStatus(Scene.Project, Scene.Revision,
            _inputs.Values.ToDictionary(i => i.Name, i => new InputStatus(i.State, i.Error, i.Supervisor?.Attempts ?? 0, i.Since,
                i.Branch.FramesIn, i.DecodeErrors + (i.Supervisor?.DataFaults ?? 0), i.Branch.SinceLastFrame, Math.Round(i.LateSound.Dropped.TotalSeconds, 3))),
            _buses.Values.ToDictionary(b => b.Name, Status), _lateness.Shedding);
    }

    private BusStatus Status(BusRuntime b)
    {
        var n = _retired.GetValueOrDefault(b.Name) + BusCounts.Of(b.Branch);
        var attempts = _retiredAttempts.GetValueOrDefault(b.Name) + (b.Supervisor?.Attempts ?? 0);
        return new BusStatus(b.State, b.Error ?? _fallbackReason.GetValueOrDefault(b.Name), n.FramesOut, b.Branch.EncoderPlan.Backend,
            attempts, n.BytesSent, Lateness(b.Branch, n, _lateness.ShedSince(b.Branch)), _fallbacks.GetValueOrDefault(b.Name), _stalls.Episodes(b.Name), _stalls.Stalled(b.Name));
    }

    // Counts are the bus's (every branch's); the rest is now, the live branch's.
    private static BusLateness Lateness(BusBranch b, BusCounts n, DateTimeOffset? shedSince) =>
        new(b.Guard.Dropping, Math.Round(b.Guard.DeliveredFps, 1), n.DroppedFrames, n.Episodes, Math.Round(n.AudioDroppedNs / 1e9, 3),
            b.Leaving.P95Ms() is { } p95 ? Math.Round(p95, 1) : null, n.PicturesSent, n.PicturesSentLate,
            b.Guard.ShedEvery > 1, b.Guard.ShedEvery, shedSince, b.Guard.Fps);

    private void KeepCounts(BusBranch gone) => _retired[gone.Name] = _retired.GetValueOrDefault(gone.Name) + BusCounts.Of(gone);

    /// <summary>The latest thumbnail of every bus that has one; takes a new picture where one is waiting.</summary>
    internal IReadOnlyDictionary<string, Thumbnail> Thumbnails()
    {
        graph.AssertOwnerThread();
        var thumbnails = new Dictionary<string, Thumbnail>();
        foreach (var b in _buses.Values)
            if (b.Branch.Thumbnail is { } t && t.Take() is var (jpeg, sequence, at))
                thumbnails[b.Name] = new Thumbnail(t.Width, t.Height, jpeg, sequence, at);
        return thumbnails;
    }

    internal IReadOnlyDictionary<string, string> EncoderPlans()
    {
        graph.AssertOwnerThread();
        return _buses.ToDictionary(b => b.Key, b => b.Value.Branch.EncoderPlan.ToString());
    }

    /// <summary>Per bus, each box's source with the caps it is scaled to and those it reaches the compositor with.</summary>
    internal IReadOnlyDictionary<string, IReadOnlyList<BoxCaps>> BoxCaps()
    {
        graph.AssertOwnerThread();
        return _buses.ToDictionary(b => b.Key, b => (IReadOnlyList<BoxCaps>)[.. (b.Value.Branch.Multiview?.Boxes ?? b.Value.Branch.Director.Branches)
            .Select(box => box.NegotiatedCaps())]);
    }

    /// <summary>
    /// Per bus, each box's source, its <see cref="BoxBranch.LatePictures"/>, <see cref="BoxBranch.LostPictures"/> and
    /// <see cref="BoxBranch.QueueDropped"/> so far (tests, benches).
    /// </summary>
    internal IReadOnlyDictionary<string, IReadOnlyList<(string Source, long LatePictures, long LostPictures, long QueueDropped)>> BoxLateness()
    {
        graph.AssertOwnerThread();
        return _buses.ToDictionary(b => b.Key, b => (IReadOnlyList<(string, long, long, long)>)[.. (b.Value.Branch.Multiview?.Boxes ?? b.Value.Branch.Director.Branches)
            .Select(box => (box.Source, box.LatePictures, box.LostPictures, box.QueueDropped))]);
    }

    /// <summary>The shared scalers (source, size, boxes attached) and how many `videoscale` elements the whole pipeline holds.</summary>
    internal ScalerReport Scalers()
    {
        graph.AssertOwnerThread();
        return new ScalerReport([.. _scalers.Feeds.Select(f => new ScalerUse(f.Source, f.Key.Width, f.Key.Height, f.Users))],
            graph.Pipeline.CountElements("videoscale"));
    }

    /// <summary>Per bus, how many branches its raw tee feeds (tests: each one more makes the compositor's pool hold one more picture).</summary>
    internal IReadOnlyDictionary<string, int> RawTeeBranches()
    {
        graph.AssertOwnerThread();
        return _buses.Values.ToDictionary(b => b.Name, b => int.Parse(b.Branch.RawTee.Get("num-src-pads") ?? "0"));
    }

    /// <summary>How many elements made by <paramref name="factory"/> the pipeline holds (tests: what is shared).</summary>
    internal int CountElements(string factory)
    {
        graph.AssertOwnerThread();
        return graph.Pipeline.CountElements(factory);
    }

    /// <summary>
    /// Makes a bus's muxer refuse its sound ("flushing", as a muxer that failed or stopped answers), without
    /// touching the element's state (tests: what a failing bus takes down).
    /// </summary>
    internal void FailSoundAtMuxer(string bus)
    {
        graph.AssertOwnerThread();
        using var muxerSound = _buses[bus].Branch.Sound.Output.Peer() ?? throw new InvalidOperationException($"bus {bus}'s sound is not linked to its muxer");
        muxerSound.StartFlushing();
    }

    /// <summary>
    /// Tells <paramref name="onBlock"/>, for each block of sound that comes to a bus from its chain or, with
    /// <paramref name="atMuxer"/>, that enters its muxer, whether the bus holds it alone, bytes included (tests: buses
    /// sharing a mix chain share no block in their muxers).
    /// </summary>
    internal IDisposable WatchSound(string bus, bool atMuxer, Action<bool> onBlock)
    {
        graph.AssertOwnerThread();
        var sound = _buses[bus].Branch.Sound;
        using var entry = sound.Entry.StaticPad("sink");
        return graph.AddProbe(atMuxer ? sound.Output : entry, ProbeType.Buffer, info =>
        {
            if (info.DataSize > 0) onBlock(info.HeldAlone);
            return ProbeReturn.Ok;
        });
    }

    /// <summary>
    /// Tells <paramref name="onRequest"/> of each keyframe request that comes up to <paramref name="bus"/>'s encoder or, with
    /// <paramref name="atMuxer"/>, to its muxer's source pad (tests: an output asks the encoder, never through the muxer).
    /// </summary>
    internal IDisposable WatchKeyFrameRequests(string bus, bool atMuxer, Action onRequest)
    {
        graph.AssertOwnerThread();
        var branch = _buses[bus].Branch;
        using var muxSrc = branch.MuxTee.StaticPad("sink").Peer() ?? throw new InvalidOperationException($"bus {bus}'s muxer is not linked to its tee");
        return graph.AddProbe(atMuxer ? muxSrc : branch.EncoderOutput, ProbeType.EventUpstream, info =>
        {
            if (info.IsForceKeyUnit) onRequest();
            return ProbeReturn.Ok;
        });
    }

    /// <summary>
    /// Tells <paramref name="onReading"/> of each reading of the meter of the mix chain <paramref name="bus"/> hears now,
    /// every sample its limiter lets through to the encoder, on the chain's thread (tests: a limit that holds for every block).
    /// </summary>
    internal IDisposable WatchSoundMeter(string bus, Action<LevelReading> onReading)
    {
        graph.AssertOwnerThread();
        var chain = _buses[bus].Branch.Sound.Current ?? throw new InvalidOperationException($"bus {bus} hears no mix chain");
        chain.Listen(onReading);
        return new MeterWatch(() => control.Post(() => chain.Unlisten(onReading)));
    }

    private sealed class MeterWatch(Action stop) : IDisposable
    {
        private int _stopped;
        public void Dispose()
        {
            if (Interlocked.Exchange(ref _stopped, 1) == 0) stop();
        }
    }

    /// <summary>Blocks a bus's muxer's source pad on its next buffer until the muxer stops (tests: a muxer stuck for good).</summary>
    internal IDisposable StopMuxer(string bus)
    {
        graph.AssertOwnerThread();
        using var muxSrc = _buses[bus].Branch.MuxTee.StaticPad("sink").Peer() ?? throw new InvalidOperationException($"bus {bus}'s muxer is not linked to its tee");
        return graph.AddProbe(muxSrc, ProbeType.Block | ProbeType.Buffer | ProbeType.BufferList, _ => ProbeReturn.Ok);
    }

    /// <summary>
    /// Holds the mix chain a bus hears on its thread, once, at its next block, asleep as a thread waiting on a
    /// lock or a pad is (tests: a chain held back, which is no shortage of CPU).
    /// </summary>
    internal IDisposable HoldSoundChain(string bus, TimeSpan hold)
    {
        graph.AssertOwnerThread();
        var chain = _buses[bus].Branch.Sound.Current ?? throw new InvalidOperationException($"bus {bus} hears no mix chain");
        using var teeSink = chain.Output.StaticPad("sink");
        var held = 0;
        return graph.AddProbe(teeSink, ProbeType.Buffer, _ =>
        {
            if (Interlocked.Exchange(ref held, 1) == 0) Thread.Sleep(hold);
            return ProbeReturn.Ok;
        });
    }

    /// <summary>
    /// Holds each block of the mix chain a bus hears on its thread until <paramref name="late"/> past its running
    /// time (tests: a chain whose every block comes too late, as a starved one's do in runs).
    /// </summary>
    internal IDisposable DelaySoundChain(string bus, TimeSpan late)
    {
        graph.AssertOwnerThread();
        var chain = _buses[bus].Branch.Sound.Current ?? throw new InvalidOperationException($"bus {bus} hears no mix chain");
        var teeSink = chain.Output.StaticPad("sink");
        var pipeline = graph.Pipeline;
        var probe = graph.AddProbe(teeSink, ProbeType.Buffer, info =>
        {
            if (info.BufferRunningTime(teeSink) is { } runningTime && pipeline.RunningTimeNow() is { } now
                && (long)runningTime + late.Ticks * 100 - (long)now is var wait and > 0)
                Thread.Sleep(TimeSpan.FromTicks(wait / 100));
            return ProbeReturn.Ok;
        });
        return new DisposesBoth(probe, teeSink);
    }

    private sealed class DisposesBoth(IDisposable first, IDisposable then) : IDisposable
    {
        public void Dispose()
        {
            first.Dispose();
            then.Dispose();
        }
    }

    /// <summary>
    /// Holds the control thread for <paramref name="hold"/> each time <paramref name="bus"/> moves between mix chains,
    /// after it left the old one and before it takes the new one's branch (tests: a control thread a loaded machine held there).
    /// </summary>
    internal void HoldMovesBetweenChains(string bus, TimeSpan hold)
    {
        graph.AssertOwnerThread();
        _buses[bus].Branch.Sound.BetweenChains = () => Thread.Sleep(hold);
    }

    /// <summary>Per bus, the sound dropped late so far, and of it what was dropped for want of CPU (<see cref="LatenessGuard.AudioStarvedNs"/>; tests).</summary>
    internal IReadOnlyDictionary<string, (TimeSpan Dropped, TimeSpan Starved)> SoundDroppedLate()
    {
        graph.AssertOwnerThread();
        return _buses.ToDictionary(b => b.Key, b => (TimeSpan.FromTicks(b.Value.Branch.Guard.AudioDroppedNs / 100), TimeSpan.FromTicks(b.Value.Branch.Guard.AudioStarvedNs / 100)));
    }

    /// <summary>Each connected input's <see cref="SourceCounters"/> (tests, benches).</summary>
    internal IReadOnlyDictionary<string, SourceCounters> SourceCounters()
    {
        graph.AssertOwnerThread();
        return _inputs.Values.Where(i => i.Connection is SrtSource).ToDictionary(i => i.Name, i => ((SrtSource)i.Connection!).Counters());
    }

    /// <summary>Holds every picture an input's decoder hands on, on the decoder's thread (tests: a starved decoder).</summary>
    internal IDisposable StallDecoder(string input, TimeSpan perPicture)
    {
        graph.AssertOwnerThread();
        return graph.AddProbe(_inputs[input].Branch.VideoEntry, ProbeType.Buffer, Stall(perPicture));
    }

    /// <summary>Holds every picture a shared scaler takes, on the scaler's thread (tests: a starved scaler).</summary>
    internal IDisposable StallScaler(string source, int width, int height, TimeSpan perPicture) => WatchScaler(source, width, height, () => Thread.Sleep(perPicture));

    /// <summary>Calls <paramref name="onPicture"/> on a shared scaler's thread for every picture it scales (tests, benchmarks).</summary>
    internal IDisposable WatchScaler(string source, int width, int height, Action onPicture)
    {
        graph.AssertOwnerThread();
        return _scalers.Feeds.Single(f => f.Source == source && f.Key.Width == width && f.Key.Height == height).ProbeScaling(_ =>
        {
            onPicture();
            return ProbeReturn.Ok;
        });
    }

    /// <summary>
    /// Counts the distinct pictures a shared scaler hands its boxes from now on, until disposed (tests). Its pool
    /// reuses each picture it has once they come back, so this is how many pictures the pool holds.
    /// </summary>
    internal (IDisposable Probe, Func<int> Pictures) CountScaledPictures(string source, int width, int height)
    {
        graph.AssertOwnerThread();
        var seen = new HashSet<nint>();
        var probe = _scalers.Feeds.Single(f => f.Source == source && f.Key.Width == width && f.Key.Height == height).ProbeScaled(info =>
        {
            lock (seen) seen.Add(info.Buffer);
            return ProbeReturn.Ok;
        });
        return (probe, () => { lock (seen) return seen.Count; });
    }

    /// <summary>
    /// Holds the thread of box <paramref name="index"/> of a bus (after its queue, before the compositor) for
    /// <paramref name="hold"/> at its first picture and at the first after each <paramref name="every"/> (tests: a box
    /// starved now and then).
    /// </summary>
    internal IDisposable StallBox(string bus, int index, TimeSpan hold, TimeSpan every)
    {
        graph.AssertOwnerThread();
        return _buses[bus].Branch.Director.Branches[index].ProbeQueued(StallNowAndThen(hold, every));
    }

    /// <summary>
    /// Rebuilds a bus as the stall watch does, with the control thread held for <paramref name="heldAfterStop"/> between
    /// stopping the old branch and taking it down, as a starved machine holds it (tests).
    /// </summary>
    internal void RebuildBus(string bus, TimeSpan heldAfterStop)
    {
        graph.AssertOwnerThread();
        Rebuild(_buses[bus], heldAfterStop);
    }

    /// <summary>
    /// Holds every frame a bus's compositor makes, on its thread (tests: a bus short of time); with
    /// <paramref name="every"/>, only the first frame after each such span (tests: a bus late now and then).
    /// </summary>
    internal IDisposable StallBus(string bus, TimeSpan perFrame, TimeSpan? every = null)
    {
        graph.AssertOwnerThread();
        using var src = _buses[bus].Branch.Compositor.StaticPad("src");
        return graph.AddProbe(src, ProbeType.Buffer, every is { } span ? StallNowAndThen(perFrame, span) : Stall(perFrame));
    }

    private static Func<ProbeInfo, ProbeReturn> Stall(TimeSpan perPicture) => _ =>
    {
        Thread.Sleep(perPicture);
        return ProbeReturn.Ok;
    };

    private static Func<ProbeInfo, ProbeReturn> StallNowAndThen(TimeSpan hold, TimeSpan every)
    {
        var next = 0L;
        return _ =>
        {
            if (Environment.TickCount64 < next) return ProbeReturn.Ok;
            next = Environment.TickCount64 + (long)every.TotalMilliseconds;
            Thread.Sleep(hold);
            return ProbeReturn.Ok;
        };
    }

    internal (IReadOnlyDictionary<string, IReadOnlyDictionary<string, double>> BusGains, IReadOnlyDictionary<string, TimeSpan> InputDelays) AudioGraph()
    {
        graph.AssertOwnerThread();
        return (_buses.ToDictionary(b => b.Key, b => b.Value.Branch.Sound.Target?.InputGains ?? new Dictionary<string, double>()), _inputs.ToDictionary(i => i.Key, i => i.Value.Branch.AudioDelay));
    }

    /// <summary>Every connection supervisor, outputs first, for the stop.</summary>
    internal IReadOnlyList<ConnectionSupervisor> Supervisors()
    {
        graph.AssertOwnerThread();
        return [.. _buses.Values.Concat<Runtime>(_inputs.Values).Select(r => r.Supervisor).OfType<ConnectionSupervisor>()];
    }

    /// <summary>Stops the pipeline and takes everything down; the connections are already stopped.</summary>
    internal void TearDown()
    {
        graph.AssertOwnerThread();
        graph.SetState(State.Null);
        // Multiviews first: their program tile hangs on the program bus.
        foreach (var b in _buses.Values.OrderBy(b => b.Branch.Multiview is null)) b.Branch.Dispose();
        _sound?.Dispose();
        foreach (var i in _inputs.Values) i.Branch.Dispose();
        _buses.Clear();
        _inputs.Clear();
    }
}

/// <summary>What a command is decided against: the scene in force and the buses in a real transition.</summary>
internal sealed record RunningState(SceneDefinition Scene, IReadOnlySet<string> Transitioning);

/// <summary>A decided change: the diff to apply, and the outputs (of buses it removes or rebuilds) to stop first.</summary>
internal sealed record PlannedChange(SceneDiff Diff, IReadOnlyList<ConnectionSupervisor> StopFirst);

/// <summary>What a change leaves to do after the graph call: supervisors to start and to stop, inputs to retire after.</summary>
internal sealed record AppliedChange(IReadOnlyList<ConnectionSupervisor> Start, IReadOnlyList<ConnectionSupervisor> Stop, IReadOnlyList<string> Retire)
{
    internal static readonly AppliedChange Nothing = new([], [], []);
}
