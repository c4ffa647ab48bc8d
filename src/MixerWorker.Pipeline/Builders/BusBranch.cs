using MixerWorker.Pipeline.Encoding;
using MixerWorker.Pipeline.Interop;
using MixerWorker.Pipeline.Scene;
using MixerWorker.Pipeline.Sources;

namespace MixerWorker.Pipeline.Builders;

/// <summary>
/// A bus: live background → compositor → I420 at the bus's size and rate → encoder chain, and live
/// silence → audiomixer → Opus or AAC; both into an MPEG-TS muxer whose tee feeds the SRT output.
/// The live background and silence sources keep the bus producing frames at its rate from the clock
/// when no input is connected at all. Boxes and audio branches attach and detach while it plays.
/// </summary>
internal sealed class BusBranch : IDisposable
{
    private readonly Element _pipeline;
    private readonly List<Element> _elements = [];
    private readonly List<BoxBranch> _boxes = [];
    private readonly Dictionary<string, AudioBranch> _audio = [];
    private readonly Pad _backgroundPad;
    private readonly ProbeHandle _frameCounter;
    private int _nextBoxId;
    private long _frames;

    internal string Name { get; }
    internal BusDefinition Definition { get; private set; }
    internal Element Compositor { get; }
    internal Element AudioMixer { get; }
    internal Element MuxTee { get; }
    internal EncoderChainPlan EncoderPlan { get; }
    internal long FramesOut => Interlocked.Read(ref _frames);

    internal BusBranch(Element pipeline, BusDefinition bus, EncoderChainPlan encoderPlan, TimeSpan mixerLatency)
    {
        _pipeline = pipeline;
        Name = bus.Name;
        Definition = bus;
        EncoderPlan = encoderPlan;
        var f = bus.Format;
        var p = $"bus.{bus.Name}";
        var latencyNs = (ulong)mixerLatency.Ticks * 100;

        // Video. The background source is tiny and transparent: it only makes the compositor live
        // and clocked; the compositor's own background fill draws the colour.
        var bg = Element.Make("videotestsrc", $"{p}.bgsrc");
        bg.Set("is-live", true);
        bg.Set("pattern", "black");
        var bgCaps = ElementFactory.CapsFilter($"{p}.bgcaps", $"video/x-raw,format=I420,width=16,height=16,framerate={f.Fps}/1");
        // force-live: aggregate on the clock even when no input has ever connected. Without it a box
        // whose input never came up fails the latency query, the compositor falls back to waiting for
        // every pad, and the bus publishes nothing.
        Compositor = Element.MakeWith("compositor", $"{p}.compositor", "force-live", true);
        Compositor.Set("background", bus.Background.ToString().ToLowerInvariant());
        Compositor.Set("latency", latencyNs);
        Compositor.Set("start-time-selection", "first");
        // Without an explicit I420 format x264 negotiates 4:4:4 10-bit, which browsers cannot play.
        var outCaps = ElementFactory.CapsFilter($"{p}.vcaps",
            $"video/x-raw,format=I420,width={f.Width},height={f.Height},framerate={f.Fps}/1,pixel-aspect-ratio=1/1");
        var encoder = encoderPlan.Elements.Select((e, i) => ElementFactory.Create(e, $"{p}.venc{i}")).ToList();

        // Audio.
        var silence = Element.Make("audiotestsrc", $"{p}.silence");
        silence.Set("is-live", true);
        silence.Set("wave", "silence");
        silence.Set("samplesperbuffer", 480);
        var silenceCaps = ElementFactory.CapsFilter($"{p}.silencecaps", InputBranch.AudioCaps);
        AudioMixer = Element.MakeWith("audiomixer", $"{p}.audiomixer", "force-live", true);
        AudioMixer.Set("latency", latencyNs);
        AudioMixer.Set("start-time-selection", "first");
        var mixCaps = ElementFactory.CapsFilter($"{p}.acaps", InputBranch.AudioCaps);
        var aconv = Element.Make("audioconvert", $"{p}.aconvert");
        var aenc = AudioEncoder($"{p}.aenc", f);
        // mpegtsmux refuses voaacenc's output unless aacparse frames it; Opus goes in as it is.
        Element[] audioOut = f.AudioCodec == AudioCodec.Aac ? [aenc, Element.Make("aacparse", $"{p}.aacparse")] : [aenc];

        var mux = Element.Make("mpegtsmux", $"{p}.mux");
        mux.Set("alignment", 7); // 7 x 188 = 1316 bytes per SRT packet, MediaMTX's payload size
        MuxTee = Element.Make("tee", $"{p}.muxtee");
        MuxTee.Set("allow-not-linked", true);

        _elements.AddRange([bg, bgCaps, Compositor, outCaps, .. encoder, silence, silenceCaps, AudioMixer, mixCaps, aconv, .. audioOut, mux, MuxTee]);
        foreach (var e in _elements) pipeline.Add(e);
        Element.LinkMany(bg, bgCaps);
        _backgroundPad = Compositor.RequestPad("sink_%u");
        _backgroundPad.Set("alpha", 0.0);
        _backgroundPad.Set("zorder", 0);
        using (var bgSrc = bgCaps.StaticPad("src")) bgSrc.Link(_backgroundPad);
        Element.LinkMany([Compositor, outCaps, .. encoder, mux]);
        Element.LinkMany([silence, silenceCaps, AudioMixer, mixCaps, aconv, .. audioOut, mux]);
        mux.Link(MuxTee);
        using (var compositorSrc = Compositor.StaticPad("src"))
            _frameCounter = Callbacks.AddProbe(compositorSrc, ProbeType.Buffer, _ => { Interlocked.Increment(ref _frames); return ProbeReturn.Ok; });
        // Downstream first: a live source started before the aggregator it feeds pushes into an
        // inactive pad, gets FLUSHING, pauses its task for good, and the bus never produces a frame.
        foreach (var e in Enumerable.Reverse(_elements)) e.SyncStateWithParent();
    }

    private static Element AudioEncoder(string name, OutputFormat f)
    {
        if (f.AudioCodec == AudioCodec.Aac)
        {
            var aac = Element.Make("voaacenc", name);
            aac.Set("bitrate", f.AudioBitrateKbps * 1000);
            return aac;
        }
        var opus = Element.Make("opusenc", name);
        opus.Set("bitrate", f.AudioBitrateKbps * 1000);
        opus.Set("frame-size", 10); // ms; shorter frames, lower latency
        return opus;
    }

    /// <summary>
    /// Brings boxes and audio to <paramref name="bus"/>: geometry changes are applied in place, boxes
    /// whose source changed are rebuilt, the encoder bitrate follows. Format changes need a rebuild
    /// of the bus and are handled by the caller.
    /// </summary>
    internal void ApplyLayout(BusDefinition bus, IReadOnlyDictionary<string, InputBranch> inputs, Func<string, bool> isLive)
    {
        var layout = bus.Layout;
        // Keep a branch for every box whose source is unchanged at the same position in the list,
        // then reuse any other branch with the right source, and build the rest.
        var reusable = new List<BoxBranch>(_boxes);
        var assigned = new BoxBranch?[layout.Count];
        for (var i = 0; i < layout.Count && i < _boxes.Count; i++)
            if (_boxes[i].Source == layout[i].Source) { assigned[i] = _boxes[i]; reusable.Remove(_boxes[i]); }
        for (var i = 0; i < layout.Count; i++)
        {
            if (assigned[i] is not null) continue;
            var match = reusable.FirstOrDefault(b => b.Source == layout[i].Source);
            if (match is not null) { assigned[i] = match; reusable.Remove(match); }
        }
        foreach (var unused in reusable) unused.Dispose();
        for (var i = 0; i < layout.Count; i++)
            assigned[i] ??= new BoxBranch(_pipeline, Name, _nextBoxId++, layout[i].Source, inputs[layout[i].Source].VideoTee, Compositor);

        _boxes.Clear();
        _boxes.AddRange(assigned!);
        // Order by z, then by position in the list; zorder 0 belongs to the background.
        var order = Enumerable.Range(0, layout.Count).OrderBy(i => layout[i].Z).ThenBy(i => i).ToList();
        for (var rank = 0; rank < order.Count; rank++)
        {
            var i = order[rank];
            _boxes[i].Apply(layout[i], rank + 1, isLive(layout[i].Source));
        }

        ApplyAudio(bus, inputs);
        if (bus.Format.VideoBitrateKbps != Definition.Format.VideoBitrateKbps) SetVideoBitrate(bus.Format.VideoBitrateKbps);
        Definition = bus;
    }

    private void ApplyAudio(BusDefinition bus, IReadOnlyDictionary<string, InputBranch> inputs)
    {
        var heard = bus.HeardInputs().ToDictionary(a => a.Input, a => a.GainDb);
        foreach (var gone in _audio.Keys.Where(k => !heard.ContainsKey(k)).ToList())
        {
            _audio[gone].Dispose();
            _audio.Remove(gone);
        }
        foreach (var (input, gain) in heard)
        {
            if (!_audio.TryGetValue(input, out var branch))
                _audio[input] = branch = new AudioBranch(_pipeline, Name, input, inputs[input].AudioTee, AudioMixer);
            branch.SetGain(gain);
        }
    }

    /// <summary>Shows or hides the boxes of one input, e.g. when it drops or comes back.</summary>
    internal void SetInputLive(string input, bool live)
    {
        var layout = Definition.Layout;
        for (var i = 0; i < _boxes.Count; i++)
            if (_boxes[i].Source == input) _boxes[i].SetLive(layout[i], live);
    }

    internal bool Shows(string input) => _boxes.Any(b => b.Source == input) || _audio.ContainsKey(input);

    private void SetVideoBitrate(int kbps)
    {
        var encoder = _elements.FirstOrDefault(e => e.Name.StartsWith($"bus.{Name}.venc") && e.HasProperty("bitrate"));
        encoder?.Set("bitrate", kbps);
    }

    public void Dispose()
    {
        foreach (var b in _boxes) b.Dispose();
        foreach (var a in _audio.Values) a.Dispose();
        _boxes.Clear();
        _audio.Clear();
        _frameCounter.Dispose();
        foreach (var e in _elements) e.SetState(State.Null);
        foreach (var e in _elements) { _pipeline.Remove(e); }
        _backgroundPad.Dispose();
        foreach (var e in _elements) e.Dispose();
    }
}
