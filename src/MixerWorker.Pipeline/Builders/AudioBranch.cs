using MixerWorker.Pipeline.Interop;

namespace MixerWorker.Pipeline.Builders;

/// <summary>One input heard on a bus: input audio tee → leaky queue → audiomixer pad (gain on the pad).</summary>
internal sealed class AudioBranch : IDisposable
{
    private readonly Element _pipeline, _sourceTee, _mixer, _queue;
    private readonly Pad _teePad, _queueSink, _queueSrc, _mixPad;

    internal AudioBranch(Element pipeline, string busName, string input, Element sourceTee, Element mixer)
    {
        _pipeline = pipeline;
        _sourceTee = sourceTee;
        _mixer = mixer;
        _queue = ElementFactory.LeakyQueue($"abox.{busName}.{input}", maxBuffers: 0, maxTimeNs: 200_000_000);
        pipeline.Add(_queue);
        _queueSink = _queue.StaticPad("sink");
        _queueSrc = _queue.StaticPad("src");
        _mixPad = mixer.RequestPad("sink_%u");
        _queueSrc.Link(_mixPad);
        _queue.SyncStateWithParent();
        _teePad = sourceTee.RequestPad("src_%u");
        _teePad.Link(_queueSink);
    }

    internal void SetGain(double gainDb) => _mixPad.Set("volume", Math.Pow(10, gainDb / 20));

    public void Dispose()
    {
        _teePad.Unlink(_queueSink);
        _sourceTee.ReleaseRequestPad(_teePad);
        _queue.SetState(State.Null);
        _queueSrc.Unlink(_mixPad);
        _mixer.ReleaseRequestPad(_mixPad);
        _pipeline.Remove(_queue);
        foreach (var d in new IDisposable[] { _teePad, _queueSink, _queueSrc, _mixPad, _queue }) d.Dispose();
    }
}
