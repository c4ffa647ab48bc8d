using System.Diagnostics;
using MixerWorker.Testbed.Reading;

namespace MixerWorker.Testbed.Imaging;

/// <summary>Decodes a JPEG (a bus thumbnail) to RGB with GStreamer's jpegdec, to look at its pixels.</summary>
public static class JpegDecoder
{
    public static RgbFrame Decode(byte[] jpeg, int width, int height)
    {
        using var p = new StandalonePipeline();
        var src = p.Add("appsrc", null, ("caps", "image/jpeg"), ("format", "bytes"));
        var dec = p.Add("jpegdec");
        var conv = p.Add("videoconvert");
        var caps = p.Add("capsfilter", null, ("caps", $"video/x-raw,format=RGB,width={width},height={height}"));
        var sink = p.Add("appsink", null, ("sync", false), ("max-buffers", 1));
        p.AddChain(src, dec, conv, caps, sink);
        p.Play();
        src.PushBuffer(jpeg);
        src.EndOfStream();
        var clock = Stopwatch.StartNew();
        byte[]? data;
        while ((data = sink.TryPullSampleData()) is null)
        {
            if (p.Errors.Count > 0 && p.Errors.Any(e => e != "end of stream")) throw new InvalidOperationException("JPEG not decoded: " + string.Join("; ", p.Errors));
            if (clock.Elapsed > TimeSpan.FromSeconds(5)) throw new TimeoutException("JPEG not decoded within 5 s");
            Thread.Sleep(10);
        }
        var stride = (width * 3 + 3) & ~3; // GStreamer's RGB rows are 4-byte aligned
        var pixels = new byte[width * height * 3];
        for (var y = 0; y < height; y++) Array.Copy(data, y * stride, pixels, y * width * 3, width * 3);
        return new RgbFrame(width, height, pixels, DateTimeOffset.UtcNow);
    }
}
