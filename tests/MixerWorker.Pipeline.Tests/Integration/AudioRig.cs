using System.Globalization;
using MixerWorker.Pipeline.Builders;
using MixerWorker.Pipeline.Interop;
using MixerWorker.Pipeline.Engine;
using MixerWorker.Pipeline.Scene;
using MixerWorker.Testbed.Audio;
using MixerWorker.Testbed.Timing;

namespace MixerWorker.Pipeline.Tests.Integration;

/// <summary>A live tone for the rig: frequency, peak amplitude, and the format it enters the engine in.</summary>
public sealed record Tone(string Input, double Hz, double Volume = 0.3, int Channels = 2, int Rate = 48000, string Format = "F32LE")
{
    public double PeakDb => 20 * Math.Log10(Volume);
}

/// <summary>
/// The engine's audio path without SRT or codecs: live tones into real InputBranches, one real BusAudio,
/// and the PCM the bus would encode, tapped at its converter to the encoder's format (after the limiter and meter). Levels here are exact, so gain, limiter
/// and meter checks can be tight; the end-to-end tests check the same through SRT and Opus.
/// </summary>
internal sealed class AudioRig : IDisposable
{
    private readonly List<Element> _sources = [];
    private readonly List<IDisposable> _owned = [];
    private readonly BusReader _busReader;
    private readonly Lock _lock = new();
    private readonly List<(string Element, LevelReading Reading, DateTimeOffset At)> _levels = [];

    // The audio mixer's wait for late inputs. The engine's 30 ms is a live-timing choice; here a longer
    // wait keeps a loaded machine's scheduling stall (CI has 2 cores) from filling silence into audio
    // whose levels the tests check exactly. The rig's timing checks use stream time, which this does not move.
    internal static readonly TimeSpan MixerLatency = TimeSpan.FromMilliseconds(300);
    internal static readonly TimeSpan Jitter = new MixerOptions().InputJitter;

    internal Graph Graph { get; } = new("audio-rig");
    internal Element Pipeline => Graph.Pipeline;
    internal Dictionary<string, InputBranch> Inputs { get; } = [];
    internal BusAudio Bus { get; }
    internal PcmRecorder Pcm { get; } = new();

    internal AudioRig(BusDefinition bus, params Tone[] tones) : this(bus, [], tones) { }

    /// <param name="soundless">Inputs that get no source at all, as a feed without an audio track.</param>
    internal AudioRig(BusDefinition bus, string[] soundless, params Tone[] tones)
    {
        MediaTestLock.Acquire(TimeSpan.FromMinutes(3));
        _busReader = new BusReader(Pipeline, _ => { });
        foreach (var name in soundless) Inputs[name] = new InputBranch(Graph, name, Jitter, Meter(InputMeterName(name)));
        foreach (var tone in tones)
        {
            var input = new InputBranch(Graph, tone.Input, Jitter, Meter(InputMeterName(tone.Input)));
            Inputs[tone.Input] = input;
            _sources.AddRange(ToneSource(tone, input));
        }
        var busMeter = BusMeterName(bus.Name);
        Bus = new BusAudio(Graph, ElementName.Bus(bus.Name), bus, new BusLatency(Jitter, MixerLatency));
        Bus.Listen(Meter(busMeter));
        var sink = Element.Make("fakesink", "rig.sink");
        sink.Set("sync", false);
        sink.Set("async", false);
        Pipeline.Add(sink);
        Bus.Output.Link(sink);
        _sources.Add(sink);
        using (var convert = Pipeline.GetByName(ElementName.Bus(bus.Name).Child("aconvert"))!)
        using (var convertSink = convert.StaticPad("sink"))
            _owned.Add(Pcm.Attach(convertSink));
        Bus.Apply(bus, Inputs);
        if (Pipeline.SetState(State.Playing) == StateChange.Failure) throw new InvalidOperationException("the rig did not start");
    }

    // A live tone of 10 ms buffers linked into the input's audio.
    private Element[] ToneSource(Tone tone, InputBranch input)
    {
        var src = Element.Make("audiotestsrc", $"tone.{tone.Input}");
        src.Set("is-live", true);
        src.Set("freq", tone.Hz.ToString(CultureInfo.InvariantCulture));
        src.Set("volume", tone.Volume);
        src.Set("samplesperbuffer", tone.Rate / 100);
        var caps = ElementFactory.CapsFilter($"tonecaps.{tone.Input}", $"audio/x-raw,format={tone.Format},rate={tone.Rate},channels={tone.Channels}");
        ElementFactory.AddChain(Pipeline, [src, caps]);
        using (var capsSrc = caps.StaticPad("src")) capsSrc.Link(input.AudioEntry);
        return [src, caps];
    }

    /// <summary>Starts a tone on an input that had no sound (one made soundless) while the rig plays.</summary>
    internal void StartTone(Tone tone)
    {
        var added = ToneSource(tone, Inputs[tone.Input]);
        _sources.AddRange(added);
        foreach (var e in added.Reverse()) e.SyncStateWithParent();
    }

    /// <summary>Stops an input's tone where it is made: the input stays, and sends nothing from now on.</summary>
    internal void StopTone(string input)
    {
        using var src = Pipeline.GetByName($"tone.{input}")!;
        src.SetState(State.Null);
    }

    /// <summary>What <see cref="Levels"/> calls a bus's meter (<see cref="SoundMeter"/>).</summary>
    internal static string BusMeterName(string bus) => $"bus.{bus}.meter";

    /// <summary>What <see cref="Levels"/> calls an input's meter (<see cref="SoundMeter"/>).</summary>
    internal static string InputMeterName(string input) => $"in.{input}.meter";

    // Readings as they come, on the streaming thread that made them.
    private Action<LevelReading> Meter(string name) => reading =>
    {
        lock (_lock) _levels.Add((name, reading, DateTimeOffset.UtcNow));
    };

    /// <summary>Level readings of one meter (<see cref="InputMeterName"/>, <see cref="BusMeterName"/>) that arrived in [since, until).</summary>
    internal IReadOnlyList<LevelReading> Levels(string element, DateTimeOffset since, DateTimeOffset? until = null)
    {
        lock (_lock)
            return _levels.Where(l => l.Element == element && l.At >= since && l.At < (until ?? DateTimeOffset.MaxValue)).Select(l => l.Reading).ToList();
    }

    public void Dispose()
    {
        Pipeline.SetState(State.Null);
        foreach (var o in _owned) o.Dispose();
        _busReader.Dispose();
        Bus.Dispose();
        foreach (var i in Inputs.Values) i.Dispose();
        foreach (var s in _sources) { Pipeline.Remove(s); s.Dispose(); }
        Graph.Dispose();
    }
}
