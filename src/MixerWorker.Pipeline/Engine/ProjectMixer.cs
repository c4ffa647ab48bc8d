using Microsoft.Extensions.Logging;
using MixerWorker.Pipeline.Builders;
using MixerWorker.Pipeline.Encoding;
using MixerWorker.Pipeline.Interop;
using MixerWorker.Pipeline.Scene;
using MixerWorker.Pipeline.Sinks;
using MixerWorker.Pipeline.Sources;

namespace MixerWorker.Pipeline.Engine;

/// <summary>
/// Runs one project: one GStreamer pipeline with its inputs and buses, kept in line with the scene.
/// Threads: the bus thread reads messages, the control thread makes every pipeline change, and
/// supervisors (thread pool) decide when to connect. Public methods may be called from any thread.
/// </summary>
public sealed class ProjectMixer : IProjectMixer
{
    private readonly MixerOptions _options;
    private readonly ILogger _log;
    private readonly SecretRedactor _redactor;
    private readonly EncoderChainBuilder _encoders;
    private readonly IVideoEncoderBackend _backend;
    private readonly Element _pipeline;
    private readonly ControlThread _control;
    private readonly BusReader _busReader;
    private readonly SemaphoreSlim _changeLock = new(1, 1);
    private readonly Dictionary<string, InputRuntime> _inputs = [];
    private readonly Dictionary<string, BusRuntime> _buses = [];
    // Five missed 100 ms intervals: the input's audio has stopped.
    private readonly AudioMeterBoard _meters = new(TimeSpan.FromMilliseconds(500));
    private int _connectionSerial;
    private SceneDefinition _scene;
    private bool _stopped;

    public string Project => _scene.Project;

    private ProjectMixer(SceneDefinition scene, MixerOptions options, ILogger logger)
    {
        _scene = scene with { Inputs = [], Buses = [] };
        _options = options;
        _log = logger;
        _redactor = new SecretRedactor([options.MediaMtx.IngestPassphrase, options.MediaMtx.OutputPassphrase, options.MediaMtx.Token]);
        _encoders = new EncoderChainBuilder(new GstElementProbe());
        _backend = _encoders.Select(options.Encoder);
        _pipeline = Element.NewPipeline();
        _control = new ControlThread($"control:{scene.Project}", e => _log.LogError(e, "pipeline change failed"));
        Callbacks.HandlerFaulted += OnCallbackFault;
        _busReader = new BusReader(_pipeline, $"bus:{scene.Project}", m => _control.Post(() => OnBusMessage(m)));
    }

    private void OnCallbackFault(Exception e) => _log.LogError(e, "a GStreamer callback failed");

    /// <summary>Checks GStreamer, the options and the scene, then starts playing. Inputs and outputs connect in the background.</summary>
    public static async Task<ProjectMixer> StartAsync(SceneDefinition scene, MixerOptions options, ILogger logger)
    {
        GstRuntime.SelfCheck();
        var optionErrors = options.Validate();
        if (optionErrors.Count > 0) throw new ArgumentException("invalid mixer options: " + string.Join("; ", optionErrors));
        ThrowIfInvalid(scene);
        var mixer = new ProjectMixer(scene, options, logger);
        try
        {
            await mixer._control.Invoke(() =>
            {
                if (mixer._pipeline.SetState(State.Playing) == StateChange.Failure) throw new GstException("the pipeline refused to start");
            });
            mixer._log.LogInformation("project {Project}: encoder backend {Backend}; MediaMTX at {MediaMtx}", scene.Project, mixer._backend.Name, options.MediaMtx);
            mixer.ScheduleWatchdog();
            await mixer.ApplyAsync(scene);
            return mixer;
        }
        catch
        {
            await mixer.DisposeAsync();
            throw;
        }
    }

    private static void ThrowIfInvalid(SceneDefinition scene)
    {
        var errors = SceneValidator.Validate(scene);
        if (errors.Count > 0) throw new SceneException(errors);
    }

    /// <summary>
    /// Moves the running pipeline to <paramref name="scene"/>. Only what changed is touched: a bus's
    /// output connection survives layout, source and audio changes; a format change rebuilds that bus.
    /// Layout changes are cuts. An invalid scene is refused whole and nothing on air changes.
    /// </summary>
    public Task ApplyAsync(SceneDefinition scene) =>
        ChangeAsync(_ => Task.FromResult<Change?>(new Change(scene, new Dictionary<string, BusAnimation>(), new Dictionary<string, int>())));

    /// <summary>
    /// Carries out an operator command against the running scene (animated where the command says so)
    /// and returns the scene now in force, which the caller persists. A command that cannot apply
    /// throws <see cref="SceneException"/> and nothing on air changes. A cut while the bus is in a
    /// transition finishes the transition at once, on its incoming shot.
    /// </summary>
    public async Task<SceneDefinition> ExecuteAsync(ShowCommand command)
    {
        SceneDefinition result = _scene;
        await ChangeAsync(async current =>
        {
            // Only a real transition is cut short; a cut still waiting for its incoming pictures is
            // not one, and a second cut after it swaps again like any cut.
            if (command is CutCommand cut && _buses.TryGetValue(cut.Bus, out var animating)
                && animating.Branch.Director.Animation is { Transition.Kind: not TransitionKind.Cut })
            {
                await _control.Invoke(animating.Branch.Director.FinishNow);
                result = current;
                return null;
            }
            var step = ShowReducer.Apply(current, command);
            result = step.Next;
            return new Change(step.Next, step.Animations, step.FadeToBlackMs);
        });
        return result;
    }

    /// <summary>A scene to move to, with the bus animations and fade-to-black durations (ms) that get there.</summary>
    private sealed record Change(SceneDefinition Scene, IReadOnlyDictionary<string, BusAnimation> Animations, IReadOnlyDictionary<string, int> FadeToBlackMs);

    private async Task ChangeAsync(Func<SceneDefinition, Task<Change?>> decide)
    {
        await _changeLock.WaitAsync();
        try
        {
            ObjectDisposedException.ThrowIf(_stopped, this);
            if (await decide(_scene) is not { } change) return;
            var scene = change.Scene;
            ThrowIfInvalid(scene);
            if (scene.Project != _scene.Project)
                throw new SceneException([$"this mixer runs project '{_scene.Project}', not '{scene.Project}'"]);
            foreach (var bus in scene.Buses)
                foreach (var layer in bus.Graphics)
                    ResolveGraphic(layer.File); // refuse a bad file before anything changes
            var wanted = scene.Buses.Where(b => b.Enabled).ToDictionary(b => b.Name);

            await _control.Invoke(() =>
            {
                foreach (var input in scene.Inputs.Where(i => !_inputs.ContainsKey(i.Name)))
                    _inputs[input.Name] = new InputRuntime(new InputBranch(_pipeline, input.Name));
                foreach (var input in scene.Inputs) _inputs[input.Name].Branch.ApplyAudio(input);
            });
            foreach (var input in _inputs.Values.Where(i => i.Supervisor is null)) StartInput(input);
            // Inputs on their way out are left out, so no new branch (audio crossfade included) hangs on them.
            var staying = _inputs.Where(i => scene.FindInput(i.Key) is not null).ToDictionary(i => i.Key, i => i.Value.Branch);

            // Buses that go away or change format: stop their output first, then their branch.
            foreach (var bus in _buses.Values.Where(b => !wanted.TryGetValue(b.Name, out var w) || NeedsRebuild(b.Branch.Definition, w)).ToList())
            {
                await bus.Output.DisposeAsync();
                await _control.Invoke(() =>
                {
                    foreach (var other in _buses.Values) other.Branch.Multiview?.Detach(bus.Branch.RawTee);
                    bus.Branch.Dispose();
                    _buses.Remove(bus.Name);
                    _meters.Forget("bus", bus.Name);
                });
                _log.LogInformation("bus {Bus} stopped", bus.Name);
            }
            foreach (var bus in wanted.Values)
            {
                await _control.Invoke(() =>
                {
                    if (!_buses.TryGetValue(bus.Name, out var runtime))
                    {
                        _buses[bus.Name] = runtime = new BusRuntime(BuildBus(bus));
                        runtime.Branch.Director.SetLive(LiveInputs());
                    }
                    var transition = change.Animations.TryGetValue(bus.Name, out var a) ? a.Transition : TransitionSpec.Cut;
                    var fade = TimeSpan.FromMilliseconds(change.FadeToBlackMs.GetValueOrDefault(bus.Name));
                    runtime.Branch.Show(bus, transition, fade, staying, ResolveGraphic);
                });
                if (_buses[bus.Name].Supervisor is null) StartOutput(_buses[bus.Name]);
            }

            _scene = scene;
            // Multiviews first see the new scene here, before a removed input's branch goes.
            await _control.Invoke(() => RefreshTally(multiviewsAnyway: true));
            var removed = _inputs.Values.Where(i => scene.FindInput(i.Name) is null).ToList();
            // A cut away from a removed input must be finished before its branch goes.
            if (removed.Count > 0) await _control.Invoke(() => { foreach (var b in _buses.Values) b.Branch.Director.FinishNow(); });
            foreach (var gone in removed)
            {
                await gone.Supervisor!.DisposeAsync();
                await _control.Invoke(() =>
                {
                    gone.Branch.Dispose();
                    _inputs.Remove(gone.Name);
                    _meters.Forget("in", gone.Name);
                });
                _log.LogInformation("input {Input} removed", gone.Name);
            }
        }
        finally { _changeLock.Release(); }
    }

    private string ResolveGraphic(string file)
    {
        if (_options.GraphicsDirectory is null)
            throw new SceneException([$"graphics file '{file}': no graphics directory is configured (GRAPHICS__DIRECTORY)"]);
        try { return GraphicsFiles.Resolve(_options.GraphicsDirectory, file); }
        catch (ArgumentException e) { throw new SceneException([e.Message]); }
    }

    // Control thread. Multiviews show the tally, so they follow it; they also follow the scene and
    // which inputs are live, hence the refresh when the tally alone did not change.
    private void UpdateMultiviews(TallyState tally)
    {
        var boards = _buses.Values.Where(b => b.Branch.Multiview is not null).ToList();
        if (boards.Count == 0) return;
        var inputs = _inputs.ToDictionary(i => i.Key, i => i.Value.Branch);
        var programTee = _buses.TryGetValue("program", out var program) && program.Branch.Multiview is null ? program.Branch.RawTee : null;
        var live = LiveInputs();
        foreach (var b in boards) b.Branch.Multiview!.Update(_scene, b.Branch.Definition.Format, tally, inputs, programTee, live);
    }

    private HashSet<string> LiveInputs() => _inputs.Values.Where(i => i.State == ConnectionState.Connected).Select(i => i.Name).ToHashSet();

    private TallyState? _tally;

    // Control thread.
    private void RefreshTally(bool multiviewsAnyway = false)
    {
        var tally = Tally.Compute(_scene, InFlight());
        var changed = !tally.Equals(_tally);
        _tally = tally;
        if (changed || multiviewsAnyway) UpdateMultiviews(tally);
        if (changed) TallyChanged?.Invoke(tally);
    }

    // Bitrate changes apply live; size, rate, GOP or codec changes need new caps downstream.
    private static bool NeedsRebuild(BusDefinition current, BusDefinition wanted) =>
        current.Format with { VideoBitrateKbps = 0 } != wanted.Format with { VideoBitrateKbps = 0 } || current.Background != wanted.Background;

    private BusBranch BuildBus(BusDefinition bus)
    {
        var f = bus.Format;
        var plan = _encoders.Plan(_backend, new VideoEncodeSettings(f.Width, f.Height, f.Fps, f.VideoBitrateKbps, f.GopFrames));
        _log.LogInformation("bus {Bus}: {Width}x{Height}@{Fps} {Plan}", bus.Name, f.Width, f.Height, f.Fps, plan);
        var branch = new BusBranch(_pipeline, bus, plan, _options.MixerLatency, action => _control.Post(action));
        branch.Director.TransitionFinished += () => RefreshTally();
        return branch;
    }

    private bool IsLive(string input) => _inputs.TryGetValue(input, out var i) && i.State == ConnectionState.Connected;

    private void StartInput(InputRuntime input)
    {
        var endpoint = _options.MediaMtx.Ingest(_scene.Project, input.Name);
        Supervise(input, $"input {input.Name} ({endpoint})",
            (generation, session) => new SrtSource(_pipeline, input.Branch, endpoint, generation, session, _redactor.Redact, _log),
            (state, error) => OnInputState(input, state, error));
    }

    private void StartOutput(BusRuntime bus)
    {
        var endpoint = _options.MediaMtx.Output(_scene.Project, bus.Name);
        Supervise(bus, $"bus {bus.Name} output ({endpoint})",
            (generation, session) => new SrtOutput(_pipeline, bus.Branch.MuxTee, bus.Name, endpoint, generation, session, bus.Branch.CountSent),
            bus.Report);
    }

    // Inputs and outputs are kept alive the same way; only what one connection builds differs.
    // Connection serials are unique in the mixer, so a bin's name never repeats, even for an input
    // removed and added again, and a late error from an old bin can never match the current one.
    private void Supervise(Runtime runtime, string what, Func<int, ConnectionSession, IDisposable> connect, Action<ConnectionState, string?> report)
    {
        runtime.Supervisor = new ConnectionSupervisor(what, _options, _log,
            open: () => _control.Invoke(() =>
            {
                var session = new ConnectionSession(Interlocked.Increment(ref _connectionSerial));
                runtime.Connection = connect(session.Generation, session);
                return session;
            }),
            close: _ => _control.Invoke(() =>
            {
                runtime.Connection?.Dispose();
                runtime.Connection = null;
            }),
            report: (state, error) => _control.Post(() => report(state, error)),
            readyTimeout: _options.FirstFrameTimeout);
        runtime.Supervisor.Start();
    }

    private void OnInputState(InputRuntime input, ConnectionState state, string? error)
    {
        var wasLive = input.State == ConnectionState.Connected;
        input.Report(state, error);
        var live = state == ConnectionState.Connected;
        if (wasLive == live) return;
        var liveInputs = LiveInputs();
        foreach (var bus in _buses.Values) bus.Branch.Director.SetLive(liveInputs);
        RefreshTally(multiviewsAnyway: true);
        _log.LogInformation("input {Input} is {State}", input.Name, live ? "live" : "off air (slate shown)");
    }

    // Errors of one connection are scoped to it by the name of the bin they come from; everything
    // else is logged and reported on the bus it belongs to, and never stops the pipeline.
    private void OnBusMessage(BusMessage m)
    {
        switch (m.Type)
        {
            case MessageType.Latency:
                Native.gst_bin_recalculate_latency(_pipeline.Handle);
                return;
            case MessageType.Element when m.Level is { } level:
                _meters.Record(m.SourcePath, level, (kind, name) => kind == "in" ? _inputs.ContainsKey(name) : _buses.ContainsKey(name));
                return;
            case MessageType.Error or MessageType.Warning:
                break;
            default:
                return;
        }
        var text = _redactor.Redact(m.Debug is null ? m.Text : $"{m.Text}: {m.Debug}");
        var (kind, name, generation) = Owner(m.SourcePath);
        if (kind == "src" && _inputs.TryGetValue(name, out var input))
        {
            input.DecodeErrors++;
            if (m.Type == MessageType.Error && input.Supervisor?.Current is { } s && s.Generation == generation)
                s.Fail($"input '{name}': {SrtErrorText.Explain(text, "INGEST_SRT_PASSPHRASE")}");
            return;
        }
        if (kind == "out" && _buses.TryGetValue(name, out var bus))
        {
            if (m.Type == MessageType.Error && bus.Supervisor?.Current is { } s && s.Generation == generation)
                s.Fail($"bus '{name}' output: {SrtErrorText.Explain(text, "OUTPUT_SRT_PASSPHRASE")}");
            return;
        }
        if (m.Type == MessageType.Error)
        {
            _log.LogError("pipeline error in {Source}: {Text}", m.SourcePath, text);
            var busName = kind is "bus" or "box" or "abox" ? name : null;
            if (busName is not null && _buses.TryGetValue(busName, out var affected)) affected.Report(affected.State, text);
        }
        else _log.LogDebug("pipeline warning in {Source}: {Text}", m.SourcePath, text);
    }

    /// <summary>Finds the engine object a message came from: "src.cam-a.3" → (src, cam-a, 3).</summary>
    internal static (string Kind, string Name, int Generation) Owner(string path)
    {
        foreach (var segment in path.Split('/'))
        {
            var objectName = segment[(segment.IndexOf(':') + 1)..];
            var parts = objectName.Split('.');
            if (parts.Length >= 2 && parts[0] is "src" or "out" or "bus" or "box" or "abox" or "in")
                return (parts[0], parts[1], parts.Length >= 3 && int.TryParse(parts[2], out var g) ? g : 0);
        }
        return ("", "", 0);
    }

    // A connection that stops delivering frames without an error (a stalled peer) is ended here.
    private void ScheduleWatchdog() => _control.PostAfter(TimeSpan.FromMilliseconds(250), () =>
    {
        if (_stopped) return;
        foreach (var input in _inputs.Values)
            if (input.State == ConnectionState.Connected && input.Supervisor?.Current is { HasEnded: false } s && s.SinceActivity > _options.InputStallTimeout)
                s.Fail($"input '{input.Name}': no data for {s.SinceActivity.TotalSeconds:F1} s");
        ScheduleWatchdog();
    });


    /// <summary>Which inputs are on air and in preview on every bus.</summary>
    public Task<TallyState> GetTallyAsync() => _control.Invoke(() => Tally.Compute(_scene, InFlight()));

    private Dictionary<string, BusAnimation> InFlight() =>
        _buses.Values.Select(b => (b.Name, Animation: b.Branch.Director.Animation)).Where(b => b.Animation is not null).ToDictionary(b => b.Name, b => b.Animation!);

    /// <summary>Raised (on the control thread) whenever the tally changes; handlers must be quick.</summary>
    public event Action<TallyState>? TallyChanged;

    /// <summary>Latest audio levels of every input and bus, refreshed about ten times a second.</summary>
    public AudioMeters GetMeters() => _meters.Snapshot();

    /// <summary>How many meter readings an input ("in") or a bus ("bus") has had.</summary>
    internal long MeterReadings(string kind, string name) => _meters.Readings(kind, name);

    /// <summary>What the audio graph holds: per bus the linear gain on each input's mixer pad, per input its delay.</summary>
    internal Task<(IReadOnlyDictionary<string, IReadOnlyDictionary<string, double>> BusGains, IReadOnlyDictionary<string, TimeSpan> InputDelays)> GetAudioGraphAsync() =>
        _control.Invoke<(IReadOnlyDictionary<string, IReadOnlyDictionary<string, double>>, IReadOnlyDictionary<string, TimeSpan>)>(() => (
            _buses.ToDictionary(b => b.Key, b => b.Value.Branch.Audio.InputGains),
            _inputs.ToDictionary(i => i.Key, i => i.Value.Branch.AudioDelay)));

    public void ConnectInputNow(string input)
    {
        if (_inputs.TryGetValue(input, out var i)) i.Supervisor?.ConnectNow();
    }

    /// <summary>Not expected (MediaMTX says the feed is gone): stop retrying it; each <see cref="ConnectInputNow"/> tries once. Expected again: connect at once.</summary>
    public void SetInputExpected(string input, bool expected)
    {
        if (_inputs.TryGetValue(input, out var i) && i.Supervisor is { } s) s.Paused = !expected;
    }

    public Task<MixerStatus> GetStatusAsync() => _control.Invoke(() => new MixerStatus(
        _scene.Project, _scene.Revision,
        _inputs.Values.ToDictionary(i => i.Name, i => new InputStatus(i.State, i.Error, i.Supervisor?.Attempts ?? 0, i.Since,
            i.Branch.FramesIn, i.DecodeErrors + (i.Supervisor?.DataFaults ?? 0), i.Branch.SinceLastFrame)),
        _buses.Values.ToDictionary(b => b.Name, b => new BusStatus(b.State, b.Error, b.Branch.FramesOut, b.Branch.EncoderPlan.Backend,
            b.Supervisor?.Attempts ?? 0, b.Branch.BytesSent))));

    /// <summary>The encoder chain each bus runs, for status and tests.</summary>
    public Task<IReadOnlyDictionary<string, string>> GetEncoderPlansAsync() =>
        _control.Invoke<IReadOnlyDictionary<string, string>>(() => _buses.ToDictionary(b => b.Key, b => b.Value.Branch.EncoderPlan.ToString()));

    public async ValueTask DisposeAsync()
    {
        await _changeLock.WaitAsync();
        try
        {
            if (_stopped) return;
            _stopped = true;
            foreach (var b in _buses.Values) if (b.Supervisor is not null) await b.Supervisor.DisposeAsync();
            foreach (var i in _inputs.Values) if (i.Supervisor is not null) await i.Supervisor.DisposeAsync();
            await _control.Invoke(() =>
            {
                _pipeline.SetState(State.Null);
                // Multiviews first: their program tile hangs on the program bus.
                foreach (var b in _buses.Values.OrderBy(b => b.Branch.Multiview is null)) b.Branch.Dispose();
                foreach (var i in _inputs.Values) i.Branch.Dispose();
                _buses.Clear();
                _inputs.Clear();
            });
            _busReader.Dispose();
            _control.Dispose();
            Callbacks.HandlerFaulted -= OnCallbackFault;
            _pipeline.Dispose();
        }
        finally { _changeLock.Release(); }
    }

    private abstract class Runtime
    {
        internal ConnectionState State { get; private set; } = ConnectionState.Connecting;
        internal string? Error { get; private set; }
        internal DateTimeOffset Since { get; private set; } = DateTimeOffset.UtcNow;
        internal ConnectionSupervisor? Supervisor { get; set; }
        /// <summary>The live SRT connection (source or output), owned by the supervisor's open/close.</summary>
        internal IDisposable? Connection { get; set; }

        internal void Report(ConnectionState state, string? error)
        {
            if (state != State) Since = DateTimeOffset.UtcNow;
            State = state;
            if (error is not null || state == ConnectionState.Connected) Error = error;
        }
    }

    private sealed class InputRuntime(InputBranch branch) : Runtime
    {
        internal InputBranch Branch { get; } = branch;
        internal string Name => Branch.Name;
        /// <summary>Errors and warnings from the input's connection bins (demuxer, parser, decoder). Control thread.</summary>
        internal long DecodeErrors { get; set; }
    }

    private sealed class BusRuntime(BusBranch branch) : Runtime
    {
        internal BusBranch Branch { get; } = branch;
        internal string Name => Branch.Name;
        internal ConnectionSupervisor Output => Supervisor!;
    }
}
