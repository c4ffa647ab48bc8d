using System.Buffers;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using MixerWorker.Pipeline.Interop;
using MixerWorker.Testbed.Stamps;

namespace MixerWorker.Testbed.Feeds;

/// <summary>
/// A test camera: a solid colour with its name on it and a sine tone of its own; in the bottom quarter
/// a moving block and a stamp of its frame number and capture time (<see cref="StampLayout"/>).
/// </summary>
public sealed record FeedSpec(string Input, uint Argb, double ToneHz)
{
    public int Width { get; init; } = 320;
    public int Height { get; init; } = 180;
    public int Fps { get; init; } = 30;
    public int VideoBitrateKbps { get; init; } = 400;
    /// <summary>videotestsrc pattern behind the stamp; anything but solid-color also scrolls (a busier picture to decode and scale, for benchmarks).</summary>
    public string Pattern { get; init; } = "solid-color";
    /// <summary>
    /// Looks like a camera to a person (the demo): a ball moving over the feed's colour, the name large
    /// in the middle and a running clock at the top; the stamp and its moving block stay at the bottom.
    /// </summary>
    public bool CameraLook { get; init; }
    /// <summary>Interlaced video (top field first) at <see cref="Fps"/> frames, 2x fields, like a 1080i camera.</summary>
    public bool Interlaced { get; init; }
    /// <summary>h264, h265, or mpeg4 (MPEG-4 Part 2, which MediaMTX carries but the engine does not decode).</summary>
    public string VideoCodec { get; init; } = "h264";
    /// <summary>aac, opus, mp2 or none.</summary>
    public string AudioCodec { get; init; } = "aac";
    /// <summary>Peak amplitude of the tone, 0–1 of full scale (0.3 is -10.5 dBFS peak, -13.5 dBFS RMS).</summary>
    public double ToneVolume { get; init; } = 0.3;
    /// <summary>1 publishes mono; the engine must spread it to both channels.</summary>
    public int AudioChannels { get; init; } = 2;
    /// <summary>E.g. 44100, which the engine must resample to 48 kHz (aac and mp2 take it; Opus does not).</summary>
    public int AudioRate { get; init; } = 48000;

    /// <summary>
    /// PTS minus PCR in the published TS. Null keeps what GStreamer's mpegtsmux writes
    /// (<see cref="TsRetimer.MpegTsMuxLead"/>, 125 ms); <see cref="FfmpegMuxDelay"/> is what ffmpeg's
    /// default muxing (and so most encoders and OBS) sends; zero is a muxer without delay.
    /// </summary>
    public TimeSpan? MuxDelay { get; init; }
    /// <summary>
    /// How the sound is packed into PES. mpegtsmux sends each AAC frame in a PES of its own at once; ffmpeg's mpegts
    /// muxer, which most encoders and OBS use, gathers up to 2930 bytes spanning less than half its mux delay, 8 frames
    /// (171 ms) a PES at the default 0.7 s, so its sound reaches the receiver up to that much later than its pictures.
    /// <see cref="SoundPacking.FfmpegDefault"/> packs it so (<see cref="TsSoundPacker"/>, half of <see cref="MuxDelay"/>,
    /// or of mpegtsmux's lead when that is null); AAC only.
    /// </summary>
    public SoundPacking SoundPacking { get; init; }
    /// <summary>Timestamps that jump once mid-stream, like a restarted publisher or a looped file.</summary>
    public TimestampJump? Jump { get; init; }
    /// <summary>Up to this much random delay before each picture's packets are sent (bursty network or
    /// encoder); order is kept. Zero sends at once.</summary>
    public TimeSpan SendJitter { get; init; }
    /// <summary>
    /// An audio-sync marker: once per this period the picture turns white above the stamp and a 1 kHz
    /// beep starts at that picture's timestamp (the sound is silent otherwise). Null: the plain tone.
    /// </summary>
    public TimeSpan? FlashEvery { get; init; }

    /// <summary>ffmpeg's mpegts muxer default (-muxdelay 0.7): PCR 0.7 s behind DTS (read from its output).</summary>
    public static readonly TimeSpan FfmpegMuxDelay = TimeSpan.FromMilliseconds(700);

    /// <summary>The tone's level as a meter shows it, in dBFS.</summary>
    public double TonePeakDb => 20 * Math.Log10(ToneVolume);
    public double ToneRmsDb => TonePeakDb - 10 * Math.Log10(2);

    public (byte R, byte G, byte B) Rgb => ((byte)(Argb >> 16), (byte)(Argb >> 8), (byte)Argb);

    /// <summary>Distinct, saturated colours that survive chroma subsampling and compression.</summary>
    public static readonly uint[] Palette = [0xFFE02020, 0xFF20C020, 0xFF2040E0, 0xFFE0E020, 0xFFE020E0, 0xFF20E0E0, 0xFFF0F0F0, 0xFF808080];

    public static FeedSpec Numbered(int index, string? name = null) =>
        new(name ?? $"cam-{(char)('a' + index)}", Palette[index % Palette.Length], 330 + 110 * index);
}

/// <summary>Publishes a <see cref="FeedSpec"/> over SRT the way a contributor publishes into MediaMTX.</summary>
public sealed class SyntheticFeed : IDisposable
{
    private readonly StandalonePipeline _p;
    private readonly List<IDisposable> _probes;
    private readonly TsRetimer? _retimer;

    public FeedSpec Spec { get; }

    private SyntheticFeed(FeedSpec spec, StandalonePipeline p, List<IDisposable> probes, TsRetimer? retimer) { Spec = spec; _p = p; _probes = probes; _retimer = retimer; }

    /// <summary>
    /// Makes PTS, DTS and PCR jump now, like a publisher restarting its encoder or looping a file.
    /// Only for feeds whose clocks are rewritten: started with a <see cref="FeedSpec.MuxDelay"/> or a <see cref="FeedSpec.Jump"/>.
    /// </summary>
    public void JumpTimestamps(TimeSpan by) =>
        (_retimer ?? throw new InvalidOperationException($"{Spec.Input}: give the feed a MuxDelay or a Jump to make its timestamps jump")).JumpNow(by);

    public bool Failed => _p.Failed;
    public IReadOnlyList<string> Errors => _p.Errors;

    private static readonly string[] BallMotions = ["wavy", "sweep", "hsweep"];

    public static SyntheticFeed Start(FeedSpec spec, string project, string host, int port, string? passphrase, string? token = null)
    {
        if (spec.SoundPacking != SoundPacking.FramePerPes && spec.AudioCodec != "aac")
            throw new NotSupportedException($"{spec.Input}: sound packing {spec.SoundPacking} is emulated for AAC only, not {spec.AudioCodec}");
        var p = new StandalonePipeline();
        var probes = new List<IDisposable>();
        try
        {
            var mux = AddEncoding(p, spec, probes, null);
            var sink = p.Add("srtsink", null, ("uri", $"srt://{host}:{port}"),
                ("streamid", $"publish:ingest/{project}/{spec.Input}{(token is null ? "" : $":token={token}")}"),
                ("latency", 80), ("auto-reconnect", false), ("wait-for-connection", false), ("sync", false));
            if (passphrase is not null) { sink.Set("passphrase", passphrase); sink.Set("pbkeylen", 16); }
            var retimer = spec.MuxDelay is not null || spec.Jump is not null ? new TsRetimer(spec.MuxDelay ?? TsRetimer.MpegTsMuxLead, spec.Jump) : null;
            var packer = spec.SoundPacking == SoundPacking.FfmpegDefault ? TsSoundPacker.LikeFfmpeg(spec.MuxDelay ?? TsRetimer.MpegTsMuxLead) : null;
            mux.Link(AddSending(p, spec, retimer, packer, sink, probes));
            p.Play();
            return new SyntheticFeed(spec, p, probes, retimer);
        }
        catch
        {
            p.Dispose();
            foreach (var h in probes) h.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Writes the first <paramref name="length"/> of the feed into an MPEG-TS file as fast as the CPU allows, for a
    /// publisher that sends it later by stream copy at almost no cost (bench/compare.sh's FEEDS=files): the pictures
    /// and their stamps are the live feed's, but a stamp's time is <paramref name="stampBaseMillis"/> plus the
    /// picture's PTS, not the moment it is sent (<see cref="StampBurner"/>). Muxed as mpegtsmux writes (125 ms
    /// PTS-PCR lead); the publisher sets its own.
    /// </summary>
    public static void WriteFile(FeedSpec spec, string path, TimeSpan length, long stampBaseMillis)
    {
        var p = new StandalonePipeline();
        var probes = new List<IDisposable>();
        try
        {
            AddEncoding(p, spec, probes, ((int)Math.Round(length.TotalSeconds * spec.Fps), stampBaseMillis)).Link(p.Add("filesink", null, ("location", path)));
            p.Play();
            while (!p.Failed) Thread.Sleep(50);
            if (p.Errors.FirstOrDefault(e => e != "end of stream") is { } error) throw new InvalidOperationException($"{spec.Input}: {error}");
        }
        finally
        {
            p.Dispose();
            foreach (var h in probes) h.Dispose();
        }
    }

    /// <summary>
    /// Sources, stamps, encoders and the muxer of <paramref name="spec"/>; returns the muxer. Live sources, or for
    /// a file (<paramref name="file"/>) that many frames as fast as they can be made, stamped by PTS.
    /// </summary>
    private static Element AddEncoding(StandalonePipeline p, FeedSpec spec, List<IDisposable> probes, (int Frames, long StampBaseMillis)? file)
    {
        var live = file is null;
        var video = spec.CameraLook
            // Each camera moves its ball its own way (wavy, sweep, hsweep), so they differ at a glance.
            ? p.Add("videotestsrc", null, ("is-live", live), ("pattern", "ball"), ("background-color", spec.Argb), ("foreground-color", 0xFFFFFFFFu),
                ("motion", BallMotions[spec.Input.Sum(c => c) % BallMotions.Length]))
            : p.Add("videotestsrc", null, ("is-live", live), ("pattern", spec.Pattern), ("foreground-color", spec.Argb));
        if (file is { } pictures) video.Set("num-buffers", (spec.Interlaced ? 2 : 1) * pictures.Frames);
        if (!spec.CameraLook && spec.Pattern != "solid-color") video.Set("horizontal-speed", 4);
        // Interlaced: pictures at the field rate woven two by two into interlaced frames.
        var caps = p.Add("capsfilter", null, ("caps", $"video/x-raw,format=I420,width={spec.Width},height={spec.Height},framerate={(spec.Interlaced ? 2 : 1) * spec.Fps}/1"));
        Element[] label = spec.CameraLook
            ?
            [
                p.Add("textoverlay", null, ("text", spec.Input), ("valignment", "center"), ("halignment", "center"),
                    ("font-desc", $"Sans Bold {Math.Max(10, spec.Height / 9)}"), ("shaded-background", true)),
                p.Add("clockoverlay", null, ("time-format", "%H:%M:%S"), ("valignment", "top"), ("halignment", "right"),
                    ("font-desc", $"Monospace Bold {Math.Max(8, spec.Height / 20)}"), ("shaded-background", true)),
            ]
            : [p.Add("textoverlay", null, ("text", spec.Input), ("valignment", "top"), ("halignment", "left"), ("font-desc", "Sans 8"))];
        Element[] weave = spec.Interlaced ? [p.Add("interlace", null, ("field-pattern", "1:1"), ("top-field-first", true))] : [];
        Element encoder, parser;
        if (spec.VideoCodec == "mpeg4")
        {
            encoder = p.Add("avenc_mpeg4", null, ("gop-size", spec.Fps), ("bitrate", 400_000));
            parser = p.Add("mpeg4videoparse");
        }
        else if (spec.VideoCodec == "h265")
        {
            encoder = p.Add("x265enc", null, ("tune", "zerolatency"), ("speed-preset", "ultrafast"), ("key-int-max", spec.Fps), ("bitrate", spec.VideoBitrateKbps));
            parser = p.Add("h265parse");
        }
        else
        {
            encoder = p.Add("x264enc", null, ("tune", "zerolatency"), ("speed-preset", "ultrafast"), ("key-int-max", spec.Fps), ("bitrate", spec.VideoBitrateKbps), ("interlaced", spec.Interlaced));
            parser = p.Add("h264parse");
        }
        var mux = p.Add("mpegtsmux", null, ("alignment", 7));
        p.AddChain([video, caps, .. label, .. weave, encoder, parser, mux]);
        var marker = spec.FlashEvery is { } every ? new FlashBeep(every, spec.Width, spec.Height, spec.Fps, spec.AudioRate, spec.AudioChannels) : null;
        using (var raw = caps.StaticPad("src"))
        {
            probes.Add(StampBurner.Attach(raw, spec.Width, spec.Height, spec.Fps, spec.Interlaced, file?.StampBaseMillis));
            if (marker is not null) probes.Add(Callbacks.AddProbe(raw, ProbeType.Buffer, marker.OnPicture));
        }
        if (spec.AudioCodec != "none")
        {
            var tone = p.Add("audiotestsrc", null, ("is-live", live), ("freq", spec.ToneHz.ToString(CultureInfo.InvariantCulture)), ("volume", spec.ToneVolume), ("samplesperbuffer", 960));
            if (file is { } sound) tone.Set("num-buffers", (int)Math.Ceiling((double)sound.Frames * spec.AudioRate / spec.Fps / 960));
            var aconv = p.Add("audioconvert");
            var format = marker is null ? "" : "format=S16LE,"; // the marker writes 16-bit samples
            var acaps = p.Add("capsfilter", null, ("caps", $"audio/x-raw,{format}rate={spec.AudioRate},channels={spec.AudioChannels}"));
            if (marker is not null)
                using (var rawSound = acaps.StaticPad("src")) probes.Add(Callbacks.AddProbe(rawSound, ProbeType.Buffer, marker.OnSound));
            Element[] aenc = spec.AudioCodec switch
            {
                "opus" => [p.Add("opusenc")],
                "mp2" => [p.Add("avenc_mp2")],
                _ => [p.Add("voaacenc"), p.Add("aacparse")], // mpegtsmux refuses voaacenc's output without the parser
            };
            p.AddChain([tone, aconv, acaps, .. aenc, mux]);
            if (aenc[0].FactoryName == "voaacenc")
                using (var parsed = aenc[^1].StaticPad("src"))
                    probes.Add(Callbacks.AddProbe(parsed, ProbeType.Buffer, info => AacDelay.Compensate(info, spec.AudioRate)));
        }
        return mux;
    }

    /// <summary>
    /// What lies between the muxer and the SRT sink: nothing for a plain feed; else an identity (it hands
    /// the muxer's buffer lists on one buffer at a time) whose probe rewrites the TS clocks and repacks the
    /// sound, and for jitter a queue whose thread holds each picture's packets back. Returns the element to link to.
    /// </summary>
    private static Element AddSending(StandalonePipeline p, FeedSpec spec, TsRetimer? retimer, TsSoundPacker? packer, Element sink, List<IDisposable> probes)
    {
        if (retimer is null && packer is null && spec.SendJitter <= TimeSpan.Zero) return sink;
        var split = p.Add("identity");
        if (retimer is not null || packer is not null)
        {
            var started = Stopwatch.StartNew();
            var packed = new ArrayBufferWriter<byte>();
            using var pad = split.StaticPad("src");
            probes.Add(Callbacks.AddProbe(pad, ProbeType.Buffer, info =>
            {
                if (retimer is not null) StampBurner.WithWritableData(info, span => retimer.Process(span, started.Elapsed));
                return packer is null ? ProbeReturn.Ok : Pack(info, packer, packed);
            }));
        }
        if (spec.SendJitter > TimeSpan.Zero)
        {
            var queue = p.Add("queue", null, ("max-size-buffers", 0u), ("max-size-bytes", 0u), ("max-size-time", 2_000_000_000UL));
            split.Link(queue);
            var jitter = new SendJitter(spec.SendJitter, spec.Fps);
            using var inPad = queue.StaticPad("sink");
            using var outPad = queue.StaticPad("src");
            probes.Add(Callbacks.AddProbe(inPad, ProbeType.Buffer, jitter.OnQueued));
            probes.Add(Callbacks.AddProbe(outPad, ProbeType.Buffer, jitter.OnLeaving));
            queue.Link(sink);
        }
        else split.Link(sink);
        return split;
    }

    // The buffer's packets as the packer lets them go: unchanged when it held and released nothing, dropped when it held all.
    private static ProbeReturn Pack(ProbeInfo info, TsSoundPacker packer, ArrayBufferWriter<byte> packed)
    {
        if (info.CopyBufferData() is not { } data) return ProbeReturn.Ok;
        packed.ResetWrittenCount();
        packer.Process(data, packed);
        if (packed.WrittenSpan.SequenceEqual(data)) return ProbeReturn.Ok;
        if (packed.WrittenCount == 0) return ProbeReturn.Drop;
        if (!info.ReplaceBufferBytes(packed.WrittenSpan)) throw new InvalidOperationException("the feed's repacked TS could not be written");
        return ProbeReturn.Ok;
    }

    /// <summary>
    /// Holds packets back by a random delay drawn once per frame interval (so a picture's packets move
    /// together, as in a burst), never reordering them.
    /// </summary>
    private sealed class SendJitter(TimeSpan max, int fps)
    {
        private readonly ConcurrentQueue<long> _queuedAt = new();
        private readonly Random _random = new(fps * 7919 + (int)max.TotalMilliseconds);
        private long _period = -1, _delayTicks, _lastRelease;

        public ProbeReturn OnQueued(ProbeInfo _)
        {
            _queuedAt.Enqueue(Stopwatch.GetTimestamp());
            return ProbeReturn.Ok;
        }

        public ProbeReturn OnLeaving(ProbeInfo _)
        {
            if (!_queuedAt.TryDequeue(out var queuedAt)) return ProbeReturn.Ok;
            var period = queuedAt * fps / Stopwatch.Frequency;
            if (period != _period)
            {
                _period = period;
                _delayTicks = (long)(_random.NextDouble() * max.TotalSeconds * Stopwatch.Frequency);
            }
            var release = Math.Max(queuedAt + _delayTicks, _lastRelease);
            _lastRelease = release;
            var wait = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), release);
            if (wait > TimeSpan.Zero) Thread.Sleep(wait);
            return ProbeReturn.Ok;
        }
    }

    /// <summary>
    /// voaacenc stamps each AAC frame with the time of its first input sample, but what a decoder makes of
    /// the stream starts with the encoder's delay: through avdec_aac (the engine's decoder, which does not
    /// trim it, like most) every sound comes out 1600 samples after its stamp, 33 ms at 48 kHz, measured
    /// with a click through voaacenc → mpegtsmux → tsdemux → avdec_aac. A publisher that gets lip sync
    /// right says so in its timestamps (ffmpeg gives its AAC encoder's first frame a negative PTS), so
    /// the feed stamps each frame that much earlier and leaves out the first frames, which would go
    /// below zero. Without this a flash-and-beep feed is 33 ms out of sync before any mixer touches it.
    /// </summary>
    internal static class AacDelay
    {
        internal const int Samples = 1600;

        internal static ProbeReturn Compensate(ProbeInfo info, int rate)
        {
            if (info.BufferPts is not { } pts) return ProbeReturn.Ok;
            var by = (ulong)(Samples * 1_000_000_000L / rate);
            if (pts < by) return ProbeReturn.Drop;
            var buffer = info.WritableBuffer();
            Abi.Write(buffer, Abi.BufferPtsOffset, pts - by);
            if (info.BufferDts is { } dts) Abi.Write(buffer, Abi.BufferDtsOffset, dts >= by ? dts - by : pts - by);
            return ProbeReturn.Ok;
        }
    }

    public void Dispose()
    {
        _p.Dispose();
        foreach (var h in _probes) h.Dispose();
    }
}
