using MixerWorker.Pipeline.Interop;
using MixerWorker.Pipeline.Scene;

namespace MixerWorker.Pipeline.Builders;

/// <summary>
/// The sound of one or more buses: live silence → audiomixer (one pad per heard input, <see cref="AudioBranch"/>)
/// → 48 kHz stereo float → master gain → limiter (<see cref="PeakLimiter"/>) and meter
/// (<see cref="SoundMeter"/>), both in one probe → Opus or AAC → a tee, from which each bus that hears
/// this mix takes it into its muxer (<see cref="SoundFeed"/>). Buses whose sound is the same share
/// one (<see cref="AudioSharing"/>). The live silence and force-live keep the mix running on the clock
/// when no input sends audio, and an input that has never sent any is not waited for, so a silent or
/// missing input never holds it up.
/// </summary>
internal sealed class BusAudio : IDisposable
{
    /// <summary>
    /// The limiter's ceiling for a bus's sound, in dBFS: -2, and -3 for Opus below 64 kb/s. Below full
    /// scale because a lossy codec rebuilds the peaks of what it encodes higher, and Opus more the fewer
    /// bits it has. Overloaded mixes (three full-scale tones at +6 dB, 40 sets of phases) limited at
    /// -1 dBFS decoded from Opus at 64 kb/s to -0.10 dBFS at worst, at 16-48 kb/s to full scale; AAC
    /// overshot by 0.08 dB. At these ceilings the worst was -0.88 dBFS (Opus 64), and no worse than
    /// -1.57 below 64 kb/s (BusAudioRigTests' overloaded mixes; bench/results/2026-12-05-0745-vm-limiter-ceiling-codecs.md).
    /// </summary>
    internal static double LimiterCeilingDb(OutputFormat f) =>
        f.AudioCodec == AudioCodec.Opus && f.AudioBitrateKbps < CeltOnlyFromKbps ? -3 : -2;

    /// <summary>A bus's limiter: 2 ms of look-ahead, 150 ms of release, at the ceiling for its format.</summary>
    internal static PeakLimiter NewPeakLimiter(OutputFormat f) =>
        new(2, 48000, Math.Pow(10, LimiterCeilingDb(f) / 20), TimeSpan.FromMilliseconds(2), TimeSpan.FromMilliseconds(150));

    /// <summary>
    /// The pace of the mix: one Opus frame (20 ms, WebRTC's own), for the live silence and the mixer's
    /// output alike. At GStreamer's 10 ms default the silence source woke twice as often for nothing
    /// (8 buses: its threads 3.8 → 2.1 % of a core, bench/results/2026-11-30-1810-vm-cost-audio.md);
    /// the mixer's thread 20.2 → 18.4 (it also wakes for every input buffer, and Opus is half of it).
    /// The mixer's deadline for a block is still the block's start plus its latency, so a block's last
    /// samples have 10 ms less of the jitter allowance (60 ms by default) to arrive; timestamps, and so
    /// lip sync, do not move.
    /// </summary>
    internal static readonly TimeSpan Block = TimeSpan.FromMilliseconds(20);

    /// <summary>
    /// Opus's complexity: 7, the lowest that keeps the encoder's signal analysis (tonality, bandwidth,
    /// the bit allocation that follows them; libopus runs it from 7 up). What 8 to 10 add is a second
    /// coding pass over each stereo band to choose its stereo angle: a quarter of the encoder's CPU
    /// (opusenc alone, 128 kb/s: 3.1 → 2.3 s of CPU per 300 s of audio) for a refinement a monitoring
    /// feed does without. At 5 the analysis is off as well, and the codec noise under a tone reached
    /// -40 dB end to end, enough to hear an input mixed at gain 0 (AudioTests).
    /// </summary>
    internal const int OpusComplexity = 7;

    /// <summary>
    /// The stereo bitrate from which libopus codes any signal, speech included, with CELT alone (its
    /// mode threshold for speech is 44 kb/s, 48 with its hysteresis), so asking for CELT alone changes
    /// nothing but the look-ahead. Below it speech goes to SILK or the hybrid mode, which a low bitrate needs.
    /// </summary>
    internal const int CeltOnlyFromKbps = 64;

    private static readonly IReadOnlyDictionary<string, AudioBranch> NoBranches = new Dictionary<string, AudioBranch>();

    private readonly Graph _graph;
    private readonly ElementName _name;
    private readonly Element[] _elements;
    private readonly Element _master;
    private readonly PeakLimiter _peakLimiter;
    private readonly SoundMeter _meter;
    // Who reads the meter: every bus hearing the chain. Replaced whole on the control thread.
    private volatile Action<LevelReading>[] _listeners = [];
    // Who is told of each encoded block: buses waiting to move here (SoundFeed). Replaced whole on the control thread.
    private volatile Action[] _encodedWatchers = [];
    private long _encodedEndNs = -1;
    private readonly Pad _teeSink, _masterSrc;
    private readonly ProbeHandle _encodedProbe;
    private readonly SpanAction<float> _treat;
    private readonly ProbeHandle _peakLimiterProbe;
    private volatile bool _peakLimiting;
    // Replaced whole on the control thread and never changed afterwards, so SetInputGains can walk it
    // from a streaming thread without a lock.
    private volatile IReadOnlyDictionary<string, AudioBranch> _branches = NoBranches;
    private double? _masterDb;

    internal Element Mixer { get; }
    /// <summary>The tee of the encoded sound, for each hearing bus's muxer to take a branch from.</summary>
    internal Element Output => _elements[^1];
    /// <summary>
    /// The running time the encoded sound reaches, -1 before the first block: where a bus that moves here
    /// hears it from (<see cref="SoundSeam"/>). Written by the chain's thread.
    /// </summary>
    internal long EncodedEndNs => Interlocked.Read(ref _encodedEndNs);

    /// <param name="name">What its elements are called: the bus that made it (a chain made for one bus
    /// alone first, then shared, keeps that name), with a part unique in the project where it is shared.</param>
    internal BusAudio(Graph graph, ElementName name, BusDefinition bus, BusLatency latency)
    {
        _graph = graph;
        _name = name;
        var p = name;
        var silence = Element.Make("audiotestsrc", p.Child("silence"));
        silence.Set("is-live", true);
        silence.Set("wave", "silence");
        silence.Set("samplesperbuffer", (int)(48000 * Block.TotalSeconds));
        var silenceCaps = ElementFactory.CapsFilter(p.Child("silencecaps"), InputBranch.AudioCaps);
        Mixer = Element.MakeWith("audiomixer", p.Child("audiomixer"), "force-live", true);
        latency.ApplyTo(Mixer);
        ElementFactory.StartOnTheClock(Mixer, graph.Pipeline);
        Mixer.Set("output-buffer-duration", ClockTime.FromTimeSpan(Block));
        // An input that has never sent sound (a feed without an audio track, one not connected yet) is
        // waited for once, then not until its first buffer. Waited for, it held every block to the
        // deadline, and a bus whose inputs are all silent, or that hears one silent camera, wrote each
        // picture only with that late silence (muxer → output p50 65 ms). An input that has sent sound
        // is waited for up to the deadline as before, so sound that stalls loses nothing it would not.
        Mixer.Set("ignore-inactive-pads", true);
        var mixCaps = ElementFactory.CapsFilter(p.Child("acaps"), InputBranch.AudioCaps);
        _master = Element.Make("volume", p.Child("master"));
        var aconv = Element.Make("audioconvert", p.Child("aconvert"));
        _peakLimiter = NewPeakLimiter(bus.Format);
        var aenc = Encoder(p.Child("aenc"), bus.Format);
        // mpegtsmux refuses voaacenc's output unless aacparse frames it; Opus goes in as it is.
        Element[] encoded = bus.Format.AudioCodec == AudioCodec.Aac ? [aenc, Element.Make("aacparse", p.Child("aacparse"))] : [aenc];
        var tee = Element.Make("tee", p.Child("atee"));
        tee.Set("allow-not-linked", true);
        _elements = [silence, silenceCaps, Mixer, mixCaps, _master, aconv, .. encoded, tee];
        ElementFactory.AddChain(graph, _elements);
        _meter = new SoundMeter(2, 48000, ElementFactory.MeterInterval, reading =>
        {
            foreach (var listener in _listeners) listener(reading);
        });
        _treat = Treat;
        // Limiter, then meter, so the bus meter reads what the encoder gets.
        _masterSrc = _master.StaticPad("src");
        _peakLimiterProbe = graph.AddProbe(_masterSrc, ProbeType.Buffer, info =>
        {
            if (StageTrace.On && info.BufferRunningTime(_masterSrc) is { } runningTime && graph.Pipeline.RunningTimeNow() is { } now)
                StageTrace.Note("mix", _name, runningTime, now, info.BufferDurationNs ?? 0);
            info.MapWritable(_treat);
            return ProbeReturn.Ok;
        });
        _teeSink = tee.StaticPad("sink");
        _encodedProbe = graph.AddProbe(_teeSink, ProbeType.Buffer, OnEncoded);
        ApplyMaster(bus.Audio);
    }

    // On the mixer's streaming thread, buffer by buffer (F32LE stereo, fixed by the caps before it).
    private void Treat(Span<float> samples)
    {
        if (_peakLimiting) _peakLimiter.Process(samples);
        _meter.Process(samples);
    }

    // On the chain's thread, before the tee hands the block to the buses that hear it.
    private ProbeReturn OnEncoded(ProbeInfo info)
    {
        // Where this thread's wait for a CPU stands, for a bus that finds the block too late (LatenessGuard.DroppedWhileStarved).
        RunQueueWait.Note();
        if (info.BufferRunningTime(_teeSink) is { } start)
        {
            Interlocked.Exchange(ref _encodedEndNs, (long)start + (info.BufferDurationNs ?? 0));
            if (StageTrace.On && _graph.Pipeline.RunningTimeNow() is { } now) StageTrace.Note("sound.encoded", _name, start, now, info.BufferDurationNs ?? 0);
        }
        foreach (var watcher in _encodedWatchers) watcher();
        return ProbeReturn.Ok;
    }

    /// <summary>
    /// Holds the chain's thread at the tee, before its next block is counted (<see cref="EncodedEndNs"/>) or handed to
    /// any bus, until disposed: a bus moving here reads where the sound ends and takes its branch with no block passing
    /// in between. Control thread, disposed in the same call (every bus on the chain waits meanwhile).
    /// </summary>
    internal IDisposable HoldAtTee() => _graph.AddProbe(_teeSink, ProbeType.Block | ProbeType.Buffer | ProbeType.BufferList, _ => ProbeReturn.Ok);

    /// <summary>Runs <paramref name="watcher"/> for each encoded block as it reaches the tee, on the chain's thread (<see cref="EncodedEndNs"/>). Control thread.</summary>
    internal void Watch(Action watcher) => _encodedWatchers = [.. _encodedWatchers, watcher];

    /// <summary>Stops running <paramref name="watcher"/>; it may run once more for a block under way. Control thread.</summary>
    internal void Unwatch(Action watcher) => _encodedWatchers = [.. _encodedWatchers.Where(w => w != watcher)];

    /// <summary>Adds a reader of the meter (ten times a second, on the mixer's streaming thread). Control thread.</summary>
    internal void Listen(Action<LevelReading> meter) => _listeners = [.. _listeners, meter];

    /// <summary>Removes a reader of the meter; it may get one more reading under way. Control thread.</summary>
    internal void Unlisten(Action<LevelReading> meter) => _listeners = [.. _listeners.Where(l => l != meter)];

    internal static Element Encoder(string name, OutputFormat f)
    {
        if (f.AudioCodec == AudioCodec.Aac)
        {
            var aac = Element.Make("voaacenc", name);
            aac.Set("bitrate", f.AudioBitrateKbps * 1000);
            return aac;
        }
        var opus = Element.Make("opusenc", name);
        opus.Set("bitrate", f.AudioBitrateKbps * 1000);
        // 20 ms frames (WebRTC's own): a sixth less encoder CPU per bus than 10 ms frames, measured
        // with opusenc alone; the 10 ms of latency are nothing next to the bus's jitter allowance and
        // mixer latency.
        opus.Set("frame-size", 20);
        opus.Set("complexity", OpusComplexity);
        // The muxer writes a picture once the encoded sound holding its time is in, and Opus stamps each
        // frame its look-ahead earlier than the samples it needed: 6.5 ms in general, 2.5 ms when it may
        // use CELT alone. At these bitrates (stereo) libopus chooses CELT alone anyway, so the bus's
        // sound, and with it every picture, leaves 4 ms sooner for the same coding.
        if (f.AudioBitrateKbps >= CeltOnlyFromKbps) opus.Set("audio-type", "restricted-lowdelay");
        return opus;
    }

    internal void SyncStateWithParent()
    {
        // Downstream first, for the reason BusBranch gives: the live silence must find the mixer running.
        foreach (var e in Enumerable.Reverse(_elements)) e.SyncStateWithParent();
    }

    /// <summary>
    /// Brings the mix to <paramref name="bus"/> on the control thread: branches for the heard inputs
    /// (and, when audio follows video, silent ones for the preview's inputs, so a cut needs no new
    /// branch), their gains, the master gain and the limiter.
    /// </summary>
    internal void Apply(BusDefinition bus, IReadOnlyDictionary<string, InputBranch> inputs, IReadOnlyDictionary<string, double>? crossfadeFrom = null)
    {
        var wanted = new Dictionary<string, double>(PlannedGains(bus));
        if (bus.Audio is null or { Mode: AudioMode.FollowVideo })
            foreach (var input in PreviewInputs(bus)) wanted.TryAdd(input, 0);
        // A transition about to crossfade starts from the outgoing mix: its inputs stay, at their levels.
        if (crossfadeFrom is not null)
        {
            foreach (var input in wanted.Keys.ToList()) wanted[input] = crossfadeFrom.GetValueOrDefault(input);
            foreach (var (input, gain) in crossfadeFrom) wanted.TryAdd(input, gain);
        }

        var current = _branches;
        var next = new Dictionary<string, AudioBranch>();
        foreach (var (input, gain) in wanted)
        {
            if (!inputs.TryGetValue(input, out var source)) continue;
            if (current.TryGetValue(input, out var branch)) branch.SetGain(gain);
            else branch = new AudioBranch(_graph, ElementName.AudioBox(_name.Owner, _name.Part is { } part ? $"{part}.{input}" : input), input, source.AudioTee, Mixer, gain);
            next[input] = branch;
        }
        _branches = next;
        foreach (var (input, branch) in current)
            if (!next.ContainsKey(input)) branch.Dispose();
        ApplyMaster(bus.Audio);
    }

    /// <summary>
    /// Sets the linear gain of every heard input at once, e.g. per frame of an audio-follows-video
    /// crossfade; inputs without an entry are silent. Safe on a streaming thread: it only sets the
    /// mixer pads' volume, never a state, and skips a branch that the control thread is removing.
    /// </summary>
    internal void SetInputGains(IReadOnlyDictionary<string, double> linear)
    {
        foreach (var (input, branch) in _branches)
            branch.SetGain(linear.TryGetValue(input, out var gain) ? gain : 0);
    }

    /// <summary>The input heard through the mixer pad at <paramref name="padPath"/> (<see cref="AudioBranch.MixPadPath"/>); null when none is.</summary>
    internal string? InputAt(string padPath) => _branches.Values.FirstOrDefault(b => b.MixPadPath == padPath)?.Input;

    /// <summary>The linear gain on each input's mixer pad, for status and tests.</summary>
    internal IReadOnlyDictionary<string, double> InputGains => _branches.ToDictionary(b => b.Key, b => b.Value.Gain);

    // Linear gain per heard input before the master gain: the fixed mix's levels, or the inputs on
    // air at unity when audio follows video.
    private static IReadOnlyDictionary<string, double> PlannedGains(BusDefinition bus) => AudioPlan.Gains(bus, null, 1.0);

    private static IEnumerable<string> PreviewInputs(BusDefinition bus) =>
        (bus.Preview?.Boxes ?? []).Select(b => b.Source).Concat(bus.Preview?.Preset?.Sources ?? []);

    private void ApplyMaster(AudioMix? mix)
    {
        var masterDb = Math.Clamp(mix is null || double.IsNaN(mix.MasterGainDb) ? 0 : mix.MasterGainDb, AudioGain.MinDb, AudioGain.MaxDb);
        if (masterDb != _masterDb) _master.Set("volume", AudioGain.ToLinear(masterDb));
        _masterDb = masterDb;
        _peakLimiting = mix?.Limiter ?? true;
    }

    public void Dispose()
    {
        _peakLimiterProbe.Dispose();
        _encodedProbe.Dispose();
        foreach (var branch in _branches.Values) branch.Dispose();
        _branches = NoBranches;
        foreach (var e in _elements) e.SetState(State.Null);
        foreach (var e in _elements) _graph.Remove(e);
        foreach (var e in _elements) e.Dispose();
        _teeSink.Dispose();
        _masterSrc.Dispose();
    }
}
