using MixerWorker.Pipeline.Interop;
using MixerWorker.Pipeline.Scene;

namespace MixerWorker.Pipeline.Builders;

/// <summary>
/// A full-frame plain colour over the video (dip to colour, fade to black): a tiny live solid-colour
/// source that the compositor stretches to the frame. At alpha 0 the compositor skips it, so an idle
/// veil costs next to nothing.
/// </summary>
internal sealed class VeilBranch : IDisposable
{
    private readonly Graph _graph;
    private readonly Element _compositor, _src, _caps;
    private readonly Pad _mixPad;
    private double _alpha;
    private DipColor _color = DipColor.Black;

    internal VeilBranch(Graph graph, ElementName name, Element compositor, OutputFormat format, int zorder)
    {
        _graph = graph;
        _compositor = compositor;
        _src = Element.Make("videotestsrc", name.Child("src"));
        _src.Set("is-live", true);
        _src.Set("pattern", "solid-color");
        _src.SetNumber("foreground-color", Argb(DipColor.Black));
        _caps = ElementFactory.CapsFilter(name.Child("caps"), ElementFactory.MixVideoCaps(16, 16, $"{format.Fps}/1"));
        graph.Add(_src);
        graph.Add(_caps);
        _src.Link(_caps);
        _mixPad = compositor.RequestPad("sink_%u");
        _mixPad.SetNumber("alpha", 0.0);
        _mixPad.SetNumber("width", format.Width);
        _mixPad.SetNumber("height", format.Height);
        _mixPad.SetNumber("zorder", zorder);
        using (var src = _caps.StaticPad("src")) src.Link(_mixPad);
        _caps.SyncStateWithParent();
        _src.SyncStateWithParent();
    }

    private static uint Argb(DipColor c) => c == DipColor.White ? 0xFFFFFFFF : 0xFF000000;

    /// <summary>Compositor streaming thread or control thread.</summary>
    internal void Show(double alpha, DipColor color)
    {
        if (color != _color) { _src.SetNumber("foreground-color", Argb(color)); _color = color; }
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
