using MixerWorker.Pipeline.Interop;
using MixerWorker.Pipeline.Scene;

namespace MixerWorker.Pipeline.Builders;

/// <summary>
/// A bus's thumbnail: about one picture a second of the mixed picture (the raw tee, before the
/// encoder), scaled down and JPEG-encoded in a branch of its own: tee → queue → videoscale → caps →
/// jpegenc → appsink, in a bin named bus.&lt;bus&gt;.thumb. A probe on the tee's pad drops every other
/// picture, so nothing behind it runs more than once an interval, and the leaky one-picture queue
/// means the encoder never waits for it. The newest JPEG waits in the appsink until it is taken.
/// </summary>
internal sealed class ThumbnailBranch : IDisposable
{
    private readonly Graph _graph;
    private readonly Element _tee, _bin, _sink;
    private readonly Pad _teePad, _binSink;
    private readonly ProbeHandle _gate;
    private readonly long _intervalMs;
    private long _nextDue;
    private long _sequence;

    internal int Width { get; }
    internal int Height { get; }
    /// <summary>The newest JPEG taken so far, its number (growing with each new one) and when; null before the first.</summary>
    internal (byte[] Jpeg, long Sequence, DateTimeOffset TakenAt)? Latest { get; private set; }

    internal ThumbnailBranch(Graph graph, string busName, Element rawTee, OutputFormat format, TimeSpan interval, int maxWidth)
    {
        _graph = graph;
        _tee = rawTee;
        _intervalMs = (long)interval.TotalMilliseconds;
        (Width, Height) = Size(format, maxWidth);
        var name = ElementName.Bus(busName).Child("thumb");
        _bin = Element.NewBin(name);
        var queue = ElementFactory.LeakyQueue(name.Child("queue"), maxBuffers: 1);
        var scale = Element.Make("videoscale", name.Child("scale"));
        var caps = ElementFactory.CapsFilter(name.Child("caps"), $"video/x-raw,width={Width},height={Height},pixel-aspect-ratio=1/1");
        var jpeg = Element.Make("jpegenc", name.Child("jpeg"));
        jpeg.Set("quality", 75);
        _sink = Element.Make("appsink", name.Child("sink"));
        // Not synchronised to the clock and not part of preroll: it only keeps the newest picture.
        _sink.Set("sync", false);
        _sink.Set("async", false);
        _sink.Set("max-buffers", 1);
        _sink.Set("drop", true);
        _sink.Set("enable-last-sample", false);
        Element[] chain = [queue, scale, caps, jpeg, _sink];
        ElementFactory.AddChain(_bin, chain);
        using (var qSink = queue.StaticPad("sink")) _binSink = Pad.Ghost("sink", qSink);
        _bin.AddPad(_binSink);
        foreach (var e in chain.Where(e => e != _sink)) e.Dispose();
        graph.Add(_bin);
        _bin.SyncStateWithParent();
        _teePad = rawTee.RequestPad("src_%u");
        _gate = graph.AddProbe(_teePad, ProbeType.Buffer, OnPicture);
        _teePad.Link(_binSink);
    }

    /// <summary>At most <paramref name="maxWidth"/> wide (never wider than the bus), the bus's aspect, even sizes.</summary>
    internal static (int Width, int Height) Size(OutputFormat format, int maxWidth)
    {
        var width = Math.Max(2, Math.Min(maxWidth, format.Width) & ~1);
        var height = Math.Max(2, (int)Math.Round(width * (double)format.Height / format.Width / 2) * 2);
        return (width, height);
    }

    // Streaming thread of the compositor: one picture per interval goes on, the rest are dropped here.
    private ProbeReturn OnPicture(ProbeInfo info)
    {
        var now = Environment.TickCount64;
        if (now < Interlocked.Read(ref _nextDue)) return ProbeReturn.Drop;
        Interlocked.Exchange(ref _nextDue, now + _intervalMs);
        return ProbeReturn.Ok;
    }

    /// <summary>Takes the JPEG waiting in the appsink, if a new one is there, and returns the newest. Control thread.</summary>
    internal (byte[] Jpeg, long Sequence, DateTimeOffset TakenAt)? Take()
    {
        if (_sink.TryPullSampleData() is { } jpeg) Latest = (jpeg, ++_sequence, DateTimeOffset.UtcNow);
        return Latest;
    }

    public void Dispose()
    {
        _gate.Dispose();
        // Off the tee first, so the tee sees not-linked (allowed) instead of a flushing pad.
        _teePad.Unlink(_binSink);
        _tee.ReleaseRequestPad(_teePad);
        _bin.SetState(State.Null);
        _graph.Remove(_bin);
        foreach (var d in new IDisposable[] { _teePad, _binSink, _sink, _bin }) d.Dispose();
    }
}
