using MixerWorker.Pipeline.Interop;
using MixerWorker.Pipeline.Scene;

namespace MixerWorker.Pipeline.Builders;

/// <summary>
/// A full-frame plain colour over the video (dip to colour, fade to black): one tiny picture of the
/// colour that the compositor stretches to the frame. The source makes that one picture and ends;
/// the compositor's pad keeps drawing it after the end (repeat-after-eos) and, being at its end,
/// never waits for it, so a veil costs no thread and no wake-up per frame, only the drawing while it
/// is visible (at alpha 0 the compositor skips it). Its colour is fixed: a bus keeps a veil per colour.
/// The source is live so that its picture carries the running time it was made at, never 0, which
/// would move the start of a compositor that has not made its first frame yet (start-time-selection=first).
/// </summary>
internal sealed class VeilBranch : IDisposable
{
    private readonly Graph _graph;
    private readonly Element _compositor, _src, _caps;
    private readonly Pad _mixPad;
    private double _alpha;

    internal DipColor Color { get; }

    internal VeilBranch(Graph graph, ElementName name, Element compositor, OutputFormat format, int zorder, DipColor color)
    {
        _graph = graph;
        _compositor = compositor;
        Color = color;
        _src = Element.Make("videotestsrc", name.Child("src"));
        _src.Set("is-live", true);
        _src.Set("num-buffers", 1);
        _src.Set("pattern", "solid-color");
        _src.SetNumber("foreground-color", color == DipColor.White ? 0xFFFFFFFF : 0xFF000000);
        _caps = ElementFactory.CapsFilter(name.Child("caps"), ElementFactory.MixVideoCaps(16, 16, $"{format.Fps}/1"));
        graph.Add(_src);
        graph.Add(_caps);
        _src.Link(_caps);
        _mixPad = compositor.RequestPad("sink_%u");
        _mixPad.Set("repeat-after-eos", true);
        _mixPad.SetNumber("alpha", 0.0);
        _mixPad.SetNumber("width", format.Width);
        _mixPad.SetNumber("height", format.Height);
        _mixPad.SetNumber("zorder", zorder);
        using (var src = _caps.StaticPad("src")) src.Link(_mixPad);
        _caps.SyncStateWithParent();
        _src.SyncStateWithParent();
    }

    /// <summary>Compositor streaming thread or control thread.</summary>
    internal void Show(double alpha)
    {
        if (alpha != _alpha) { _mixPad.SetNumber("alpha", alpha); _alpha = alpha; }
    }

    public void Dispose()
    {
        _src.SetState(State.Null);
        _caps.SetState(State.Null);
        using (var src = _caps.StaticPad("src")) src.Unlink(_mixPad);
        _compositor.ReleaseRequestPad(_mixPad);
        _graph.Remove(_src);
        _graph.Remove(_caps);
        _mixPad.Dispose();
        _src.Dispose();
        _caps.Dispose();
    }
}
