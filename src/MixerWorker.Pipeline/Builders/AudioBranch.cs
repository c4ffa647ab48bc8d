using MixerWorker.Pipeline.Interop;

namespace MixerWorker.Pipeline.Builders;

/// <summary>
/// One input heard on a bus: input audio tee → leaky queue → audiomixer pad (gain on the pad), which tells of
/// sound it drops for coming after its time (a QoS message from <see cref="MixPadPath"/>, Engine.LateSound).
/// </summary>
internal sealed class AudioBranch : IDisposable
{
    // Room for the largest lip-sync delay: a delayed input's audio waits here until the mixer's
    // clock reaches its (offset) running time, and a queue shorter than the delay would leak it.
    private const ulong QueueTimeNs = (200UL + InputBranch.MaxAudioDelayMs) * 1_000_000UL;

    private readonly Graph _graph;
    private readonly Element _sourceTee, _mixer, _queue;
    private readonly Pad _teePad, _queueSink, _queueSrc, _mixPad;
    private readonly Lock _gate = new();
    private bool _disposed;
    private double _gain = double.NaN;

    internal string Input { get; }

    /// <summary>The mixer pad, as the bus messages it posts name their source.</summary>
    internal string MixPadPath { get; }

    /// <param name="gain">Linear gain set before any audio flows, so an input that starts unheard never blips.</param>
    /// <param name="name">The branch's queue: <c>abox.&lt;bus&gt;.&lt;input&gt;</c>, with the chain's part where a bus has had more than one.</param>
    internal AudioBranch(Graph graph, ElementName name, string input, Element sourceTee, Element mixer, double gain)
    {
        _graph = graph;
        _sourceTee = sourceTee;
        _mixer = mixer;
        Input = input;
        _queue = ElementFactory.LeakyQueue(name, maxBuffers: 0, maxTimeNs: QueueTimeNs);
        graph.Add(_queue);
        _queueSink = _queue.StaticPad("sink");
        _queueSrc = _queue.StaticPad("src");
        _mixPad = mixer.RequestPad("sink_%u");
        _mixPad.Set("qos-messages", true);
        MixPadPath = _mixPad.Path;
        SetGain(gain);
        _queueSrc.Link(_mixPad);
        _queue.SyncStateWithParent();
        _teePad = sourceTee.RequestPad("src_%u");
        _teePad.Link(_queueSink);
    }

    /// <summary>The linear gain last set on the mixer pad.</summary>
    internal double Gain { get { lock (_gate) return _gain; } }

    /// <summary>
    /// Sets the mixer pad's volume. Safe from any thread, including a streaming thread in the middle of
    /// a transition: it only sets a property, and does nothing once the branch is being torn down.
    /// </summary>
    internal void SetGain(double linear)
    {
        linear = AudioGain.Clamp(linear);
        lock (_gate)
        {
            if (_disposed || linear == _gain) return;
            _mixPad.Set("volume", linear);
            _gain = linear;
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed) return;
            _disposed = true;
        }
        _teePad.Unlink(_queueSink);
        _sourceTee.ReleaseRequestPad(_teePad);
        _queue.SetState(State.Null);
        _queueSrc.Unlink(_mixPad);
        _mixer.ReleaseRequestPad(_mixPad);
        _graph.Remove(_queue);
        foreach (var d in new IDisposable[] { _teePad, _queueSink, _queueSrc, _mixPad, _queue }) d.Dispose();
    }
}
