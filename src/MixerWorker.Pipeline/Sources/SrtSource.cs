using System.Globalization;
using Microsoft.Extensions.Logging;
using MixerWorker.Pipeline.Builders;
using MixerWorker.Pipeline.Interop;
using MixerWorker.Pipeline.Srt;

namespace MixerWorker.Pipeline.Sources;

/// <summary>
/// One SRT connection of an input: our own libsrt caller (<see cref="SrtCallerReader"/>) feeds
/// appsrc → tsdemux → parser → decoder, in a bin named "src.&lt;input&gt;.&lt;generation&gt;" so
/// errors on the shared bus can be traced back to it. It is thrown away when the connection fails and
/// a fresh one is built for the next attempt; the <see cref="InputBranch"/> it feeds stays.
/// </summary>
/// <remarks>
/// The engine reads SRT itself instead of through srtsrc because stopping a live srtsrc
/// (GStreamer 1.22.0) could hang for ever with its streaming thread inside libsrt. Here no GStreamer
/// thread ever enters libsrt: the reader is stopped first, with a bounded wait, and only then is the
/// bin set to NULL, which appsrc does at once.
/// </remarks>
internal sealed class SrtSource : IDisposable
{
    // Two seconds of an 8 Mb/s feed. Only a stalled decoder fills it; the oldest data is dropped
    // then, so the reader never blocks and the input comes back without a backlog.
    private const int AppSrcMaxBytes = 2 * 1024 * 1024;

    private readonly Graph _graph;
    private readonly InputBranch _tail;
    private readonly Element _bin, _appSrc;
    private readonly ConnectionSession _session;
    private readonly ILogger _log;
    private readonly SrtCallerReader _reader;
    private readonly Lock _lock = new();
    private readonly List<(Pad Ghost, Pad Entry)> _links = [];
    private readonly List<ProbeHandle> _probes = [];
    private readonly List<Element> _children = [];
    private readonly FeedContent _content = new();
    private bool _closing;
    private int _extra;
    private int _workingNoted;
    private long _lastSkipTick;
    private const long SkipEpisodeGapMs = 10_000;
    private AccessUnitWatch? _accessUnits;
    private readonly long _jitterNs;
    private long _latePictures;
    private long _bytesAtActivity;
    private readonly Action<ulong> _skipped;
    private Pad? _decoderSink;

    internal ElementName BinName { get; }
    /// <summary>How this connection's timestamps map onto the mixer's running time.</summary>
    internal InputTimeline Timeline { get; }
    /// <summary>Skips the decoder to the next keyframe when its pictures come out too late to be shown.</summary>
    internal DecoderCatchUp CatchUp { get; }

    /// <param name="skipped">Told the running time (the mixer's) of each picture the decoder skips to catch up, on the
    /// input's streaming thread, so the boxes showing the input count the frames they show without it.</param>
    internal SrtSource(Graph graph, InputBranch tail, SrtEndpoint endpoint, int generation, ConnectionSession session,
        TimeSpan jitter, Func<string, string> redact, ILogger log, Action<ulong> skipped)
    {
        _skipped = skipped;
        Timeline = new InputTimeline(jitter);
        _jitterNs = jitter.Ticks * 100;
        CatchUp = new DecoderCatchUp(jitter > DecoderCatchUp.Behind ? jitter : DecoderCatchUp.Behind);
        // Before anything is added to the pipeline, so a missing libsrt leaves nothing behind.
        SrtCallerReader.CheckLibrary();
        _graph = graph;
        _tail = tail;
        _session = session;
        _log = log;
        BinName = ElementName.Source(tail.Name, generation);
        _bin = Element.NewBin(BinName);
        var src = _appSrc = Element.Make("appsrc", BinName.Child("appsrc"));
        ConfigureAppSrc(src);
        var demux = Element.Make("tsdemux", BinName.Child("demux"));
        // tsdemux would declare 700 ms (the most a PTS may lead its PCR); the decoded buffers are
        // placed on the mixer's timeline after the decoder (InputTimeline), which absorbs whatever
        // lead the publisher muxed with, and the input declares its jitter allowance instead.
        demux.Set("latency", 0);
        // The publisher's PTS as they are, from one base for sound and picture: the arrival of the
        // first timestamped packet. In its default mode tsdemux instead follows the PCRs' arrival
        // with a running clock-skew estimate, which shakes every timestamp by a few milliseconds; a
        // 60 fps picture on a 30 fps bus then lands on one side of an output frame's edge or the
        // other from frame to frame. Drift between the publisher's clock and ours, the one thing
        // skew tracking is for, is corrected by InputTimeline.
        demux.Set("ignore-pcr", true);
        _children.AddRange([src, demux]);
        _bin.Add(src);
        _bin.Add(demux);
        src.Link(demux);
        graph.ConnectPadAdded(demux, OnDemuxPad);
        graph.Add(_bin);
        _bin.SyncStateWithParent();

        // The reader's thread keeps its own reference to appsrc and drops it when it ends, so a reader
        // that outlives Dispose's wait still pushes into a live (if stopped) object.
        var feed = Element.FromBorrowed(src.Handle);
        _reader = new SrtCallerReader(endpoint, "INGEST_SRT_PASSPHRASE", $"srt:{tail.Name}",
            data => feed.PushBuffer(data),
            (reason, nothingPublished) => _session.Fail($"input '{tail.Name}': {redact(reason)}", nothingPublished ? FailureKind.NothingPublished : FailureKind.Connection),
            feed.Dispose);
        // Connected but never a picture: say what came instead (nothing, no MPEG-TS, a codec we cannot decode).
        session.ExplainNotReady = waited => _content.Explain(tail.Name, _reader.IsConnected, _reader.BytesReceived, waited);
        session.ExplainSilence = ExplainSilence;
    }

    private static void ConfigureAppSrc(Element src)
    {
        src.Set("is-live", true);
        src.Set("format", "time");
        // Stamped on arrival. tsdemux then maps every PTS to the arrival time of the PCRs, corrected
        // for clock skew, which puts frames ahead of their arrival by the publisher's PTS-over-PCR
        // lead (0.7 s for ffmpeg's default muxing, ~0.1 s behind MediaMTX); InputTimeline takes
        // that lead out again.
        src.Set("do-timestamp", true);
        src.Set("stream-type", "stream");
        src.Set("caps", "video/mpegts,systemstream=true,packetsize=188");
        src.Set("max-bytes", AppSrcMaxBytes);
        src.Set("leaky-type", "downstream");
        src.Set("block", false);
    }

    // Decoder chains by MPEG-TS stream type. Runs on tsdemux's streaming thread: only builds and links.
    private static (string Kind, string[] Chain)? ChainFor(string? mediaType, string caps) => mediaType switch
    {
        "video/x-h264" => ("video", ["h264parse", "avdec_h264"]),
        "video/x-h265" => ("video", ["h265parse", "avdec_h265"]),
        "audio/mpeg" when caps.Contains("mpegversion=(int)1") => ("audio", ["mpegaudioparse", "mpg123audiodec"]),
        "audio/mpeg" => ("audio", ["aacparse", "avdec_aac"]),
        "audio/x-opus" => ("audio", ["opusdec"]),
        _ => null,
    };

    private void OnDemuxPad(Pad pad)
    {
        lock (_lock)
        {
            if (_closing) return;
            var mediaType = pad.QueryMediaType();
            var caps = pad.CurrentCaps() ?? "";
            var chain = ChainFor(mediaType, caps);
            _content.Track(mediaType, caps, chain is not null);
            var entry = chain?.Kind == "video" ? _tail.VideoEntry : chain?.Kind == "audio" ? _tail.AudioEntry : null;
            if (chain is null || entry is null || entry.IsLinked)
            {
                // Unsupported codecs and second tracks of a kind are drained, not left unlinked.
                Drain(pad);
                return;
            }
            var elements = chain.Value.Chain.Select(f => Element.Make(f, BinName.Child(f))).ToList();
            if (chain.Value.Kind == "video") ConfigureVideoDecoder(elements[^1]);
            foreach (var e in elements) { _bin.Add(e); _children.Add(e); }
            Element.LinkMany([.. elements]);
            if (mediaType == "video/x-h264" && !caps.Contains("alignment="))
                _accessUnits = new AccessUnitWatch(_graph, pad,
                    () => _log.LogInformation("input {Input}: its video keeps one picture to a PES; its parser hands each on without waiting for the next", _tail.Name),
                    () => _log.LogInformation("input {Input}: a picture of its video came split over PES (or two in one); its parser waits for each next picture from now on (a frame interval later)", _tail.Name));
            using (var first = elements[0].StaticPad("sink")) pad.Link(first);
            if (chain.Value.Kind == "video")
            {
                var decoderSink = _decoderSink = elements[^1].StaticPad("sink");
                _probes.Add(_graph.AddProbe(decoderSink, ProbeType.Buffer, info => OnCodedPicture(info, decoderSink)));
            }
            foreach (var e in elements) e.SyncStateWithParent();

            using var last = elements[^1].StaticPad("src");
            var ghost = Pad.Ghost(chain.Value.Kind, last);
            _bin.AddPad(ghost);
            var track = chain.Value.Kind == "video" ? InputTimeline.Track.Video : InputTimeline.Track.Audio;
            _probes.Add(_graph.AddProbe(ghost, ProbeType.Buffer | ProbeType.BufferList, info => OnBuffer(info, ghost, track)));
            _probes.Add(_graph.AddProbe(ghost, ProbeType.EventDownstream, OnEvent));
            ghost.Link(entry);
            _links.Add((ghost, Pad.FromBorrowed(entry.Handle)));
        }
    }

    // Frame threading would hold one frame per extra thread; slice threading adds no delay.
    private static void ConfigureVideoDecoder(Element decoder)
    {
        if (decoder.HasProperty("thread-type")) decoder.Set("thread-type", "slice");
    }

    private void Drain(Pad pad)
    {
        var sink = Element.Make("fakesink", BinName.Child($"drain{Interlocked.Increment(ref _extra)}"));
        sink.Set("sync", false);
        sink.Set("async", false);
        _bin.Add(sink);
        _children.Add(sink);
        using (var sinkPad = sink.StaticPad("sink")) pad.Link(sinkPad);
        sink.SyncStateWithParent();
    }

    // A coded picture about to be decoded. A skip to the next keyframe is the input working, not stalled. A skipped
    // picture is placed on the mixer's timeline as its decoded picture would have been (the decoder keeps the segment).
    private ProbeReturn OnCodedPicture(ProbeInfo info, Pad decoderSink)
    {
        if (CatchUp.Admit(keyframe: !info.IsDeltaUnit)) return ProbeReturn.Ok;
        NoteActivity();
        if (info.BufferRunningTime(decoderSink) is { } runningTime && Timeline.OffsetNs is { } offset && (long)runningTime + offset is var at and >= 0)
            _skipped((ulong)at);
        return ProbeReturn.Drop;
    }

    // Each decoded buffer is placed on the mixer's timeline before it leaves the bin: the offset is
    // set on this very pad, which then re-sends its segment ahead of the buffer.
    private ProbeReturn OnBuffer(ProbeInfo info, Pad ghost, InputTimeline.Track track)
    {
        NoteActivity();
        // The input works; a track it carries that cannot be decoded is said once per connection.
        if (Interlocked.Exchange(ref _workingNoted, 1) == 0)
            foreach (var lost in _content.Lost(_tail.Name)) _log.LogError("{Reason}", lost);
        if (info.BufferRunningTime(ghost) is not { } runningTime || _graph.Pipeline.RunningTimeNow() is not { } now) return ProbeReturn.Ok;
        var placement = Timeline.Place(track, runningTime, now);
        if (placement.Change is { } change) Report(change);
        if (!placement.Keep) return ProbeReturn.Drop;
        if (track == InputTimeline.Track.Video)
        {
            var late = (long)now - ((long)runningTime + placement.OffsetNs);
            if (late > _jitterNs) Interlocked.Increment(ref _latePictures);
            if (CatchUp.Decoded(runningTime, late)) ReportSkip(late);
        }
        if (ghost.OffsetNs != placement.OffsetNs) ghost.OffsetNs = placement.OffsetNs;
        return ProbeReturn.Ok;
    }

    private void Report(InputTimeline.Change change)
    {
        var ms = change.ByNs / 1e6;
        if (change.Kind == InputTimeline.ChangeKind.Jumped)
            _log.LogInformation("input {Input}: its timestamps jumped (publisher restart, loop or wrap); its timeline moved by {Ms:F0} ms", _tail.Name, ms);
        else
            _log.LogDebug("input {Input}: timeline {Kind} by {Ms:F1} ms", _tail.Name, change.Kind == InputTimeline.ChangeKind.Anchored ? "anchored" : "corrected", ms);
    }

    // Once per episode (no skip for a while before it): a machine short of CPU skips every second or so.
    private void ReportSkip(long lateNs)
    {
        var now = Environment.TickCount64;
        var last = Interlocked.Exchange(ref _lastSkipTick, now);
        if (last != 0 && now - last < SkipEpisodeGapMs) return;
        // What waits in front of the demuxer tells a decoder short of CPU (its feed piling up) from a feed that came late.
        _log.LogWarning("input {Input}: its decoder runs {Ms:F0} ms behind the live edge ({Waiting} bytes of its feed waiting before it): skipping to the next keyframe",
            _tail.Name, lateNs / 1e6, _appSrc.Get("current-level-bytes"));
    }

    // The feed's end must not reach the shared tees: it would end every bus showing this input.
    private ProbeReturn OnEvent(ProbeInfo info)
    {
        if (info.Event != EventType.Eos) return ProbeReturn.Ok;
        _session.Fail("the feed ended (publisher gone)");
        return ProbeReturn.Drop;
    }

    // The connection works; the bytes received so far, for ExplainSilence. A streaming thread.
    private void NoteActivity()
    {
        _session.Activity();
        Interlocked.Exchange(ref _bytesAtActivity, _reader.BytesReceived);
    }

    // What came while nothing left the decoder: bytes still arriving (a decoder or a demuxer that is held up or short of CPU)
    // or none (the feed or the network stopped), and what waits in front of the demuxer.
    private string ExplainSilence()
    {
        var (_, dropped) = _reader.PacketsLost;
        var received = (_reader.BytesReceived - Interlocked.Read(ref _bytesAtActivity)) / 1024.0;
        var waiting = long.Parse(_appSrc.Get("current-level-bytes") ?? "0", CultureInfo.InvariantCulture) / 1024.0;
        return string.Create(CultureInfo.InvariantCulture,
            $"{received:F1} kB received since its last decoded data, {waiting:F1} kB waiting before its demuxer, {dropped} SRT packets dropped too late so far");
    }

    /// <summary>What the connection lost or moved so far, for tests and benches.</summary>
    internal SourceCounters Counters()
    {
        var (lost, dropped) = _reader.PacketsLost;
        return new SourceCounters(lost, dropped, _appSrc.HasProperty("dropped") ? long.Parse(_appSrc.Get("dropped") ?? "0") : null, Timeline.Corrections, Timeline.MovedNs, Timeline.Jumps,
            Timeline.OffsetNs, CatchUp.Skips, CatchUp.Skipped, Interlocked.Read(ref _latePictures), Timeline.Settled);
    }

    /// <summary>Stops and removes the connection. Control thread only.</summary>
    public void Dispose()
    {
        lock (_lock) _closing = true;
        // The reader first: once it is gone nothing can be inside libsrt on our behalf, and setting
        // the bin to NULL only has appsrc's own streaming thread to stop.
        var started = Environment.TickCount64;
        if (!_reader.Stop(SrtCallerReader.StopWait))
            _log.LogWarning("input {Input}: the SRT reader did not stop within {Wait} ms; removing the connection without it",
                _tail.Name, (int)SrtCallerReader.StopWait.TotalMilliseconds);
        _bin.SetState(State.Null);
        foreach (var (ghost, entry) in _links)
        {
            ghost.Unlink(entry);
            ghost.Dispose();
            entry.Dispose();
        }
        foreach (var p in _probes) p.Dispose();
        _decoderSink?.Dispose();
        _accessUnits?.Dispose();
        _graph.Remove(_bin);
        foreach (var e in _children) e.Dispose();
        _bin.Dispose();
        StopTime = TimeSpan.FromMilliseconds(Environment.TickCount64 - started);
    }

    /// <summary>How long the last <see cref="Dispose"/> took, for tests and logs.</summary>
    internal TimeSpan StopTime { get; private set; }
}

/// <summary>
/// One input connection's counters: SRT packets found missing and given up on (<see cref="SrtCallerReader.PacketsLost"/>),
/// buffers its source threw away while its decoder stalled (GStreamer 1.24 on; null before), the timeline's corrections (and how far they moved it), jumps and its offset
/// (<see cref="InputTimeline"/>), the decoder's skips to a keyframe with the coded pictures they dropped (<see cref="DecoderCatchUp"/>), and the pictures
/// that left the decoder later than the input's jitter allowance; whether the timeline has settled after its anchor.
/// </summary>
internal sealed record SourceCounters(int SrtLost, int SrtDropped, long? SourceDropped, long Corrections, long MovedNs, long Jumps, long? OffsetNs, long DecoderSkips, long DecoderSkipped, long LatePictures, bool Settled);
