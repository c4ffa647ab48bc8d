using MixerWorker.Pipeline.Interop;
using MixerWorker.Pipeline.Scene;

namespace MixerWorker.Pipeline.Builders;

/// <summary>
/// One box of a layout: input tee → leaky queue → crop → scale → compositor pad. Scaling happens
/// here, once per box, rather than in the compositor pad, which is the costlier way to scale.
/// Geometry changes are property changes on a live branch; only a change of source rebuilds it.
/// </summary>
internal sealed class BoxBranch : IDisposable
{
    private readonly Element _pipeline;
    private readonly Element _sourceTee;
    private readonly Element _compositor;
    private readonly Element _bin;
    private readonly Element _crop, _scale, _caps;
    private readonly Pad _teePad, _mixPad, _binSink, _binSrc;
    private Box? _applied;

    internal string Source { get; }

    internal BoxBranch(Element pipeline, string busName, int id, string source, Element sourceTee, Element compositor)
    {
        _pipeline = pipeline;
        _sourceTee = sourceTee;
        _compositor = compositor;
        Source = source;
        var name = $"box.{busName}.{id}";
        _bin = Element.NewBin(name);
        var queue = ElementFactory.LeakyQueue($"{name}.queue", maxBuffers: 2);
        _crop = Element.Make("videocrop", $"{name}.crop");
        _scale = Element.Make("videoscale", $"{name}.scale");
        _caps = Element.Make("capsfilter", $"{name}.caps");
        ElementFactory.AddChain(_bin, [queue, _crop, _scale, _caps]);
        using (var qSink = queue.StaticPad("sink")) { _binSink = Pad.Ghost("sink", qSink); }
        using (var cSrc = _caps.StaticPad("src")) { _binSrc = Pad.Ghost("src", cSrc); }
        _bin.AddPad(_binSink);
        _bin.AddPad(_binSrc);
        queue.Dispose();
        _pipeline.Add(_bin);
        _mixPad = compositor.RequestPad("sink_%u");
        _mixPad.Set("alpha", 0.0); // hidden until the geometry is set and the input is live
        _binSrc.Link(_mixPad);
        _bin.SyncStateWithParent();
        _teePad = sourceTee.RequestPad("src_%u");
        _teePad.Link(_binSink);
    }

    /// <summary>Applies position, size, crop, order and visibility; unchanged values are not touched,
    /// so a caps renegotiation happens only when the box size or fit really changes.</summary>
    internal void Apply(Box box, int zorder, bool sourceLive)
    {
        if (_applied is null || _applied.Width != box.Width || _applied.Height != box.Height || _applied.Fit != box.Fit)
        {
            _scale.Set("add-borders", box.Fit == Fit.Contain);
            _caps.SetCaps($"video/x-raw,width={box.Width},height={box.Height},pixel-aspect-ratio=1/1");
        }
        var crop = box.Crop ?? new Crop();
        if (_applied?.Crop != box.Crop)
        {
            _crop.Set("left", crop.Left);
            _crop.Set("right", crop.Right);
            _crop.Set("top", crop.Top);
            _crop.Set("bottom", crop.Bottom);
        }
        _mixPad.Set("xpos", box.X);
        _mixPad.Set("ypos", box.Y);
        _mixPad.Set("zorder", zorder);
        SetLive(box, sourceLive);
        _applied = box;
    }

    /// <summary>A box whose input is not live shows the slate (the bus background) instead of a frozen frame.</summary>
    internal void SetLive(Box box, bool sourceLive) => _mixPad.Set("alpha", sourceLive ? box.Alpha : 0.0);

    internal Box? Applied => _applied;

    public void Dispose()
    {
        // Unlink from the shared tee first: the tee then sees not-linked (allowed) rather than the
        // flushing pad of a stopping branch, which it would pass upstream and stop the decoder.
        _teePad.Unlink(_binSink);
        _sourceTee.ReleaseRequestPad(_teePad);
        _bin.SetState(State.Null);
        _binSrc.Unlink(_mixPad);
        _compositor.ReleaseRequestPad(_mixPad);
        _pipeline.Remove(_bin);
        foreach (var d in new IDisposable[] { _teePad, _mixPad, _binSink, _binSrc, _crop, _scale, _caps, _bin }) d.Dispose();
    }
}
