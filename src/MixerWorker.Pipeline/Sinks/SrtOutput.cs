using MixerWorker.Pipeline.Builders;
using MixerWorker.Pipeline.Interop;
using MixerWorker.Pipeline.Srt;

namespace MixerWorker.Pipeline.Sinks;

/// <summary>
/// One SRT publish connection of a bus: mux tee → srtsink, in a bin named
/// "out.&lt;bus&gt;.&lt;generation&gt;". Rebuilt only when the connection fails; layout and source
/// changes never touch it, because MediaMTX drops every viewer when a publisher reconnects.
/// </summary>
internal sealed class SrtOutput : IDisposable
{
    private readonly Graph _graph;
    private readonly Element _bin, _sink;
    private readonly Pad _binSink;
    private Element? _muxTee;
    private Pad? _teePad;
    private readonly ProbeHandle _flow, _headers;
    private readonly Action _requestKeyFrame;
    // The muxer's PAT and PMT (muxer's streaming thread only, until the probes are gone).
    private KeptBuffers? _tables;

    internal ElementName BinName { get; }

    /// <param name="started">Told once, on the muxer's thread, when the connection's stream starts (its first keyframe goes out).</param>
    /// <param name="sent">Counts the bytes handed to SRT.</param>
    /// <param name="leaving">What is told which pictures leave the bus, and when (where issue 9 bounds their
    /// lateness): the current bus's, which changes when the bus is rebuilt behind the connection.</param>
    /// <param name="requestKeyFrame">Asks the current bus's encoder for a keyframe (<see cref="BusBranch.RequestKeyFrame"/>).</param>
    internal SrtOutput(Graph graph, Element muxTee, string bus, SrtEndpoint endpoint, int generation, ConnectionSession session, Action started,
        Action<long> sent, Func<OutputLateness> leaving, Action requestKeyFrame)
    {
        _graph = graph;
        _requestKeyFrame = requestKeyFrame;
        BinName = ElementName.Output(bus, generation);
        _bin = Element.NewBin(BinName);
        _sink = Element.Make("srtsink", BinName.Child("srtsink"));
        SrtElements.ConfigureCaller(_sink, endpoint);
        // Not waiting: while the handshake runs (ms against a hub that answers, libsrt's 3 s connect timeout
        // against one that does not) srtsink drops what it is given at once (gstsrtobject.c, write_one),
        // so the muxer's thread, and the compositor behind it, never wait for a connection. A failed
        // handshake still comes back as an error from the first buffer it is given after it.
        // Where srtsink waits for the handshake all the same (SrtElements.WriteWaitsForHandshake), it is
        // given nothing until the handshake is done or certainly over (the flow probe below).
        _sink.Set("wait-for-connection", false);
        // The compositor already paces output on the clock; syncing again would only add latency.
        _sink.Set("sync", false);
        _sink.Set("async", false);
        // No queue: the muxer's thread sends. Starved of CPU (a quota per period), a queue's thread
        // waited for the next period before each send, on top of every thread before it. A connected
        // peer that stops reading holds nothing: a live-mode sender drops what is too late.
        _bin.Add(_sink);
        using (var sinkPad = _sink.StaticPad("sink")) _binSink = Pad.Ghost("sink", sinkPad);
        // Once srtsink has failed, the muxer's tee would hand the error up to the muxer, the encoder
        // and the compositor, stopping the whole bus until it is rebuilt (and a card or box torn
        // down meanwhile would wait on it for ever). A failed connection takes nothing more: its bin's
        // pad answers OK and drops from then on; the supervisor replaces it.
        graph.StopRefusals(_binSink, () => session.HasEnded);
        _bin.AddPad(_binSink);
        using (var sinkPad = _sink.StaticPad("sink"))
        {
            // The muxer's first PAT and PMT, which its caps carry as stream headers, are kept here
            // instead of in srtsink: srtsink's first render waits one poll-timeout per stream header
            // for the socket (2 × 100 ms on the muxer's thread while connecting) and then counts them
            // sent whether they went or not. Here they lead the first keyframe that goes out.
            _headers = graph.AddProbe(sinkPad, ProbeType.EventDownstream, info =>
            {
                if (info.TakeStreamHeaders() is { } tables)
                {
                    _tables?.Dispose();
                    _tables = tables;
                }
                return ProbeReturn.Ok;
            });
            var connected = false;
            var sending = false;
            var handshakeOverAt = SrtElements.WriteWaitsForHandshake ? Environment.TickCount64 + (long)SrtElements.HandshakeOver.TotalMilliseconds : 0;
            ProbeReturn KeyframeOnly(ProbeInfo info) => info.StartAtKeyframe(_tables) ? ProbeReturn.Ok : ProbeReturn.Drop;
            _flow = graph.AddProbe(sinkPad, ProbeType.Buffer | ProbeType.BufferList, info =>
            {
                if (!sending)
                {
                    // Until a keyframe has gone to srtsink connected, it gets only keyframes, from the
                    // muxer's mark on, each led by the tables: whatever it sends first, the hub's readers
                    // (a viewer, a recording) decode from their first packet, at every new connection.
                    // While connecting, srtsink drops them, or reports a failed handshake (at most a GOP later).
                    // Each read of srtsink's stats while it connects costs a structure (and a GStreamer
                    // warning at GST_DEBUG=2): one a buffer, only until the handshake is done.
                    if (!connected)
                    {
                        if (!(connected = SrtElements.IsConnected(_sink)))
                            return Environment.TickCount64 < handshakeOverAt ? ProbeReturn.Drop : KeyframeOnly(info);
                        // Accepted: the supervisor reports it, and asks for a keyframe not to wait for the next one.
                        session.Activity();
                    }
                    // Connected, srtsink sends what it is given: the first keyframe let through starts the
                    // connection's stream, and all that follows goes with it. srtsink's byte count is no sign
                    // here: libsrt counts a packet when its sender thread puts it on the wire, so a buffer
                    // right behind the keyframe could still read 0 and be dropped from the middle of the GOP.
                    if (KeyframeOnly(info) == ProbeReturn.Drop) return ProbeReturn.Drop;
                    sending = true;
                    started();
                }
                session.Activity();
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
        _requestKeyFrame();
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
    internal void RequestKeyFrame()
    {
        if (_teePad is not null) _requestKeyFrame();
    }

    public void Dispose()
    {
        Detach();
        _flow.Dispose();
        _headers.Dispose();
        _bin.SetState(State.Null);
        _graph.Remove(_bin);
        foreach (var d in new IDisposable[] { _binSink, _sink, _bin }) d.Dispose();
        _tables?.Dispose();
    }
}
