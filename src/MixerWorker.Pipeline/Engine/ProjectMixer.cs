using Microsoft.Extensions.Logging;
using MixerWorker.Pipeline.Builders;
using MixerWorker.Pipeline.Encoding;
using MixerWorker.Pipeline.Interop;
using MixerWorker.Pipeline.Scene;
using MixerWorker.Pipeline.Sources;

namespace MixerWorker.Pipeline.Engine;

/// <summary>
/// Runs one project: one GStreamer pipeline with its inputs and buses, kept in line with the scene.
/// Threads (docs/architecture.md has the map): callers of any thread come in here; everything that
/// reads or changes the graph runs on the project's control thread, which owns <see cref="ProjectGraph"/>;
/// the bus thread only posts messages to it; supervisors (thread pool) only decide when to connect.
/// A scene change is decided and made in one control-thread call; around it, supervisors start and
/// stop as explicit phases (outputs of removed buses stop before, new connections start after).
/// </summary>
public sealed class ProjectMixer : IProjectMixer
{
    private readonly MixerOptions _options;
    private readonly ILogger _log;
    private readonly Graph _graph;
    private readonly ControlThread _control;
    private readonly BusReader _busReader;
    private readonly ProjectGraph _project;
    private readonly BusMessageRouter _router;
    private readonly SemaphoreSlim _changeLock = new(1, 1);
    // Five missed 100 ms intervals: the input's audio has stopped.
    private readonly AudioMeterBoard _meters = new(TimeSpan.FromMilliseconds(500));
    private readonly string _backend;
    private volatile bool _stopped;

    public string Project { get; }

    private ProjectMixer(SceneDefinition scene, MixerOptions options, ILogger logger, EncoderChainBuilder encoders, PublishGate publish)
    {
        Project = scene.Project;
        _options = options;
        _log = logger;
        var redactor = new SecretRedactor([options.MediaMtx.IngestPassphrase, options.MediaMtx.OutputPassphrase, options.MediaMtx.Token]);
        var backends = encoders.FallbackOrder(options.Encoder);
        _backend = string.Join(", then ", backends.Select(b => b.Name));
        _control = new ControlThread($"control:{scene.Project}", e => _log.LogError(e, "pipeline change failed"));
        _graph = new Graph(scene.Project, e => _log.LogError(e, "a GStreamer callback failed"), () => _control.IsCurrent);
        _project = new ProjectGraph(_graph, _control, options, encoders, backends, _meters, redactor, publish, logger);
        _router = new BusMessageRouter(_project, redactor, logger);
        _busReader = new BusReader(_graph.Pipeline, m => _control.Post(() => _router.Route(m)), _log);
    }

    /// <summary>
    /// Checks GStreamer, the options and the scene, then starts playing. Inputs and outputs connect in the
    /// background; outputs only while <paramref name="publish"/> is open (always, when none is given).
    /// </summary>
    public static Task<ProjectMixer> StartAsync(SceneDefinition scene, MixerOptions options, ILogger logger, PublishGate? publish = null) =>
        StartAsync(scene, options, logger, new EncoderChainBuilder(new GstElementProbe()), publish);

    /// <summary>As above, with the encoder backends to choose from (tests make one fail for real).</summary>
    internal static async Task<ProjectMixer> StartAsync(SceneDefinition scene, MixerOptions options, ILogger logger, EncoderChainBuilder encoders, PublishGate? publish = null)
    {
        EngineSelfCheck.Run();
        var optionErrors = options.Validate();
        if (optionErrors.Count > 0) throw new ArgumentException("invalid mixer options: " + string.Join("; ", optionErrors));
        ThrowIfInvalid(scene);
        var mixer = new ProjectMixer(scene, options, logger, encoders, publish ?? PublishGate.AlwaysOpen());
        try
        {
            await mixer._control.Invoke(() => mixer._project.Start(scene with { Inputs = [], Buses = [] }));
            mixer._log.LogInformation("project {Project}: encoder backend {Backend}; MediaMTX at {MediaMtx}", scene.Project, mixer._backend, options.MediaMtx);
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
    public Task ApplyAsync(SceneDefinition scene) => ChangeAsync(_ => new ShowStep(scene, new Dictionary<string, BusAnimation>()));

    /// <summary>
    /// Carries out an operator command against the running scene (animated where the command says so)
    /// and returns the scene now in force, which the caller persists. A command that cannot apply
    /// throws <see cref="SceneException"/> and nothing on air changes. A cut while the bus is in a
    /// transition finishes the transition at once, on its incoming shot (<see cref="ShowReducer"/>).
    /// </summary>
    public Task<SceneDefinition> ExecuteAsync(ShowCommand command) =>
        ChangeAsync(running => ShowReducer.Apply(running.Scene, command, running.Transitioning));

    private async Task<SceneDefinition> ChangeAsync(Func<RunningState, ShowStep> decide)
    {
        await _changeLock.WaitAsync();
        try
        {
            ObjectDisposedException.ThrowIf(_stopped, this);
            // One call decides the change against the graph as it is (reducer and diff are pure) and,
            // when no output has to stop first (every operator command), makes it.
            var (plan, applied) = await _control.Invoke(() =>
            {
                var plan = _project.Plan(decide, Validate);
                return (plan, plan.StopFirst.Count == 0 ? _project.Apply(plan.Diff, ResolveGraphic) : null);
            });
            if (applied is null)
            {
                // Before: buses that go away or are rebuilt stop their output, then the change is made.
                foreach (var output in plan.StopFirst) await output.DisposeAsync();
                applied = await _control.Invoke(() => _project.Apply(plan.Diff, ResolveGraphic));
            }
            // After: new connections start; removed inputs stop theirs, then their branches go.
            foreach (var supervisor in applied.Start) supervisor.Start();
            foreach (var supervisor in applied.Stop) await supervisor.DisposeAsync();
            if (applied.Retire.Count > 0) await _control.Invoke(() => _project.Retire(applied.Retire));
            return plan.Diff.Next;
        }
        finally { _changeLock.Release(); }
    }

    private void Validate(SceneDefinition scene)
    {
        ThrowIfInvalid(scene);
        if (scene.Project != Project) throw new SceneException([$"this mixer runs project '{Project}', not '{scene.Project}'"]);
        foreach (var bus in scene.Buses)
            foreach (var layer in bus.Graphics)
                ResolveGraphic(layer.File); // refuse a bad file before anything changes
    }

    private string ResolveGraphic(string file)
    {
        if (_options.GraphicsDirectory is null)
            throw new SceneException([$"graphics file '{file}': no graphics directory is configured (GRAPHICS__DIRECTORY)"]);
        try { return GraphicsFiles.Resolve(_options.GraphicsDirectory, file); }
        catch (ArgumentException e) { throw new SceneException([e.Message]); }
    }

    // A connection that stops delivering frames without an error (a stalled peer) is ended here, a bus
    // whose pictures stopped is rebuilt, and the buses' lateness is looked at.
    private void ScheduleWatchdog() => _control.PostAfter(TimeSpan.FromMilliseconds(250), () =>
    {
        if (_stopped) return;
        _project.EndStalledInputs();
        _project.WatchStalls();
        _project.WatchLateness();
        _project.RefreshCards();
        ScheduleWatchdog();
    });

    /// <summary>Which inputs are on air and in preview on every bus.</summary>
    public Task<TallyState> GetTallyAsync() => _control.Invoke(() => Tally.Compute(_project.Scene, _project.InFlight()));

    /// <summary>Raised (on the control thread) whenever the tally changes; handlers must be quick.</summary>
    public event Action<TallyState>? TallyChanged
    {
        add => _project.Tally.Changed += value;
        remove => _project.Tally.Changed -= value;
    }

    /// <summary>
    /// Latest audio levels of every input and bus, refreshed about ten times a second. Read from the
    /// meter board, which the meters fill from their streaming threads and which holds no graph state, so
    /// it needs no hop.
    /// </summary>
    public AudioMeters GetMeters() => _meters.Snapshot();

    /// <summary>How many meter readings an input or a bus has had.</summary>
    internal long MeterReadings(ElementKind kind, string name) => _meters.Readings(kind, name);

    /// <summary>Faults of this project's GStreamer callbacks so far (each is logged).</summary>
    internal int CallbackFaults => _graph.CallbackFaults;

    /// <summary>What the audio graph holds: per bus the linear gain on each input's mixer pad, per input its delay.</summary>
    internal Task<(IReadOnlyDictionary<string, IReadOnlyDictionary<string, double>> BusGains, IReadOnlyDictionary<string, TimeSpan> InputDelays)> GetAudioGraphAsync() =>
        _control.Invoke(_project.AudioGraph);

    /// <summary>Per bus, the caps each box is scaled to and those it reaches the compositor with.</summary>
    internal Task<IReadOnlyDictionary<string, IReadOnlyList<BoxCaps>>> GetBoxCapsAsync() => _control.Invoke(_project.BoxCaps);

    /// <summary>The shared scalers and the pipeline's `videoscale` count (internal: for tests and benchmarks).</summary>
    internal Task<ScalerReport> GetScalersAsync() => _control.Invoke(_project.Scalers);

    /// <summary>Per bus, how many branches its raw tee feeds (tests).</summary>
    internal Task<IReadOnlyDictionary<string, int>> GetRawTeeBranchesAsync() => _control.Invoke(_project.RawTeeBranches);

    /// <summary>How many elements made by <paramref name="factory"/> the pipeline holds, e.g. audio mixers (tests).</summary>
    internal Task<int> CountElementsAsync(string factory) => _control.Invoke(() => _project.CountElements(factory));

    /// <summary>Makes <paramref name="bus"/>'s muxer refuse its sound, as a failed one does (internal: tests).</summary>
    internal Task FailSoundAtMuxerAsync(string bus) => _control.Invoke(() => _project.FailSoundAtMuxer(bus));

    /// <summary>
    /// Stops <paramref name="bus"/>'s muxer for good, as the stall seen under deep starvation did: its
    /// thread blocks on its next picture, and so, once the muxer's queues fill, do the bus's encoder and
    /// sound threads pushing into it (internal: tests). Goes with that muxer.
    /// </summary>
    internal Task<IDisposable> StopMuxerAsync(string bus) => _control.Invoke(() => _project.StopMuxer(bus));

    /// <summary>As <see cref="ProjectGraph.RebuildBus"/> (internal: tests).</summary>
    internal Task RebuildBusAsync(string bus, TimeSpan heldAfterStop) => _control.Invoke(() => _project.RebuildBus(bus, heldAfterStop));

    /// <summary>
    /// Holds every picture <paramref name="input"/>'s decoder hands on for <paramref name="perPicture"/>,
    /// on the decoder's own thread, until disposed (internal: tests starve one decoder as a machine
    /// short of CPU does).
    /// </summary>
    internal Task<IDisposable> StallDecoderAsync(string input, TimeSpan perPicture) => _control.Invoke(() => _project.StallDecoder(input, perPicture));

    /// <summary>Per bus, in layout order, each box's source and the pictures that reached it too late for any frame (internal: tests and benches).</summary>
    internal Task<IReadOnlyDictionary<string, IReadOnlyList<(string Source, long LatePictures, long LostPictures, long QueueDropped)>>> GetBoxLatenessAsync() => _control.Invoke(_project.BoxLateness);

    /// <summary>Tells <paramref name="onBlock"/> whether each block of sound reaching <paramref name="bus"/>, or with <paramref name="atMuxer"/> its muxer, is the bus's alone (internal: tests).</summary>
    internal Task<IDisposable> WatchSoundAsync(string bus, bool atMuxer, Action<bool> onBlock) => _control.Invoke(() => _project.WatchSound(bus, atMuxer, onBlock));

    /// <summary>Tells <paramref name="onReading"/> of each reading of the meter of the sound <paramref name="bus"/> hears, what its encoder gets (internal: tests).</summary>
    internal Task<IDisposable> WatchSoundMeterAsync(string bus, Action<AudioLevel> onReading) =>
        _control.Invoke(() => _project.WatchSoundMeter(bus, r => onReading(new AudioLevel(r.PeakDb, r.RmsDb))));

    /// <summary>Tells <paramref name="onRequest"/> of each keyframe request reaching <paramref name="bus"/>'s encoder or, with <paramref name="atMuxer"/>, its muxer (internal: tests).</summary>
    internal Task<IDisposable> WatchKeyFrameRequestsAsync(string bus, bool atMuxer, Action onRequest) => _control.Invoke(() => _project.WatchKeyFrameRequests(bus, atMuxer, onRequest));

    /// <summary>Holds the control thread each time <paramref name="bus"/> moves between mix chains, between leaving one and taking the other (internal: tests).</summary>
    internal Task HoldMovesBetweenChainsAsync(string bus, TimeSpan hold) => _control.Invoke(() => _project.HoldMovesBetweenChains(bus, hold));

    /// <summary>Holds the mix chain <paramref name="bus"/> hears on its thread, once, for <paramref name="hold"/> (internal: tests hold a chain back as a stuck muxer would).</summary>
    internal Task<IDisposable> HoldSoundChainAsync(string bus, TimeSpan hold) => _control.Invoke(() => _project.HoldSoundChain(bus, hold));

    /// <summary>Holds each block of the mix chain <paramref name="bus"/> hears until <paramref name="late"/> past its running time, until disposed (internal: tests).</summary>
    internal Task<IDisposable> DelaySoundChainAsync(string bus, TimeSpan late) => _control.Invoke(() => _project.DelaySoundChain(bus, late));

    /// <summary>Per bus, the sound dropped late so far, and of it what was dropped only because its chain's thread waited for a CPU (internal: tests).</summary>
    internal Task<IReadOnlyDictionary<string, (TimeSpan Dropped, TimeSpan Starved)>> GetSoundDroppedLateAsync() => _control.Invoke(_project.SoundDroppedLate);

    /// <summary>Each connected input's losses, timeline moves and decoder skips so far (internal: tests and benches).</summary>
    internal Task<IReadOnlyDictionary<string, SourceCounters>> GetSourceCountersAsync() => _control.Invoke(_project.SourceCounters);

    /// <summary>As <see cref="StallDecoderAsync"/>, for the shared scaler of <paramref name="source"/> at one size.</summary>
    internal Task<IDisposable> StallScalerAsync(string source, int width, int height, TimeSpan perPicture) =>
        _control.Invoke(() => _project.StallScaler(source, width, height, perPicture));

    /// <summary>Calls <paramref name="onPicture"/> for every picture the shared scaler of <paramref name="source"/> at one size scales, until disposed.</summary>
    internal Task<IDisposable> WatchScalerAsync(string source, int width, int height, Action onPicture) =>
        _control.Invoke(() => _project.WatchScaler(source, width, height, onPicture));

    /// <summary>Counts the distinct pictures the shared scaler of <paramref name="source"/> at one size hands its boxes, until disposed.</summary>
    internal Task<(IDisposable Probe, Func<int> Pictures)> CountScaledPicturesAsync(string source, int width, int height) =>
        _control.Invoke(() => _project.CountScaledPictures(source, width, height));

    /// <summary>Holds the thread of box <paramref name="index"/> of <paramref name="bus"/> for <paramref name="hold"/> once every <paramref name="every"/> (internal: tests).</summary>
    internal Task<IDisposable> StallBoxAsync(string bus, int index, TimeSpan hold, TimeSpan every) => _control.Invoke(() => _project.StallBox(bus, index, hold, every));

    /// <summary>As <see cref="StallDecoderAsync"/>, for every frame <paramref name="bus"/>'s compositor makes, or with <paramref name="every"/> for the first after each such span.</summary>
    internal Task<IDisposable> StallBusAsync(string bus, TimeSpan perFrame, TimeSpan? every = null) => _control.Invoke(() => _project.StallBus(bus, perFrame, every));

    /// <summary>Connects an input at once instead of at the end of its reconnect backoff.</summary>
    public void ConnectInputNow(string input) => _control.Post(() => _project.Input(input)?.Supervisor?.ConnectNow());

    /// <summary>Not expected (MediaMTX says the feed is gone): stop retrying it; each <see cref="ConnectInputNow"/> tries once. Expected again: connect at once.</summary>
    public void SetInputExpected(string input, bool expected) => _control.Post(() => _project.ExpectInput(input, expected));

    public Task<MixerStatus> GetStatusAsync() => _control.Invoke(_project.Status);

    /// <summary>The latest thumbnail of every bus that has one (none before its first picture, none when thumbnails are off).</summary>
    public Task<IReadOnlyDictionary<string, Thumbnail>> GetThumbnailsAsync() => _control.Invoke(_project.Thumbnails);

    /// <summary>How long each bus's compositor and muxer wait past a buffer's running time (null: not for the clock).</summary>
    internal Task<IReadOnlyDictionary<string, (TimeSpan? Compositor, TimeSpan? Muxer)>> GetBusLatenciesAsync() => _control.Invoke(_project.BusLatencies);

    /// <summary>The text of each "no signal" card a bus holds, by input and box size.</summary>
    internal Task<IReadOnlyDictionary<(string Input, int Width, int Height), string>> GetNoSignalCardsAsync(string bus) => _control.Invoke(() => _project.Cards(bus));

    /// <summary>The encoder chain each bus runs, for status and tests.</summary>
    public Task<IReadOnlyDictionary<string, string>> GetEncoderPlansAsync() => _control.Invoke(_project.EncoderPlans);

    public async ValueTask DisposeAsync()
    {
        await _changeLock.WaitAsync();
        try
        {
            if (_stopped) return;
            _stopped = true;
            _router.Stopping();
            // Before: every connection stops (each stop closes its bin on the control thread).
            foreach (var supervisor in await _control.Invoke(_project.Supervisors)) await supervisor.DisposeAsync();
            // Then the graph goes in one call, and the threads after it.
            await _control.Invoke(_project.TearDown);
            _busReader.Dispose();
            _control.Dispose();
            _graph.Dispose();
        }
        finally { _changeLock.Release(); }
    }
}
