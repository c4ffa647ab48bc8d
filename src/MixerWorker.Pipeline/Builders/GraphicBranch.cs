using MixerWorker.Pipeline.Interop;
using MixerWorker.Pipeline.Scene;

namespace MixerWorker.Pipeline.Builders;

/// <summary>
/// One graphics layer: file → PNG or SVG decoder → imagefreeze (live, repeats the still at the bus's
/// rate) → convert → scale → compositor pad above the video. The file path comes resolved and
/// checked against the graphics directory; only the decoder is chosen from its extension.
/// </summary>
internal sealed class GraphicBranch : IDisposable
{
    private readonly Graph _graph;
    private readonly Element _compositor, _bin;
    private readonly Pad _binSrc, _mixPad;
    private double _alpha = -1;

    internal GraphicLayer Layer { get; }

    internal GraphicBranch(Graph graph, string busName, int index, GraphicLayer layer, string path, Element compositor, OutputFormat format, int zorder)
    {
        _graph = graph;
        _compositor = compositor;
        Layer = layer;
        var name = ElementName.Graphic(busName, index);
        _bin = Element.NewBin(name);
        var file = Element.Make("filesrc", name.Child("file"));
        file.Set("location", path);
        var svg = path.EndsWith(".svg", StringComparison.OrdinalIgnoreCase);
        var decoder = Element.Make(svg ? "rsvgdec" : "pngdec", name.Child("dec"));
        var freeze = Element.Make("imagefreeze", name.Child("freeze"));
        freeze.Set("is-live", true);
        var convert = Element.Make("videoconvert", name.Child("convert"));
        var scale = Element.Make("videoscale", name.Child("scale"));
        var size = layer.Width > 0 && layer.Height > 0 ? $",width={layer.Width},height={layer.Height}" : "";
        // No format: the compositor takes the image's own (with alpha, for PNG/SVG transparency).
        var caps = ElementFactory.CapsFilter(name.Child("caps"), $"video/x-raw,framerate={format.Fps}/1{size}");
        Element[] chain = [file, decoder, freeze, convert, scale, caps];
        ElementFactory.AddChain(_bin, chain);
        using (var last = caps.StaticPad("src")) { _binSrc = Pad.Ghost("src", last); }
        _bin.AddPad(_binSrc);
        foreach (var e in chain) e.Dispose();
        graph.Add(_bin);
        _mixPad = compositor.RequestPad("sink_%u");
        _mixPad.SetNumber("alpha", 0.0);
        _mixPad.SetNumber("xpos", layer.X);
        _mixPad.SetNumber("ypos", layer.Y);
        _mixPad.SetNumber("zorder", zorder);
        _binSrc.Link(_mixPad);
        _bin.SyncStateWithParent();
    }

    /// <summary>Opacity in this frame (layer opacity × fade). Compositor streaming thread.</summary>
    internal void Show(double alpha)
    {
        if (alpha == _alpha) return;
        _mixPad.SetNumber("alpha", alpha);
        _alpha = alpha;
    }

    public void Dispose()
    {
        _bin.SetState(State.Null);
        _binSrc.Unlink(_mixPad);
        _compositor.ReleaseRequestPad(_mixPad);
        _graph.Remove(_bin);
        _binSrc.Dispose();
        _mixPad.Dispose();
        _bin.Dispose();
    }
}
