using System.Globalization;
using MixerWorker.Pipeline.Interop;

namespace MixerWorker.Pipeline.Builders;

/// <summary>
/// What a box shows while its input has no signal: a slate-grey card with the input's name, "NO
/// SIGNAL" and how long the input has been gone, so an operator tells a dead camera from a black
/// picture. appsrc (one still, made once) → textoverlay → imagefreeze (live, repeats the last still at
/// the bus's rate) → leaky queue → compositor pad. The text is drawn only when it changes (at most once a second,
/// when the still is pushed again); every frame in between is the same buffer, referenced again.
/// </summary>
internal sealed class NoSignalCard : IDisposable
{
    /// <summary>The card's background (BT.709 limited range, about RGB 55,61,73): dark, but clearly not black.</summary>
    internal const byte Y = 68, U = 134, V = 125;

    private readonly Graph _graph;
    private readonly Element _compositor, _bin, _src, _text;
    private readonly Pad _binSrc, _mixPad;
    private readonly byte[] _still;
    private Placement? _placed;

    internal string Input { get; }
    internal int Width { get; }
    internal int Height { get; }
    /// <summary>The text on the card now.</summary>
    internal string Text { get; private set; } = "";

    internal NoSignalCard(Graph graph, ElementName name, Element compositor, string input, int width, int height, int fps)
    {
        _graph = graph;
        _compositor = compositor;
        Input = input;
        // I420 needs even sizes; the compositor pad stretches the card to the box anyway.
        Width = Math.Max(2, width & ~1);
        Height = Math.Max(2, height & ~1);
        _still = Still(Width, Height);
        _bin = Element.NewBin(name);
        _src = Element.Make("appsrc", name.Child("src"));
        // In the mix's colour, so the compositor takes the card as it is (and Y, U, V below are what is shown).
        _src.SetCaps(ElementFactory.MixVideoCaps(Width, Height, "0/1") + ",interlace-mode=progressive");
        _src.Set("format", "time");
        // textoverlay drops buffers without a timestamp; the value itself is not used downstream.
        _src.Set("do-timestamp", true);
        _text = Element.Make("textoverlay", name.Child("text"));
        _text.Set("valignment", "center");
        _text.Set("halignment", "center");
        _text.Set("line-alignment", "center");
        _text.Set("auto-resize", false);
        _text.Set("font-desc", $"Sans Bold {Math.Max(6, Height / 11)}px");
        _text.Set("wrap-mode", "none"); // no wrapping: a long name is cut at the edges, never split
        var freeze = Element.Make("imagefreeze", name.Child("freeze"));
        freeze.Set("is-live", true);
        freeze.Set("allow-replace", true);
        var caps = ElementFactory.CapsFilter(name.Child("caps"), $"video/x-raw,framerate={fps}/1");
        // imagefreeze answers a latency of at most one frame, less than the inputs' jitter allowance:
        // the compositor would find no latency it can configure and the whole bus would lose its
        // timing. A queue (with no time limit) lifts that maximum; leaky, so the still never waits.
        var queue = ElementFactory.LeakyQueue(name.Child("queue"), maxBuffers: 2);
        Element[] chain = [_src, _text, freeze, caps, queue];
        ElementFactory.AddChain(_bin, chain);
        using (var last = queue.StaticPad("src")) { _binSrc = Pad.Ghost("src", last); }
        _bin.AddPad(_binSrc);
        freeze.Dispose();
        caps.Dispose();
        queue.Dispose();
        graph.Add(_bin);
        _mixPad = compositor.RequestPad("sink_%u");
        _mixPad.SetNumber("alpha", 0.0); // hidden until the director places it
        _binSrc.Link(_mixPad);
        _bin.SyncStateWithParent();
    }

    private static byte[] Still(int width, int height)
    {
        var luma = width * height;
        var chroma = width / 2 * (height / 2);
        var still = new byte[luma + 2 * chroma];
        still.AsSpan(0, luma).Fill(Y);
        still.AsSpan(luma, chroma).Fill(U);
        still.AsSpan(luma + chroma, chroma).Fill(V);
        return still;
    }

    /// <summary>The card's text for an input gone for <paramref name="gone"/> (null: never connected yet).</summary>
    internal static string TextFor(string input, TimeSpan? gone)
    {
        if (gone is not { } g) return $"{input}\nNO SIGNAL";
        var seconds = (long)Math.Max(0, g.TotalSeconds);
        var time = seconds < 3600
            ? string.Create(CultureInfo.InvariantCulture, $"{seconds / 60}:{seconds % 60:00}")
            : string.Create(CultureInfo.InvariantCulture, $"{seconds / 3600}:{seconds / 60 % 60:00}:{seconds % 60:00}");
        return $"{input}\nNO SIGNAL\nlost {time} ago";
    }

    /// <summary>Brings the text up to date; draws the card again only when it changed. Control thread.</summary>
    internal void Update(TimeSpan? gone)
    {
        var text = TextFor(Input, gone);
        if (text == Text) return;
        _text.Set("text", text);
        Text = text;
        _src.PushBuffer(_still);
    }

    /// <summary>Drawn as <paramref name="p"/> says in the coming frame (stretched to its size). Compositor streaming thread.</summary>
    internal void Place(Placement p)
    {
        var last = _placed;
        if (last is not { } l || l.X != p.X) _mixPad.SetNumber("xpos", p.X);
        if (last is not { } l2 || l2.Y != p.Y) _mixPad.SetNumber("ypos", p.Y);
        if (last is not { } l3 || l3.Width != p.Width) _mixPad.SetNumber("width", p.Width);
        if (last is not { } l4 || l4.Height != p.Height) _mixPad.SetNumber("height", p.Height);
        if (last is not { } l5 || l5.Z != p.Z) _mixPad.SetNumber("zorder", p.Z);
        if (last is not { } l6 || l6.Alpha != p.Alpha) _mixPad.SetNumber("alpha", p.Alpha);
        _placed = p;
    }

    /// <summary>Not drawn in the coming frame. Compositor streaming thread.</summary>
    internal void Hide()
    {
        if (_placed is { Alpha: 0 }) return;
        _mixPad.SetNumber("alpha", 0.0);
        _placed = (_placed ?? new Placement(0, 0, 0, 0, Placement.NoClip, 0, 0)) with { Alpha = 0 };
    }

    public void Dispose()
    {
        _bin.SetState(State.Null);
        _binSrc.Unlink(_mixPad);
        _compositor.ReleaseRequestPad(_mixPad);
        _graph.Remove(_bin);
        foreach (var d in new IDisposable[] { _binSrc, _mixPad, _src, _text, _bin }) d.Dispose();
    }
}
