using MixerWorker.Pipeline.Builders;
using MixerWorker.Pipeline.Interop;
using MixerWorker.Pipeline.Srt;

namespace MixerWorker.Pipeline.Sinks;

/// <summary>
/// One SRT publish connection of a bus: mux tee → leaky queue → srtsink, in a bin named
/// "out.&lt;bus&gt;.&lt;generation&gt;". Rebuilt only when the connection fails; layout and source
/// changes never touch it, because MediaMTX drops every viewer when a publisher reconnects.
/// </summary>
internal sealed class SrtOutput : IDisposable
{
    private readonly Graph _graph;
    private readonly Element _bin, _queue, _sink;
    private readonly Pad _binSink;
    private Element? _muxTee;
    private Pad? _teePad;
    private readonly ProbeHandle _flow, _failed;
    private readonly Pad _queueSrc;

    // A keyframe of a low-bitrate bus can be larger than its second of bitrate.
    private const long MinQueuedBytes = 64 * 1024;

    internal ElementName BinName { get; }

    /// <param name="bytesPerSecond">The bus's configured bitrate (sound and picture), which sizes the queue.</param>
    /// <param name="sent">Counts the bytes handed to SRT.</param>
    /// <param name="leaving">What is told which pictures leave the bus, and when (where issue 9 bounds their
    /// lateness): the current bus's, which changes when the bus is rebuilt behind the connection.</param>
    internal SrtOutput(Graph graph, Element muxTee, string bus, SrtEndpoint endpoint, long bytesPerSecond, int generation, ConnectionSession session, Action<long> sent,
        Func<OutputLateness> leaving)
    {
        _graph = graph;
        BinName = ElementName.Output(bus, generation);
        _bin = Element.NewBin(BinName);
        // About a second of TS may queue while the network stalls; past that the oldest is dropped,
        // never the encoder blocked. Bounded by bytes, not time: with a shedding bus's gaps at the muxer
        // (BusBranch.OnToMux), a time bound dropped TS under starvation (lost packets; the queue's time
        // level follows the TS buffers' timestamps), a byte bound did not (bench/results/*-sound-gap-*).
        _queue = ElementFactory.LeakyQueue(BinName.Child("queue"), maxBuffers: 0, maxBytes: Math.Max(MinQueuedBytes, bytesPerSecond));
        _sink = Element.Make("srtsink", BinName.Child("srtsink"));
        SrtElements.ConfigureCaller(_sink, endpoint);
        // Waiting (bounded by poll-timeout, and broken off by the hub's refusal) holds the first
        // buffer in the sink until the handshake is done; the leaky queue above keeps the encoder
        // running meanwhile. Not waiting would drop buffers while connecting, and a buffer passing
        // the sink would say nothing about the connection.
        _sink.Set("wait-for-connection", true);
        // The compositor already paces output on the clock; syncing again would only add latency.
        _sink.Set("sync", false);
        _sink.Set("async", false);
        ElementFactory.AddChain(_bin, [_queue, _sink]);
        using (var qSink = _queue.StaticPad("sink"))
        {
            _binSink = Pad.Ghost("sink", qSink);
            // Once srtsink has failed, the muxer's tee would hand the error up to the muxer, the encoder
            // and the compositor, stopping the whole bus until it is rebuilt (and a card or box torn
            // down meanwhile would wait on it for ever). A failed connection takes nothing more; the
            // supervisor replaces it.
            _queueSrc = _queue.StaticPad("src");
            _failed = ElementFactory.DropOnceRefused(graph, qSink, _queueSrc, () => session.HasEnded);
        }
        _bin.AddPad(_binSink);
        using (var sinkPad = _sink.StaticPad("sink"))
        {
            var buffers = 0;
            _flow = graph.AddProbe(sinkPad, ProbeType.Buffer | ProbeType.BufferList, info =>
            {
                // The sink takes the next buffer only once it has sent the one before, so from the
                // second buffer on the hub has accepted the connection (a refused passphrase never gets here).
                if (++buffers > 1) session.Activity();
                sent(info.DataSize);
                if (graph.Pipeline.RunningTimeNow() is { } now) info.ReadBytes(ts => leaving().Leaving(ts, now));
                return ProbeReturn.Ok;
            });
        }
        graph.Add(_bin);
        _bin.SyncStateWithParent();
        Attach(muxTee);
    }

    /// <summary>Feeds the connection from <paramref name="muxTee"/> (a bus's muxer, new or rebuilt). Control thread.</summary>
    internal void Attach(Element muxTee)
    {
        _muxTee = muxTee;
        _teePad = muxTee.RequestPad("src_%u");
        _teePad.Link(_binSink);
        // A new connection, or a new encoder behind it, must start on a keyframe with SPS/PPS, or readers wait a whole GOP.
        _teePad.RequestKeyFrame();
    }

    /// <summary>Unhooks the connection from its bus's muxer while the bus is rebuilt; the SRT connection stays up. Control thread.</summary>
    internal void Detach()
    {
        if (_teePad is null || _muxTee is null) return;
        _teePad.Unlink(_binSink);
        _muxTee.ReleaseRequestPad(_teePad);
        _teePad.Dispose();
        (_teePad, _muxTee) = (null, null);
    }

    /// <summary>Asks the encoder for a keyframe with SPS/PPS (control thread); nothing while detached for a rebuild.</summary>
    internal void RequestKeyFrame() => _teePad?.RequestKeyFrame();

    public void Dispose()
    {
        Detach();
        _flow.Dispose();
        _failed.Dispose();
        _bin.SetState(State.Null);
        _graph.Remove(_bin);
        foreach (var d in new IDisposable[] { _binSink, _queueSrc, _queue, _sink, _bin }) d.Dispose();
    }
}
