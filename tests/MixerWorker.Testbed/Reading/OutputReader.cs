using System.Globalization;
using System.Runtime.InteropServices;
using MixerWorker.Pipeline.Interop;
using MixerWorker.Testbed.Audio;
using MixerWorker.Testbed.Stamps;

namespace MixerWorker.Testbed.Reading;

/// <summary>An RGB picture decoded from an output.</summary>
public sealed record RgbFrame(int Width, int Height, byte[] Pixels, DateTimeOffset At)
{
    /// <summary>Presentation time in the output stream, to order frames and count them.</summary>
    public ulong? Pts { get; init; }

    /// <summary>Mean colour of a (2r+1)² square around (x, y).</summary>
    public (byte R, byte G, byte B) ColorAt(int x, int y, int r = 3)
    {
        long sr = 0, sg = 0, sb = 0, n = 0;
        for (var yy = Math.Max(0, y - r); yy <= Math.Min(Height - 1, y + r); yy++)
            for (var xx = Math.Max(0, x - r); xx <= Math.Min(Width - 1, x + r); xx++)
            {
                var i = (yy * Width + xx) * 3;
                sr += Pixels[i]; sg += Pixels[i + 1]; sb += Pixels[i + 2]; n++;
            }
        return ((byte)(sr / n), (byte)(sg / n), (byte)(sb / n));
    }
}

/// <summary>What the reader saw of the H.264 stream, before decoding.</summary>
public sealed record StreamStats(
    string? VideoCaps, string? AudioCaps, int Frames, int Keyframes, int MaxKeyframeIntervalFrames,
    int ReorderedFrames, int DtsDiffers, double MaxFrameGapMs, TimeSpan? FirstFrameAfter, long Bytes);

/// <summary>
/// Reads a bus output back the way a viewer would (SRT caller through the stand-in), and checks it:
/// caps after the parser (profile, size, rate), keyframe spacing, reordering (B-frames), gaps
/// between frames, decoded pictures for colour sampling and decoded Opus audio (48 kHz stereo float)
/// for tone and level checks. Optionally records the TS to a file.
/// With stamp boxes it keeps no pictures: it reads the stamp of each box of every picture (frame
/// number and capture time burned in by a <see cref="Feeds.SyntheticFeed"/>) into <see cref="StampedFrames"/>,
/// with the picture's PTS and the wall-clock time its data left the parser (so decoding time is not counted).
/// Reconnects until disposed, since the output may not be published yet when it starts.
/// A <see cref="Recorder"/> only writes the TS and when each part of it arrived, which costs little beside a
/// measurement; <see cref="FromRecording"/> reads such a file afterwards as the reader would have read it live.
/// </summary>
public sealed class OutputReader : IDisposable
{
    private readonly string _host, _streamId;
    private readonly int _port;
    private readonly string? _passphrase, _recordPath, _readPath;
    private readonly bool _recordOnly;
    // Recording: when each buffer received arrived, by where it ends in the file. Reading a recording: the same, loaded.
    private readonly List<(long End, long ArrivalUs)> _chunks = [];
    private long _bytesSoFar;
    private Element? _recording;
    // Reading a recording: its pictures by PTS, for their arrivals.
    private Dictionary<ulong, RecordedPicture>? _pictures;
    private volatile bool _sourceEnded, _ended;
    private readonly IReadOnlyList<StampBox>? _stampBoxes;
    private readonly List<StampedFrame> _stamped = [];
    private readonly Queue<(ulong Pts, long ArrivalUs, long? FirstPacketUs)> _arrivals = new();
    private readonly PesArrivals _pes = new();
    private readonly Thread _thread;
    private readonly Lock _lock = new();
    private readonly DateTimeOffset _started = DateTimeOffset.UtcNow;
    private volatile bool _stop;
    private StreamState _s = new();
    private RgbFrame? _latest;
    private List<RgbFrame>? _recorded;
    private int _connections;
    private readonly List<string> _connectionEnds = [];

    private sealed class StreamState
    {
        public string? VideoCaps, AudioCaps;
        public int Frames, Keyframes, MaxGop, SinceKey = -1, Reordered, DtsDiffers;
        public ulong LastPts = ulong.MaxValue;
        public double MaxGapMs;
        public TimeSpan? First;
        public long Bytes;
    }

    public OutputReader(string host, int port, string streamId, string? passphrase, string? recordPath = null, IReadOnlyList<StampBox>? stampBoxes = null)
        : this(host, port, streamId, passphrase, recordPath, stampBoxes, false, null) { }

    private OutputReader(string host, int port, string streamId, string? passphrase, string? recordPath, IReadOnlyList<StampBox>? stampBoxes, bool recordOnly, string? readPath)
    {
        GstRuntime.Init();
        (_host, _port, _streamId, _passphrase, _recordPath, _stampBoxes, _recordOnly, _readPath) = (host, port, streamId, passphrase, recordPath, stampBoxes, recordOnly, readPath);
        if (recordPath is not null) File.Delete(recordPath);
        if (readPath is not null)
            foreach (var line in File.ReadLines(ArrivalsPath(readPath)))
                _chunks.Add(line.Split(' ') is [var end, var us] ? (long.Parse(end, CultureInfo.InvariantCulture), long.Parse(us, CultureInfo.InvariantCulture)) : throw new FormatException(line));
        _thread = new Thread(Run) { IsBackground = true, Name = $"reader:{streamId}" };
        _thread.Start();
    }

    /// <summary>
    /// Records the TS to <paramref name="path"/> (every connection appended) and, in <c>path.arrivals</c>, when each
    /// piece of it arrived; decodes nothing. The file is complete once the recorder is disposed.
    /// </summary>
    public static OutputReader Recorder(string host, int port, string streamId, string? passphrase, string path) =>
        new(host, port, streamId, passphrase, path, null, true, null);

    /// <summary>
    /// Reads a <see cref="Recorder"/>'s pictures through the same parser and decoder, with the recorded arrivals in place
    /// of the clock: a picture arrives when a live demuxer would have handed it on, and its first packet when it did
    /// (<see cref="RecordedPictures"/>, which takes the place of the demuxer). Pictures only.
    /// </summary>
    public static OutputReader FromRecording(string path, IReadOnlyList<StampBox> stampBoxes) =>
        new("", 0, Path.GetFileName(path), null, null, stampBoxes, false, path);

    private static string ArrivalsPath(string recording) => recording + ".arrivals";

    /// <summary>Waits until a <see cref="FromRecording"/> reader has read its whole file.</summary>
    public async Task WaitForEndAsync(TimeSpan timeout)
    {
        var deadline = DateTimeOffset.UtcNow + timeout;
        while (!_ended && !_stop)
        {
            if (DateTimeOffset.UtcNow > deadline) throw new TimeoutException($"{_streamId} not read within {timeout.TotalSeconds:F0} s (stats: {Stats})");
            await Task.Delay(50);
        }
    }

    /// <summary>Connections that received data (a reader refused before the publisher exists does not count).</summary>
    public int Connections => Volatile.Read(ref _connections);

    /// <summary>
    /// The connections that received data and why each that ended did (what the reader's pipeline reported),
    /// for a test that expects one connection to say what broke it.
    /// </summary>
    public string ConnectionReport
    {
        get { lock (_lock) return $"{_streamId}: {Connections} connection(s) with data; ended: {(_connectionEnds.Count == 0 ? "none" : string.Join(" | ", _connectionEnds))}"; }
    }

    public StreamStats Stats
    {
        get
        {
            lock (_lock) return new StreamStats(_s.VideoCaps, _s.AudioCaps, _s.Frames, _s.Keyframes, _s.MaxGop, _s.Reordered, _s.DtsDiffers, _s.MaxGapMs, _s.First, _s.Bytes);
        }
    }

    public RgbFrame? Latest { get { lock (_lock) return _latest; } }

    /// <summary>The decoded audio (Opus or AAC) as 48 kHz stereo float.</summary>
    public PcmRecorder Audio { get; } = new();

    /// <summary>Forgets counters (not caps), e.g. to measure only after a change.</summary>
    public void ResetCounters()
    {
        lock (_lock) _s = new StreamState { VideoCaps = _s.VideoCaps, AudioCaps = _s.AudioCaps, First = _s.First };
    }

    /// <summary>Keeps every decoded frame from now on (small outputs, short spans: they stay in memory).</summary>
    public void StartRecordingFrames()
    {
        lock (_lock) _recorded = [];
    }

    /// <summary>The frames kept since <see cref="StartRecordingFrames"/>, in decoding order.</summary>
    public IReadOnlyList<RgbFrame> RecordedFrames { get { lock (_lock) return _recorded is null ? [] : [.. _recorded]; } }

    /// <summary>The stamps read so far (stamp mode), in decoding order.</summary>
    public IReadOnlyList<StampedFrame> StampedFrames { get { lock (_lock) return [.. _stamped]; } }

    /// <summary>Where each sound and picture PES began to arrive (<see cref="Stamps.SoundAnalysis"/>), in arrival order.</summary>
    public IReadOnlyList<PesArrival> PesArrivals { get { lock (_lock) return _pes.Seen; } }

    /// <summary>TS packets that did not follow the previous one of their stream: lost on the way (all connections).</summary>
    public int TsDiscontinuities { get { lock (_lock) return _pes.Discontinuities; } }

    /// <summary>Forgets the stamps and PES arrivals seen so far, e.g. to measure only from now on.</summary>
    public void ClearStamps()
    {
        lock (_lock)
        {
            _stamped.Clear();
            _pes.Clear();
        }
    }

    /// <summary>Waits for a picture in which every box's stamp reads (the show is up and all inputs are on air).</summary>
    public async Task WaitForStampsAsync(TimeSpan timeout)
    {
        var deadline = DateTimeOffset.UtcNow + timeout;
        while (DateTimeOffset.UtcNow < deadline)
        {
            lock (_lock)
                if (_stamped.Count > 0 && _stamped[^1].Boxes.All(b => b is not null)) return;
            await Task.Delay(50);
        }
        throw new TimeoutException($"no picture with every stamp readable from {_streamId} within {timeout.TotalSeconds:F0} s (stats: {Stats})");
    }

    public async Task<RgbFrame> WaitForFrameAsync(TimeSpan timeout, Func<RgbFrame, bool>? until = null)
    {
        var deadline = DateTimeOffset.UtcNow + timeout;
        var since = DateTimeOffset.UtcNow;
        while (DateTimeOffset.UtcNow < deadline)
        {
            var f = Latest;
            if (f is not null && f.At > since && (until is null || until(f))) return f;
            await Task.Delay(50);
        }
        throw new TimeoutException($"no matching frame from {_streamId} within {timeout.TotalSeconds:F0} s (stats: {Stats})");
    }

    private void Run()
    {
        while (!_stop)
        {
            var probes = new List<IDisposable>();
            var connectionsBefore = Connections;
            using var p = Build(out var appsink, probes);
            try
            {
                p.Play();
                if (_recording is not null) PushRecording(_recording);
            }
            catch (InvalidOperationException) { }
            while (!_stop && !p.Failed && !_ended)
            {
                if (appsink is null) { Thread.Sleep(100); continue; }
                var sample = Native.gst_app_sink_try_pull_sample(appsink.Handle, 100_000_000);
                if (sample != 0) TakeFrame(sample);
                // A recording read to its end: the decoder has handed on its last picture.
                else if (_sourceEnded) _ended = true;
            }
            if (_readPath is not null && appsink is not null)
                for (var sample = Native.gst_app_sink_try_pull_sample(appsink.Handle, 0); sample != 0; sample = Native.gst_app_sink_try_pull_sample(appsink.Handle, 0)) TakeFrame(sample);
            if (Connections > connectionsBefore && !_stop)
                lock (_lock) _connectionEnds.Add($"{DateTime.UtcNow:HH:mm:ss.fff} {(p.Failed ? string.Join("; ", p.Errors) : "ended")}");
            p.Pipeline.SetState(State.Null);
            foreach (var h in probes) h.Dispose();
            appsink?.Dispose();
            if (_readPath is not null) { _ended = true; return; }
            if (!_stop) Thread.Sleep(200);
        }
    }

    private StandalonePipeline Build(out Element? appsink, List<IDisposable> probes)
    {
        var p = new StandalonePipeline();
        Element src;
        if (_readPath is not null)
        {
            // The pictures taken out of the recording, each stamped with the stream's PTS (no demuxer: see RecordedPictures).
            src = _recording = p.Add("appsrc", null, ("caps", "video/x-h264,stream-format=byte-stream"), ("format", "time"), ("max-bytes", 0UL));
            appsink = VideoChain(p, probes, null, out var parse);
            src.Link(parse);
            using var sinkPad = appsink.StaticPad("sink");
            probes.Add(Callbacks.AddProbe(sinkPad, ProbeType.EventDownstream, i =>
            {
                if (i.Event == EventType.Eos) _sourceEnded = true;
                return ProbeReturn.Ok;
            }));
            return p;
        }
        src = p.Add("srtsrc", null, ("uri", $"srt://{_host}:{_port}"), ("streamid", _streamId), ("latency", 80), ("auto-reconnect", false));
        if (_passphrase is not null) { src.Set("passphrase", _passphrase); src.Set("pbkeylen", 16); }
        if (_recordOnly)
        {
            appsink = null;
            src.Link(p.Add("filesink", null, ("location", _recordPath!), ("append", true), ("async", false), ("sync", false)));
            using var recorded = src.StaticPad("src");
            var connected = false;
            probes.Add(Callbacks.AddProbe(recorded, ProbeType.Buffer, i =>
            {
                if (i.Buffer == 0) return ProbeReturn.Ok;
                if (!connected) { connected = true; Interlocked.Increment(ref _connections); }
                var size = (long)Native.gst_buffer_get_size(i.Buffer);
                lock (_lock)
                {
                    _s.Bytes += size;
                    _bytesSoFar += size;
                    _chunks.Add((_bytesSoFar, StampClock.UnixMicros()));
                }
                return ProbeReturn.Ok;
            }));
            return p;
        }
        // ignore-pcr: report the stream's own PTS/DTS, not arrival-smoothed times, so gaps and
        // reordering measured here are the publisher's.
        var demux = p.Add("tsdemux", null, ("latency", 0), ("ignore-pcr", true));
        if (_recordPath is not null)
        {
            var tee = p.Add("tee");
            var q1 = p.Add("queue");
            // One file for the whole run: every reconnection appends (MPEG-TS concatenates cleanly).
            var file = p.Add("filesink", null, ("location", _recordPath), ("append", true), ("async", false), ("sync", false));
            var q2 = p.Add("queue");
            p.AddChain(src, tee, q1, file);
            p.AddChain(tee, q2, demux);
        }
        else src.Link(demux);
        var receiving = false;
        // Only where the demuxer runs on the source's thread (no recording queue between them): every piece is then
        // noted before the demuxer hands on what it completes.
        var firstPackets = _stampBoxes is null || _recordPath is not null ? null : new FirstPackets();
        using (var srcPad = src.StaticPad("src"))
            probes.Add(Callbacks.AddProbe(srcPad, ProbeType.Buffer, i =>
            {
                if (!receiving) { receiving = true; Interlocked.Increment(ref _connections); }
                if (i.Buffer != 0) lock (_lock) _s.Bytes += (long)Native.gst_buffer_get_size(i.Buffer);
                if (i.Buffer != 0) NotePackets(i.Buffer, firstPackets);
                return ProbeReturn.Ok;
            }));
        appsink = VideoChain(p, probes, firstPackets, out var videoIn);
        var opusparse = p.Add("opusparse");
        var aacparse = p.Add("aacparse");
        // AAC is decoded as the engine decodes it (avdec_aac), so a feed's sound can be read as the engine hears it.
        Element[] decoders = [p.Add("opusdec"), p.Add("avdec_aac")];
        p.AddChain(opusparse, DecoderQueue(p), decoders[0]);
        p.AddChain(aacparse, DecoderQueue(p), decoders[1]);
        foreach (var decoder in decoders)
        {
            var aconv = p.Add("audioconvert");
            var resample = p.Add("audioresample");
            var pcm = p.Add("capsfilter", null, ("caps", "audio/x-raw,format=F32LE,rate=48000,channels=2,layout=interleaved"));
            var asink = p.Add("fakesink", null, ("sync", false), ("async", false));
            p.AddChain(decoder, aconv, resample, pcm, asink);
            using var pcmSrc = pcm.StaticPad("src");
            probes.Add(Audio.Attach(pcmSrc));
        }
        Callbacks.ConnectPadAdded(demux, pad =>
        {
            var type = pad.QueryMediaType();
            var caps = type == "audio/mpeg" ? pad.CurrentCaps() : null;
            if (caps is not null) lock (_lock) _s.AudioCaps = caps;
            // audio/mpeg with mpegversion 2 or 4 is AAC; MPEG-1 layer 2 is only identified.
            var aac = caps is not null && !caps.Contains("mpegversion=(int)1", StringComparison.Ordinal);
            var target = type switch { "video/x-h264" => videoIn, "audio/x-opus" => opusparse, "audio/mpeg" when aac => aacparse, _ => null };
            if (target is null) return;
            using var sinkPad = target.StaticPad("sink");
            pad.Link(sinkPad);
        });
        var audioParsed = opusparse.StaticPad("src");
        probes.Add(audioParsed);
        probes.Add(Callbacks.AddProbe(audioParsed, ProbeType.Buffer, _ =>
        {
            lock (_lock) _s.AudioCaps ??= audioParsed.CurrentCaps();
            return ProbeReturn.Ok;
        }));
        return p;
    }

    // Decoders run on threads of their own: on the thread that takes packets in (with the demuxer and parsers, which the
    // arrival times are read on) a busy machine's decoding held up the next packets, so their arrival read 10-20 ms late.
    private static Element DecoderQueue(StandalonePipeline p) => p.Add("queue");

    /// <summary>Parser, decoder and the appsink the pictures are taken from; <paramref name="parse"/> takes the H.264.</summary>
    private Element VideoChain(StandalonePipeline p, List<IDisposable> probes, FirstPackets? firstPackets, out Element parse)
    {
        parse = p.Add("h264parse");
        var decoding = DecoderQueue(p);
        var dec = p.Add("avdec_h264");
        var conv = p.Add("videoconvert");
        var caps = p.Add("capsfilter", null, ("caps", _stampBoxes is null ? "video/x-raw,format=RGB" : "video/x-raw,format=I420"));
        // A recording is read at the decoder's pace, dropping nothing.
        var appsink = Element.FromBorrowed(p.Add("appsink", null, ("max-buffers", 32), ("drop", _readPath is null), ("sync", false)).Handle);
        p.AddChain(parse, decoding, dec, conv, caps, appsink);
        if (firstPackets is not null)
        {
            using var demuxed = parse.StaticPad("sink");
            probes.Add(Callbacks.AddProbe(demuxed, ProbeType.Buffer, i =>
            {
                if (i.Buffer != 0) firstPackets.Handed(i.BufferPts, (long)Native.gst_buffer_get_size(i.Buffer));
                return ProbeReturn.Ok;
            }));
        }
        var parsed = parse.StaticPad("src");
        probes.Add(parsed);
        probes.Add(Callbacks.AddProbe(parsed, ProbeType.Buffer, i => OnParsedVideo(i, parsed, firstPackets)));
        return appsink;
    }

    private ProbeReturn OnParsedVideo(ProbeInfo info, Pad pad, FirstPackets? firstPackets)
    {
        lock (_lock)
        {
            var s = _s;
            s.VideoCaps ??= pad.CurrentCaps();
            s.Frames++;
            s.First ??= DateTimeOffset.UtcNow - _started;
            if (info.BufferPts is { } pts)
            {
                if (_stampBoxes is not null && _pictures is null)
                {
                    _arrivals.Enqueue((pts, StampClock.UnixMicros(), firstPackets?.Of(pts)));
                    while (_arrivals.Count > 64) _arrivals.Dequeue();
                }
                if (info.BufferDts is { } dts && dts != pts) s.DtsDiffers++;
                if (s.LastPts != ulong.MaxValue)
                {
                    if (pts < s.LastPts) s.Reordered++;
                    else s.MaxGapMs = Math.Max(s.MaxGapMs, (pts - s.LastPts) / 1e6);
                }
                s.LastPts = pts;
            }
            if (!info.IsDeltaUnit)
            {
                if (s.SinceKey >= 0) s.MaxGop = Math.Max(s.MaxGop, s.SinceKey + 1);
                s.Keyframes++;
                s.SinceKey = 0;
            }
            else if (s.SinceKey >= 0) s.SinceKey++;
        }
        return ProbeReturn.Ok;
    }

    private unsafe void NotePackets(nint buffer, FirstPackets? firstPackets)
    {
        var arrival = StampClock.UnixMicros();
        var map = stackalloc byte[Abi.MapInfoSize];
        if (!Native.gst_buffer_map(buffer, (nint)map, Abi.MapRead)) return;
        try
        {
            var size = (int)Abi.Read<nuint>((nint)map, Abi.MapInfoSizeOffset);
            var ts = new ReadOnlySpan<byte>((void*)Abi.Read<nint>((nint)map, Abi.MapInfoDataOffset), size);
            firstPackets?.Note(ts, arrival);
            lock (_lock) _pes.Note(ts, arrival);
        }
        finally { Native.gst_buffer_unmap(buffer, (nint)map); }
    }

    private unsafe void TakeFrame(nint sample)
    {
        try
        {
            var caps = NativeString.Owned(Native.gst_caps_to_string(Native.gst_sample_get_caps(sample))) ?? "";
            var width = CapsInt(caps, "width");
            var height = CapsInt(caps, "height");
            var buffer = Native.gst_sample_get_buffer(sample);
            if (_stampBoxes is not null)
            {
                TakeStamps(buffer, width, height);
                return;
            }
            var map = stackalloc byte[Abi.MapInfoSize];
            if (!Native.gst_buffer_map(buffer, (nint)map, Abi.MapRead)) return;
            try
            {
                var data = Abi.Read<nint>((nint)map, Abi.MapInfoDataOffset);
                var stride = (width * 3 + 3) & ~3;
                var pixels = new byte[width * height * 3];
                for (var y = 0; y < height; y++) Marshal.Copy(data + y * stride, pixels, y * width * 3, width * 3);
                var pts = Abi.Read<ulong>(buffer, Abi.BufferPtsOffset);
                var frame = new RgbFrame(width, height, pixels, DateTimeOffset.UtcNow) { Pts = pts == Abi.ClockTimeNone ? null : pts };
                lock (_lock)
                {
                    _latest = frame;
                    _recorded?.Add(frame);
                }
            }
            finally { Native.gst_buffer_unmap(buffer, (nint)map); }
        }
        finally { Native.gst_mini_object_unref(sample); }
    }

    private void TakeStamps(nint buffer, int width, int height)
    {
        if (StampBurner.ReadBoxes(buffer, width, height, _stampBoxes!) is not { } boxes) return;
        var raw = Abi.Read<ulong>(buffer, Abi.BufferPtsOffset);
        ulong? pts = raw == Abi.ClockTimeNone ? null : raw;
        lock (_lock)
        {
            if (_pictures is not null)
            {
                // The decoder keeps the PTS each picture was pushed with; one it made up reads with the nearest picture.
                var picture = pts is { } t && _pictures.TryGetValue(t, out var exact) ? exact : _pictures.Values.MinBy(p => Math.Abs((double)p.PtsNs - (pts ?? 0)));
                _stamped.Add(new StampedFrame(pts, picture!.HandedOnUs, boxes, picture.FirstPacketUs));
                return;
            }
            var arrival = StampClock.UnixMicros();
            long? firstPacket = null;
            foreach (var a in _arrivals)
                if (a.Pts == pts) { (arrival, firstPacket) = (a.ArrivalUs, a.FirstPacketUs); break; }
            _stamped.Add(new StampedFrame(pts, arrival, boxes, firstPacket));
        }
    }

    internal static int CapsInt(string caps, string field)
    {
        var key = $"{field}=(int)";
        var i = caps.IndexOf(key, StringComparison.Ordinal);
        if (i < 0) return 0;
        var j = i + key.Length;
        var end = j;
        while (end < caps.Length && char.IsDigit(caps[end])) end++;
        return int.Parse(caps.AsSpan(j, end - j));
    }

    /// <summary>Queues the recording's pictures (appsrc keeps them all), each with its PTS, then its end.</summary>
    private void PushRecording(Element src)
    {
        var data = File.ReadAllBytes(_readPath!);
        List<RecordedPicture> pictures;
        lock (_lock)
        {
            pictures = RecordedPictures.Read(data, _chunks, _pes);
            // Where connections were appended the same PTS could come twice: the first keeps its arrival.
            _pictures = [];
            foreach (var picture in pictures) _pictures.TryAdd(picture.PtsNs, picture);
            _s.Bytes = _chunks.Count > 0 ? _chunks[^1].End : 0;
        }
        if (pictures.Count > 0) Interlocked.Increment(ref _connections);
        foreach (var picture in pictures) src.PushBuffer(picture.H264, picture.PtsNs);
        src.EndOfStream();
    }

    public void Dispose()
    {
        _stop = true;
        _thread.Join();
        if (_recordOnly)
            lock (_lock) File.WriteAllLines(ArrivalsPath(_recordPath!), _chunks.Select(c => string.Create(CultureInfo.InvariantCulture, $"{c.End} {c.ArrivalUs}")));
    }
}
