using MixerWorker.Pipeline.Interop;
using MixerWorker.Pipeline.Scene;

namespace MixerWorker.Pipeline.Builders;

/// <summary>
/// A bus's way in for its sound: a branch of a mix chain's tee (<see cref="BusAudio"/>, maybe shared
/// with other buses) → a small leaky queue → the bus's muxer. The queue is the bus's own, so a muxer
/// that holds its sound (waiting for pictures) never holds the chain, and every other bus on it, back.
/// Moving to another chain is seamless: chains run on the same clock, so the bus switches once the
/// new one has sound coming out, and until then hears the old one (<see cref="Hear"/>).
/// </summary>
internal sealed class SoundFeed : IDisposable
{
    private readonly Graph _graph;
    private readonly Element _queue;
    private readonly Pad _queueSink;
    private readonly ProbeHandle _failed, _caps;
    private readonly Pad? _muxAudio;
    private readonly Action<LevelReading> _meter;
    private Pad? _teePad;

    /// <summary>The chain the bus hears now.</summary>
    internal BusAudio? Current { get; private set; }
    /// <summary>The chain the bus is to hear: <see cref="Current"/>, or one it moves to once that one has sound.</summary>
    internal BusAudio? Target { get; private set; }
    /// <summary>The queue's output into the muxer, where the bus's own checks on its sound sit.</summary>
    internal Pad Output { get; }
    internal Element Queue => _queue;
    /// <summary>
    /// Whether the bus hears its chain alone, so its director may set the chain's gains per frame
    /// (a crossfade, the end of a cut); a shared chain keeps the gains its buses' definitions give it.
    /// </summary>
    internal volatile bool Alone;

    /// <param name="meter">Gets the level of the sound the bus hears (<see cref="BusAudio.Listen"/>).</param>
    internal SoundFeed(Graph graph, ElementName bus, int fps, Element mux, Action<LevelReading> meter)
    {
        _graph = graph;
        _meter = meter;
        // Room for the longest the muxer holds the sound while the bus sheds (its latency), and some;
        // only a muxer stuck for longer loses the oldest sound here.
        var room = LatenessGuard.LongestGap(fps) + TimeSpan.FromMilliseconds(500);
        _queue = ElementFactory.LeakyQueue(bus.Child("asoundq"), maxBuffers: 0, maxTimeNs: (ulong)room.Ticks * 100);
        graph.Add(_queue);
        _queue.Link(mux);
        _queueSink = _queue.StaticPad("sink");
        Output = _queue.StaticPad("src");
        // Once the muxer has refused the sound (stopped, failed), the chain's tee would stop, and every
        // bus sharing the chain would lose its sound with this one.
        _failed = ElementFactory.DropOnceRefused(graph, _queueSink, Output);
        // Every chain the bus may hear makes the same format (AudioMixKey: codec, bitrate), and each
        // brings its own caps along when the bus moves to it. GStreamer 1.22's TS muxer takes any caps
        // event on an Opus stream it already has as a change of stream type and errors ("Stream type
        // change from 06 to 8f"): the muxer's first caps are its last.
        _muxAudio = Output.Peer();
        _caps = graph.AddProbe(Output, ProbeType.EventDownstream, info =>
            info.Event == EventType.Caps && _muxAudio?.CurrentCaps() is not null ? ProbeReturn.Drop : ProbeReturn.Ok);
    }

    /// <summary>
    /// Makes the bus hear <paramref name="chain"/>: at once if it hears nothing yet or the chain already
    /// has sound, else as soon as it has, on the control thread (<paramref name="toControlThread"/>);
    /// <paramref name="moved"/> runs there after each move, for the chain left behind. Control thread.
    /// </summary>
    internal void Hear(BusAudio chain, Action<Action> toControlThread, Action moved)
    {
        Target = chain;
        if (Current == chain) return;
        if (Current is null || chain.Flowing)
        {
            MoveTo(chain);
            moved();
            return;
        }
        chain.WhenFlowing(() => toControlThread(() =>
        {
            if (Target != chain || Current == chain || _teePad is null) return;
            MoveTo(chain);
            moved();
        }));
    }

    private void MoveTo(BusAudio chain)
    {
        Detach();
        _teePad = chain.Output.RequestPad("src_%u");
        _teePad.Link(_queueSink);
        chain.Listen(_meter);
        Current = chain;
    }

    /// <summary>
    /// Takes the bus off its chain, before its queue or muxer stop: a tee whose branch answers
    /// "flushing" stops pushing altogether, and the chain may be shared.
    /// </summary>
    internal void Detach()
    {
        if (Current is not { } chain || _teePad is null) return;
        chain.Unlisten(_meter);
        _teePad.Unlink(_queueSink);
        chain.Output.ReleaseRequestPad(_teePad);
        _teePad.Dispose();
        _teePad = null;
        Current = null;
    }

    public void Dispose()
    {
        Detach();
        Target = null;
        _failed.Dispose();
        _caps.Dispose();
        _muxAudio?.Dispose();
        _queue.SetState(State.Null);
        _graph.Remove(_queue);
        _queueSink.Dispose();
        Output.Dispose();
        _queue.Dispose();
    }
}
