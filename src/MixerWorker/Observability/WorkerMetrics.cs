using System.Globalization;
using System.Reflection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using MixerWorker.ControlPlane;
using MixerWorker.Fleet;
using MixerWorker.Pipeline.Encoding;
using MixerWorker.Pipeline.Engine;
using MixerWorker.Pipeline.Interop;
using MixerWorker.Pipeline.Scene;
using Prometheus;

namespace MixerWorker.Observability;

/// <summary>
/// The worker's Prometheus metrics, in a registry of its own. Events (command answers, desired states
/// applied) are counted as they happen; the state of every running project is read from its engine
/// when Prometheus scrapes, so nothing polls between scrapes. Labels are project, bus, input and small
/// closed sets (states, backends, command types, results), never ids: a worker has as many series as
/// its projects have buses and inputs, and a stopped project's series go with it.
/// </summary>
internal sealed class WorkerMetrics
{
    private static readonly string[] States = [.. Enum.GetValues<ConnectionState>().Select(StateName)];

    private readonly ProjectRegistry _registry;
    private readonly WorkerLoad _load;
    private readonly RedisConnection _redis;
    private readonly ILogger<WorkerMetrics> _log;
    private readonly TimeSpan _scrapeTimeout;
    private readonly Lazy<(string Version, IReadOnlyList<(string Backend, bool Available)> Backends)?> _gstreamer;

    // Per worker.
    private readonly Gauge _workerInfo, _gstreamerInfo, _backendAvailable, _projects, _projectsDesired, _redisConnected;
    // Per worker, the fleet's view (docs/fleet.md).
    private readonly Gauge _cpus, _capacity, _estimated, _measured, _loadCpus, _owned, _preparing, _draining, _leaseEpoch;
    private readonly Histogram _commandLatency, _convergence;
    // Per bus.
    private readonly Counter _busFrames, _busBytes, _busReconnects, _busDropped, _busDroppedAudio, _busLateEpisodes, _busSentLate, _busStalls;
    private readonly Gauge _busDropping, _busShedEvery, _busDeliveredFps, _busOutputState, _busEncoder, _busPublished, _busPeak, _busRms;
    // Per input.
    private readonly Counter _inputFrames, _inputDecodeErrors, _inputReconnects, _inputSoundDroppedLate;
    private readonly Gauge _inputState, _inputLastFrameAge, _inputIngestOnline, _inputPeak, _inputRms;
    // Per project.
    private readonly Counter _sheddingEpisodes;
    private readonly Gauge _sheddingLevel;
    private readonly Collector[] _perProject;

    public CollectorRegistry Registry { get; } = Metrics.NewCustomRegistry();

    public WorkerMetrics(ProjectRegistry registry, WorkerLoad load, RedisConnection redis, IOptions<WorkerOptions> worker, IOptions<MetricsOptions> options, ILogger<WorkerMetrics> log)
    {
        (_registry, _load, _redis, _log) = (registry, load, redis, log);
        _scrapeTimeout = TimeSpan.FromSeconds(options.Value.ScrapeTimeoutSeconds);
        _gstreamer = new(ProbeGStreamer);
        DotNetStats.Register(Registry); // process_* (CPU, memory, threads) and dotnet_* (GC)
        var f = Metrics.WithCustomRegistry(Registry);
        string[] bus = ["project", "bus"], input = ["project", "input"];

        _workerInfo = f.CreateGauge("mixer_worker_info", "The worker: always 1, with its id and version.", "worker", "version");
        _gstreamerInfo = f.CreateGauge("mixer_gstreamer_info", "GStreamer as loaded by the worker: always 1, with its version.", "version");
        _backendAvailable = f.CreateGauge("mixer_encoder_backend_available", "1 when the H.264 encoder backend's GStreamer elements are present on this host.", "backend");
        _projects = f.CreateGauge("mixer_worker_projects", "Projects this worker runs a mixer for.");
        _projectsDesired = f.CreateGauge("mixer_projects_desired", "Projects with a desired state in Redis (the projects set) at the worker's last read; compare with the sum of mixer_worker_projects over the fleet.");
        _redisConnected = f.CreateGauge("mixer_redis_connected", "1 while the worker's Redis connection is up.");
        _cpus = f.CreateGauge("mixer_worker_cpus", "CPUs the worker may use (source: FLEET__CPUS, the cgroup quota or the cores).", "source");
        _capacity = f.CreateGauge("mixer_worker_capacity_cpus", "CPUs the worker admits projects up to: its CPUs x FLEET__TARGETUTILISATION.");
        _estimated = f.CreateGauge("mixer_worker_estimated_cpus", "The cost model's estimate of the projects held or prepared here, in CPUs.");
        _measured = f.CreateGauge("mixer_worker_measured_cpus", "The CPU the worker process used over the last heartbeat interval, in CPUs.");
        _loadCpus = f.CreateGauge("mixer_worker_load_cpus", "The load admission counts: the larger of the estimate and the measurement, in CPUs.");
        _owned = f.CreateGauge("mixer_worker_projects_owned", "Project leases this worker holds (owner or handing over).");
        _preparing = f.CreateGauge("mixer_worker_projects_preparing", "Projects this worker prepares to take over from a draining worker.");
        _draining = f.CreateGauge("mixer_worker_draining", "1 once the worker is draining (SIGTERM): it claims nothing and hands its projects over.");
        _leaseEpoch = f.CreateGauge("mixer_project_lease_epoch", "The epoch of the project's lease this worker holds; it rises on every acquisition.", "project");
        _commandLatency = f.CreateHistogram("mixer_command_latency_seconds",
            "Operator commands: from XADD (the stream entry's time) to the answer published (commandApplied or error).",
            new HistogramConfiguration { LabelNames = ["type", "result"], Buckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30] });
        _convergence = f.CreateHistogram("mixer_desired_convergence_seconds",
            "Desired states: from the worker reading a changed one to it being on air (or refused).",
            new HistogramConfiguration { LabelNames = ["result"], Buckets = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30] });

        _busFrames = f.CreateCounter("mixer_bus_frames_total", "Pictures the bus handed to its encoder.", bus);
        _busDeliveredFps = f.CreateGauge("mixer_bus_delivered_fps", "Frames per second the bus delivered over the last 2 s (its frame rate when it keeps up).", bus);
        _busBytes = f.CreateCounter("mixer_bus_sent_bytes_total", "MPEG-TS bytes handed to the bus's SRT output; rate() x 8 is the bitrate sent.", bus);
        _busDropped = f.CreateCounter("mixer_bus_dropped_frames_total", "Frames the bus dropped rather than send them late (the machine could not make them in time), or shed so that Program keeps up.", bus);
        _busDroppedAudio = f.CreateCounter("mixer_bus_dropped_audio_seconds_total", "Seconds of the bus's sound dropped rather than sent late (a gap in place of a delay that would hold its pictures back).", bus);
        _busLateEpisodes = f.CreateCounter("mixer_bus_late_episodes_total", "Spells in which the bus could not keep up and dropped frames.", bus);
        _busSentLate = f.CreateCounter("mixer_bus_pictures_sent_late_total", "Pictures that left the bus more than two frame intervals past their deadline (its latency after their running time).", bus);
        _busDropping = f.CreateGauge("mixer_bus_dropping", "1 while the bus is dropping frames to stay on time.", bus);
        _busShedEvery = f.CreateGauge("mixer_bus_shed_every", "The bus makes one frame in this many while it gives way to Program (1: every frame; Program is always 1).", bus);
        _sheddingLevel = f.CreateGauge("mixer_project_shedding_level", "How far the buses other than Program give way to it: 0 none, 1 to 4 (one frame in 2, 3, 6, 15).", "project");
        _sheddingEpisodes = f.CreateCounter("mixer_project_shedding_episodes_total", "Times Program was short of time and the other buses began to give way (each logged once when it starts).", "project");
        _busStalls = f.CreateCounter("mixer_bus_stalls_total", "Times the bus's pictures stopped leaving its muxer while the other buses went on, and it was rebuilt.", bus);
        _busReconnects = f.CreateCounter("mixer_bus_output_reconnects_total", "Connection attempts of the bus's SRT output after its first.", bus);
        _busOutputState = f.CreateGauge("mixer_bus_output_state", "The bus's SRT output connection: 1 for its current state, 0 for the others.", [.. bus, "state"]);
        _busEncoder = f.CreateGauge("mixer_bus_encoder_info", "The bus's H.264 encoder backend: always 1.", [.. bus, "backend"]);
        _busPublished = f.CreateGauge("mixer_bus_published", "MediaMTX's view of the bus's output (OUTPUT_ONLINE 1, OUTPUT_OFFLINE 0); absent until it told.", bus);
        _busPeak = f.CreateGauge("mixer_bus_audio_peak_dbfs", "The bus's audio peak over the last metering interval, dBFS (-120: silence).", bus);
        _busRms = f.CreateGauge("mixer_bus_audio_rms_dbfs", "The bus's audio RMS over the last metering interval, dBFS (-120: silence).", bus);

        _inputFrames = f.CreateCounter("mixer_input_frames_total", "Decoded pictures that came in on the input.", input);
        _inputDecodeErrors = f.CreateCounter("mixer_input_decode_errors_total", "Errors and warnings from the input's demuxer, parser and decoder.", input);
        _inputSoundDroppedLate = f.CreateCounter("mixer_input_sound_dropped_late_seconds_total",
            "Seconds of the input's sound that came to the bus mixers after its time and was dropped (gaps on the buses hearing it).", input);
        _inputReconnects = f.CreateCounter("mixer_input_reconnects_total", "Connection attempts of the input after its first.", input);
        _inputState = f.CreateGauge("mixer_input_state", "The input's SRT connection: 1 for its current state, 0 for the others.", [.. input, "state"]);
        _inputLastFrameAge = f.CreateGauge("mixer_input_last_frame_age_seconds", "Seconds since the input's last decoded picture; +Inf before the first.", input);
        _inputIngestOnline = f.CreateGauge("mixer_input_ingest_online", "MediaMTX's view of the input's feed (INGEST_ONLINE 1, INGEST_OFFLINE 0); absent until it told.", input);
        _inputPeak = f.CreateGauge("mixer_input_audio_peak_dbfs", "The input's audio peak (after its gain) over the last metering interval, dBFS.", input);
        _inputRms = f.CreateGauge("mixer_input_audio_rms_dbfs", "The input's audio RMS (after its gain) over the last metering interval, dBFS.", input);
        _perProject = [_busFrames, _busBytes, _busDropped, _busDroppedAudio, _busLateEpisodes, _busSentLate, _busStalls, _busDropping, _busShedEvery, _busDeliveredFps, _busReconnects, _busOutputState, _busEncoder, _busPublished, _busPeak, _busRms,
                       _inputFrames, _inputDecodeErrors, _inputSoundDroppedLate, _inputReconnects, _inputState, _inputLastFrameAge, _inputIngestOnline, _inputPeak, _inputRms, _leaseEpoch, _sheddingLevel, _sheddingEpisodes];

        _workerInfo.WithLabels(worker.Value.Id, Version).Set(1);
        Registry.AddBeforeCollectCallback(UpdateAsync);
    }

    private static string Version =>
        typeof(WorkerMetrics).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "unknown";

    /// <summary>
    /// A command's answer went out: <paramref name="result"/> is applied, duplicate or the refusal's
    /// reason; <paramref name="entryId"/> is its stream entry ("ms-seq", Redis's clock).
    /// </summary>
    public void CommandAnswered(ShowCommand? command, string result, string entryId)
    {
        var ms = entryId.Split('-')[0];
        if (!long.TryParse(ms, NumberStyles.None, CultureInfo.InvariantCulture, out var added)) return;
        // Clocks of the Redis host and the worker may differ by a little; never a negative latency.
        var latency = Math.Max(0, (DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() - added) / 1000.0);
        _commandLatency.WithLabels(CommandType(command), result).Observe(latency);
    }

    /// <summary>A changed desired state was dealt with: <paramref name="result"/> applied, refused or failed.</summary>
    public void DesiredConverged(string result, TimeSpan took) => _convergence.WithLabels(result).Observe(took.TotalSeconds);

    public void ProjectsDesired(int count) => _projectsDesired.Set(count);

    // CutCommand → cut, FadeToBlackCommand → fadeToBlack: the command's JSON "type". Only known types
    // become label values, so a client sending junk cannot grow the series.
    private static string CommandType(ShowCommand? command)
    {
        var name = command?.GetType().Name;
        if (name is null || !name.EndsWith("Command", StringComparison.Ordinal)) return "other";
        var type = char.ToLowerInvariant(name[0]) + name[1..^"Command".Length];
        return CommandJson.Types.Contains(type) ? type : "other";
    }

    private static string StateName(ConnectionState s) => s.ToString().ToLowerInvariant();

    private (string, IReadOnlyList<(string, bool)>)? ProbeGStreamer()
    {
        try
        {
            var probe = new GstElementProbe();
            return (GstRuntime.Version.ToString(), [.. EncoderChainBuilder.AllBackends.Select(b => (b.Name, b.IsAvailable(probe)))]);
        }
        catch (GstMissingException) { return null; }
    }

    private async Task UpdateAsync(CancellationToken cancel)
    {
        if (_gstreamer.Value is var (version, backends))
        {
            _gstreamerInfo.WithLabels(version).Set(1);
            foreach (var (backend, available) in backends) _backendAvailable.WithLabels(backend).Set(available ? 1 : 0);
        }
        _redisConnected.Set(_redis.IsConnected ? 1 : 0);
        var running = _registry.All.Where(r => r.HoldsLease).ToList();
        _projects.Set(running.Count);
        UpdateFleet(running);

        var series = new SeriesTracker();
        foreach (var runtime in running)
        {
            series.Running(runtime.Project);
            if (runtime.Lease is { } lease) series.Set(_leaseEpoch, lease.Epoch, runtime.Project);
            MixerStatus status;
            AudioMeters meters;
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancel);
            timeout.CancelAfter(_scrapeTimeout);
            try
            {
                if (await runtime.EngineReportAsync(timeout.Token) is not { } report) continue;
                (status, meters) = report;
            }
            catch (OperationCanceledException) when (!cancel.IsCancellationRequested)
            {
                // A busy or stuck control thread: keep the last figures rather than drop the series.
                _log.LogWarning("project {Project}: no status from the engine within {Timeout} s for the metrics", runtime.Project, _scrapeTimeout.TotalSeconds);
                series.Keep(runtime.Project);
                continue;
            }
            Update(series, runtime, status, meters);
        }
        series.RemoveStale(_perProject);
    }

    private void UpdateFleet(IReadOnlyList<ProjectRuntime> held)
    {
        _cpus.WithLabels(_load.Cpus.Source).Set(_load.Cpus.Cpus);
        _capacity.Set(_load.CapacityCpus);
        _estimated.Set(_load.EstimatedCpus);
        _measured.Set(_load.MeasuredCpus);
        _loadCpus.Set(_load.LoadCpus);
        _owned.Set(held.Count);
        _preparing.Set(_registry.All.Count(r => r.Role == ProjectRole.Preparing));
        _draining.Set(_registry.Draining ? 1 : 0);
    }

    private void Update(SeriesTracker s, ProjectRuntime runtime, MixerStatus status, AudioMeters meters)
    {
        var p = runtime.Project;
        if (status.Shedding is { } shedding)
        {
            s.Set(_sheddingLevel, shedding.Level, p);
            s.IncTo(_sheddingEpisodes, shedding.Episodes, p);
        }
        foreach (var (name, bus) in status.Buses)
        {
            s.IncTo(_busFrames, bus.FramesOut, p, name);
            s.IncTo(_busBytes, bus.BytesSent, p, name);
            s.IncTo(_busReconnects, Math.Max(0, bus.Attempts - 1), p, name);
            s.IncTo(_busStalls, bus.Stalls, p, name);
            if (bus.Lateness is { } late)
            {
                s.IncTo(_busDropped, late.DroppedFrames, p, name);
                s.IncTo(_busDroppedAudio, late.DroppedAudioSeconds, p, name);
                s.IncTo(_busLateEpisodes, late.Episodes, p, name);
                s.IncTo(_busSentLate, late.PicturesSentLate, p, name);
                s.Set(_busDropping, late.Dropping ? 1 : 0, p, name);
                s.Set(_busDeliveredFps, late.DeliveredFps, p, name);
                s.Set(_busShedEvery, late.ShedEvery, p, name);
            }
            foreach (var st in States) s.Set(_busOutputState, StateName(bus.Output) == st ? 1 : 0, p, name, st);
            s.Set(_busEncoder, 1, p, name, bus.Encoder);
            if (runtime.OutputPublished.TryGetValue(name, out var published)) s.Set(_busPublished, published ? 1 : 0, p, name);
            if (meters.Buses.TryGetValue(name, out var level))
            {
                s.Set(_busPeak, level.PeakDb, p, name);
                s.Set(_busRms, level.RmsDb, p, name);
            }
        }
        foreach (var (name, input) in status.Inputs)
        {
            s.IncTo(_inputFrames, input.FramesIn, p, name);
            s.IncTo(_inputDecodeErrors, input.DecodeErrors, p, name);
            s.IncTo(_inputSoundDroppedLate, input.SoundDroppedLateSeconds, p, name);
            s.IncTo(_inputReconnects, Math.Max(0, input.Attempts - 1), p, name);
            foreach (var st in States) s.Set(_inputState, StateName(input.State) == st ? 1 : 0, p, name, st);
            s.Set(_inputLastFrameAge, input.SinceLastFrame?.TotalSeconds ?? double.PositiveInfinity, p, name);
            if (runtime.IngestOnline.TryGetValue(name, out var online)) s.Set(_inputIngestOnline, online ? 1 : 0, p, name);
            if (meters.Inputs.TryGetValue(name, out var level))
            {
                s.Set(_inputPeak, level.PeakDb, p, name);
                s.Set(_inputRms, level.RmsDb, p, name);
            }
        }
    }

    /// <summary>
    /// Which per-project series one scrape wrote, so that the rest (a stopped project, a removed bus or
    /// input, a MediaMTX view that no longer applies) can be dropped after it.
    /// </summary>
    private sealed class SeriesTracker
    {
        private readonly HashSet<string> _running = [], _kept = [];
        private readonly Dictionary<Collector, HashSet<string>> _written = [];

        public void Running(string project) => _running.Add(project);
        public void Keep(string project) => _kept.Add(project);

        public void Set(Gauge g, double value, params string[] labels)
        {
            g.WithLabels(labels).Set(value);
            Written(g, labels);
        }

        /// <summary>
        /// Engine counters are totals since the project's mixer started, over every branch a bus had (they
        /// never fall across a rebuild); only a new mixer starts them again, and a new series with it.
        /// </summary>
        public void IncTo(Counter c, double value, params string[] labels)
        {
            var child = c.WithLabels(labels);
            if (value < child.Value)
            {
                c.RemoveLabelled(labels);
                child = c.WithLabels(labels);
            }
            child.IncTo(value);
            Written(c, labels);
        }

        private void Written(Collector c, string[] labels)
        {
            if (!_written.TryGetValue(c, out var set)) _written[c] = set = [];
            set.Add(string.Join('\0', labels));
        }

        public void RemoveStale(IEnumerable<Collector> collectors)
        {
            foreach (var c in collectors)
            {
                var written = _written.GetValueOrDefault(c);
                foreach (var labels in LabelValues(c))
                {
                    var project = labels[0];
                    if (_kept.Contains(project) && _running.Contains(project)) continue;
                    if (!_running.Contains(project) || written?.Contains(string.Join('\0', labels)) != true) Remove(c, labels);
                }
            }
        }

        private static IEnumerable<string[]> LabelValues(Collector c) => c switch
        {
            Counter counter => counter.GetAllLabelValues().ToList(),
            Gauge gauge => gauge.GetAllLabelValues().ToList(),
            _ => [],
        };

        private static void Remove(Collector c, string[] labels)
        {
            if (c is Counter counter) counter.RemoveLabelled(labels);
            else if (c is Gauge gauge) gauge.RemoveLabelled(labels);
        }
    }
}
