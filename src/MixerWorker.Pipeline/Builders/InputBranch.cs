using System.Runtime.InteropServices;
using MixerWorker.Pipeline.Interop;
using MixerWorker.Pipeline.Scene;

namespace MixerWorker.Pipeline.Builders;

/// <summary>
/// The part of an input that lives as long as the input is in the scene: the decoded video and audio
/// are normalised once (I420; 48 kHz stereo float) and fanned out by tees to every bus showing it.
/// SRT connections come and go upstream of it (Sources/SrtSource) while the buses stay linked.
/// Audio: convert (mono is copied to both sides) → resample → 48 kHz stereo → gain/mute → tee, metered in
/// a probe after the gain (it shows what the buses get, <see cref="SoundMeter"/>), with the lip-sync delay
/// applied as a running-time offset on the gain's output.
/// </summary>
internal sealed class InputBranch : IDisposable
{
    internal const string AudioCaps = "audio/x-raw,format=F32LE,rate=48000,channels=2,layout=interleaved";
    internal const int MaxAudioDelayMs = 1000;

    private readonly Graph _graph;
    private readonly Element[] _video;
    private readonly Element[] _audio;
    private readonly Element _volume;
    private readonly Pad _delayPad;
    private readonly ProbeHandle _audioQueries;
    private readonly ProbeHandle[] _latencyAnswers;
    private readonly Pad _deinterlaced;
    private readonly ProbeHandle _frameCounter;
    private readonly ProbeHandle? _meterProbe;
    private readonly ProbeHandle[] _traced = [];
    private long _framesIn;
    private long _lastFrameTick;
    private (double GainDb, bool Muted, int DelayMs) _audioSettings = (0, false, 0);

    internal string Name { get; }
    internal Element VideoTee => _video[^1];
    internal Element AudioTee => _audio[^1];
    internal Pad VideoEntry { get; }
    internal Pad AudioEntry { get; }
    /// <summary>Decoded pictures that reached the input since it was added, over every connection.</summary>
    internal long FramesIn => Interlocked.Read(ref _framesIn);
    /// <summary>How long ago the last decoded picture arrived; null before the first.</summary>
    internal TimeSpan? SinceLastFrame => Interlocked.Read(ref _lastFrameTick) is var t and not 0 ? TimeSpan.FromMilliseconds(Environment.TickCount64 - t) : null;
    /// <summary>The audio delay in force, read back from the pad.</summary>
    internal TimeSpan AudioDelay => ClockTime.ToTimeSpan(_delayPad.OffsetNs);

    /// <param name="jitter">The input's jitter allowance (the source's InputTimeline), declared as its latency.</param>
    /// <param name="meter">Gets the input's sound level ten times a second, on its streaming thread; none with Dispose's return.</param>
    internal InputBranch(Graph graph, string name, TimeSpan jitter, Action<LevelReading>? meter = null)
    {
        _graph = graph;
        Name = name;
        var id = ElementName.Input(name);
        // deinterlace passes progressive video through untouched and only works on interlaced feeds.
        _video = [Element.Make("deinterlace", id.Child("deinterlace")), Element.Make("videoconvert", id.Child("vconvert")), Tee(id.Child("vtee"))];
        _volume = Element.Make("volume", id.Child("volume"));
        _audio =
        [
            Element.Make("audioconvert", id.Child("aconvert")), Element.Make("audioresample", id.Child("aresample")),
            ElementFactory.CapsFilter(id.Child("acaps"), AudioCaps), _volume, Tee(id.Child("atee")),
        ];
        ElementFactory.AddChain(graph, _video);
        ElementFactory.AddChain(graph, _audio);
        foreach (var e in _video.Concat(_audio)) e.SyncStateWithParent();
        VideoEntry = _video[0].StaticPad("sink");
        AudioEntry = _audio[0].StaticPad("sink");
        _delayPad = _volume.StaticPad("src");
        // The offset changes the running time the segment carries, not the samples: the meter reads the
        // same either way. Dispose takes the volume to NULL, which waits for a push under way, so no
        // reading comes after it.
        if (meter is not null)
        {
            var levels = new SoundMeter(2, 48000, ElementFactory.MeterInterval, meter);
            ReadOnlySpanAction<byte> read = bytes => levels.Process(MemoryMarshal.Cast<byte, float>(bytes));
            _meterProbe = graph.AddProbe(_delayPad, ProbeType.Buffer | ProbeType.BufferList, info =>
            {
                info.ReadBytes(read);
                return ProbeReturn.Ok;
            });
        }
        // The decoder asks for an allocation (and may ask for a drain) on every new connection's
        // first caps. Both queries are serialized: the tee hands them to every bus's queue, each
        // queue waits until its mixer pad takes them, and a mixer that is held up downstream (its
        // encoder blocked on the muxer) then holds the input's streaming thread, so the SRT source
        // can never be stopped. Raw audio needs no pool or drain, so they are answered here, and an
        // input never waits for a bus.
        using (var teeSink = AudioTee.StaticPad("sink"))
            _audioQueries = graph.AddProbe(teeSink, ProbeType.QueryDownstream,
                info => info.Query is QueryType.Allocation or QueryType.Drain ? ProbeReturn.Handled : ProbeReturn.Ok);
        // Upstream of these pads the buffers are already on the mixer's timeline, due the moment they
        // leave their decoder (the source's InputTimeline): all the buses must allow for is the
        // jitter, whether or not a connection is there to ask, so the pads answer for it. The picture's
        // answer comes after the deinterlacer: deinterlacing (as it is until its first progressive caps)
        // it asks its source's pad itself, past any probe on its own, so an input whose camera had not
        // come failed every bus's latency query, and a failed query left each bus's muxer waiting for
        // every stream, never for the clock (compositors go on with what they last learnt). The
        // deinterlacer's own field delay, where it has one, comes out of the jitter allowance.
        _deinterlaced = _video[1].StaticPad("sink");
        _latencyAnswers = [.. new[] { _deinterlaced, AudioEntry }.Select(entry => graph.AddProbe(entry, ProbeType.QueryUpstream, info =>
        {
            if (info.Query != QueryType.Latency) return ProbeReturn.Ok;
            info.AnswerLatency(live: true, min: jitter, max: null);
            return ProbeReturn.Handled;
        }))];
        _frameCounter = graph.AddProbe(VideoEntry, ProbeType.Buffer, _ =>
        {
            Interlocked.Increment(ref _framesIn);
            Interlocked.Exchange(ref _lastFrameTick, Environment.TickCount64);
            return ProbeReturn.Ok;
        });
        if (StageTrace.On)
            _traced = [.. new[] { (VideoEntry, "in.video"), (AudioEntry, "in.sound") }.Select(e => graph.AddProbe(e.Item1, ProbeType.Buffer, info =>
            {
                if (info.BufferRunningTime(e.Item1) is { } runningTime && graph.Pipeline.RunningTimeNow() is { } now)
                    StageTrace.Note(e.Item2, name, runningTime, now, info.BufferDurationNs ?? 0);
                return ProbeReturn.Ok;
            }))];
    }

    /// <summary>
    /// Applies gain, mute and delay while playing; only changed values are touched. Called on the
    /// control thread.
    /// </summary>
    internal void ApplyAudio(InputDefinition input)
    {
        var gainDb = Math.Clamp(double.IsNaN(input.GainDb) ? 0 : input.GainDb, AudioGain.MinDb, AudioGain.MaxDb);
        var delayMs = Math.Clamp(input.DelayMs, 0, MaxAudioDelayMs);
        if (gainDb != _audioSettings.GainDb) _volume.Set("volume", AudioGain.ToLinear(gainDb));
        if (input.Muted != _audioSettings.Muted) _volume.Set("mute", input.Muted);
        // The delay is an offset on the running time, not a queue that holds data back. Every bus
        // mixes in an aggregator that is live: it takes each buffer at the running time stamped on it
        // and drops what arrives after its deadline. A queue (min-threshold-time) would release the
        // same timestamps later, so the audiomixer would find them late and drop them, or mix them at
        // the old time. Shifting the running time makes the mixer schedule the audio later, in step
        // with the clock and with the video of the other pads; the data waits in the buses' leaky
        // queues (AudioBranch sizes them for the largest delay). A change shows as a short gap or
        // overlap at that moment, which is what changing a lip-sync delay live sounds like anyway.
        if (delayMs != _audioSettings.DelayMs) _delayPad.OffsetNs = delayMs * 1_000_000L;
        _audioSettings = (gainDb, input.Muted, delayMs);
    }

    // allow-not-linked: a tee with no bus attached, or with one branch being swapped, must not
    // turn into a not-linked error that would stop the decoder.
    private static Element Tee(string name)
    {
        var t = Element.Make("tee", name);
        t.Set("allow-not-linked", true);
        return t;
    }

    public void Dispose()
    {
        _frameCounter.Dispose();
        _meterProbe?.Dispose();
        foreach (var p in _traced) p.Dispose();
        VideoEntry.Dispose();
        AudioEntry.Dispose();
        _deinterlaced.Dispose();
        _delayPad.Dispose();
        _audioQueries.Dispose();
        foreach (var p in _latencyAnswers) p.Dispose();
        foreach (var e in _video.Concat(_audio))
        {
            e.SetState(State.Null);
            _graph.Remove(e);
            e.Dispose();
        }
    }
}
