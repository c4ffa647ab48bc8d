using System.Runtime.InteropServices;
using MixerWorker.Pipeline.Interop;
using MixerWorker.Testbed.Reading;

namespace MixerWorker.Testbed.Imaging;

/// <summary>Writes RGB pictures as PNG with GStreamer's pngenc, and tiles several into a contact sheet.</summary>
public static class PngWriter
{
    public static void Write(RgbFrame frame, string path)
    {
        using var p = new StandalonePipeline();
        var src = p.Add("appsrc", null, ("caps", $"video/x-raw,format=RGB,width={frame.Width},height={frame.Height},framerate=1/1"), ("format", "time"));
        var conv = p.Add("videoconvert");
        var enc = p.Add("pngenc");
        var sink = p.Add("filesink", null, ("location", path));
        p.AddChain(src, conv, enc, sink);
        p.Play();
        var stride = (frame.Width * 3 + 3) & ~3; // GStreamer's RGB rows are 4-byte aligned
        var padded = new byte[stride * frame.Height];
        for (var y = 0; y < frame.Height; y++) Array.Copy(frame.Pixels, y * frame.Width * 3, padded, y * stride, frame.Width * 3);
        var handle = GCHandle.Alloc(padded, GCHandleType.Pinned);
        try { Native.gst_app_src_push_buffer(src.Handle, Native.gst_buffer_new_memdup(handle.AddrOfPinnedObject(), (nuint)padded.Length)); }
        finally { handle.Free(); }
        Native.gst_app_src_end_of_stream(src.Handle);
        var deadline = DateTime.UtcNow.AddSeconds(5);
        while (!p.Failed && DateTime.UtcNow < deadline) Thread.Sleep(20); // EOS is recorded like an error
    }

    /// <summary>Tiles frames (scaled by nearest neighbour to one size) into a grid.</summary>
    public static RgbFrame ContactSheet(IReadOnlyList<RgbFrame> frames, int columns, int tileWidth, int tileHeight)
    {
        var rows = (frames.Count + columns - 1) / columns;
        var (w, h) = (columns * tileWidth, Math.Max(1, rows) * tileHeight);
        var pixels = new byte[w * h * 3];
        for (var i = 0; i < frames.Count; i++)
        {
            var f = frames[i];
            var (ox, oy) = (i % columns * tileWidth, i / columns * tileHeight);
            for (var y = 0; y < tileHeight; y++)
                for (var x = 0; x < tileWidth; x++)
                {
                    var s = ((y * f.Height / tileHeight) * f.Width + x * f.Width / tileWidth) * 3;
                    var d = ((oy + y) * w + ox + x) * 3;
                    pixels[d] = f.Pixels[s]; pixels[d + 1] = f.Pixels[s + 1]; pixels[d + 2] = f.Pixels[s + 2];
                }
        }
        return new RgbFrame(w, h, pixels, DateTimeOffset.UtcNow);
    }
}
