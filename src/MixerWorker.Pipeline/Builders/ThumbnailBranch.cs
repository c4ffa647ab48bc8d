using MixerWorker.Pipeline.Interop;
using MixerWorker.Pipeline.Scene;

namespace MixerWorker.Pipeline.Builders;

/// <summary>
/// A bus's thumbnail: about one picture a second of the mixed picture (what reaches the raw tee, before
/// the encoder), scaled down and JPEG-encoded in a branch of its own: appsrc → videoscale → caps →
/// jpegenc → fakesink, in a bin named bus.&lt;bus&gt;.thumb. A probe on the tee's sink pad hands one
/// picture an interval to the appsrc (shared, not copied); appsrc keeps at most one, dropping the older,
/// so the encoder never waits for it. Not a branch of the tee: a tee with a second branch asks its
/// compositor's pool for one more picture than the encoder alone (1 → 2), which it holds for good. The
/// JPEG is copied out as it leaves the encoder, so no raw-sized buffer waits for it to be taken.
/// </summary>
internal sealed class ThumbnailBranch : IDisposable
{
    private readonly Graph _graph;
    private readonly Element _bin, _src;
    private readonly ProbeHandle _gate, _made;
    private readonly long _intervalMs;
    // Held while a picture is handed over, so Dispose never releases the appsrc under a push.
    private readonly Lock _handing = new();
    private bool _closed;
    private long _nextDue;
    private long _sequence;
    private volatile Taken? _latest;

    private sealed record Taken(byte[] Jpeg, long Sequence, DateTimeOffset TakenAt);

    internal int Width { get; }
    internal int Height { get; }

    internal ThumbnailBranch(Graph graph, string busName, Element rawTee, OutputFormat format, TimeSpan interval, int maxWidth)
    {
        _graph = graph;
        _intervalMs = (long)interval.TotalMilliseconds;
        (Width, Height) = Size(format, maxWidth);
        var name = ElementName.Bus(busName).Child("thumb");
        _bin = Element.NewBin(name);
        _src = Element.Make("appsrc", name.Child("src"));
        _src.SetCaps(ElementFactory.MixVideoCaps(format.Width, format.Height, $"{format.Fps}/1"));
        _src.Set("format", "time");
        _src.Set("max-buffers", 1);
        _src.Set("leaky-type", "downstream");
        var scale = Element.Make("videoscale", name.Child("scale"));
        var caps = ElementFactory.CapsFilter(name.Child("caps"), $"video/x-raw,width={Width},height={Height},pixel-aspect-ratio=1/1");
        var jpeg = Element.Make("jpegenc", name.Child("jpeg"));
        jpeg.Set("quality", 75);
        var sink = Element.Make("fakesink", name.Child("sink"));
        // Not synchronised to the clock and not part of preroll; keeps nothing.
        sink.Set("sync", false);
        sink.Set("async", false);
        sink.Set("enable-last-sample", false);
        Element[] chain = [_src, scale, caps, jpeg, sink];
        ElementFactory.AddChain(_bin, chain);
        using (var jpegOut = jpeg.StaticPad("src")) _made = graph.AddProbe(jpegOut, ProbeType.Buffer, OnJpeg);
        foreach (var e in chain.Where(e => e != _src)) e.Dispose();
        graph.Add(_bin);
        _bin.SyncStateWithParent();
        using var teeIn = rawTee.StaticPad("sink");
        _gate = graph.AddProbe(teeIn, ProbeType.Buffer, OnPicture);
    }

    /// <summary>At most <paramref name="maxWidth"/> wide (never wider than the bus), the bus's aspect, even sizes.</summary>
    internal static (int Width, int Height) Size(OutputFormat format, int maxWidth)
    {
        var width = Math.Max(2, Math.Min(maxWidth, format.Width) & ~1);
        var height = Math.Max(2, (int)Math.Round(width * (double)format.Height / format.Width / 2) * 2);
        return (width, height);
    }

    // Streaming thread of the compositor: one picture per interval is handed to the thumbnail's own thread;
    // every picture goes on to the encoder.
    private ProbeReturn OnPicture(ProbeInfo info)
    {
        var now = Environment.TickCount64;
        if (now < Interlocked.Read(ref _nextDue)) return ProbeReturn.Ok;
        Interlocked.Exchange(ref _nextDue, now + _intervalMs);
        lock (_handing)
            if (!_closed) _src.PushProbedBuffer(info);
        return ProbeReturn.Ok;
    }

    // Streaming thread of the appsrc: a JPEG just made.
    private ProbeReturn OnJpeg(ProbeInfo info)
    {
        if (info.CopyBufferData() is { } jpeg) _latest = new Taken(jpeg, Interlocked.Increment(ref _sequence), DateTimeOffset.UtcNow);
        return ProbeReturn.Ok;
    }

    /// <summary>The newest JPEG made so far, its number (growing with each new one) and when; null before the first.</summary>
    internal (byte[] Jpeg, long Sequence, DateTimeOffset TakenAt)? Take() => _latest is { } t ? (t.Jpeg, t.Sequence, t.TakenAt) : null;

    public void Dispose()
    {
        _gate.Dispose();
        lock (_handing) _closed = true;
        _bin.SetState(State.Null);
        _made.Dispose();
        _graph.Remove(_bin);
        _src.Dispose();
        _bin.Dispose();
    }
}
