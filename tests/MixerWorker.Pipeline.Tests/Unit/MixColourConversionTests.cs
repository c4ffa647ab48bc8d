using MixerWorker.Pipeline.Builders;
using MixerWorker.Pipeline.Interop;
using MixerWorker.Testbed;
using Xunit;
using Xunit.Abstractions;

namespace MixerWorker.Pipeline.Tests.Unit;

/// <summary>
/// The BT.601 → BT.709 conversion of an SD camera's scaled pictures, which the engine does itself because videoconvert
/// has no fast path for a matrix change (about 300 µs against 40 for a 320x180 box): it must give what videoconvert
/// gives (chroma left unresampled, as the scalers ran it), to within one code, and never write into a picture another
/// consumer holds. And which sources it takes.
/// </summary>
public sealed class MixColourConversionTests(ITestOutputHelper output)
{
    [Fact]
    public void The_matrix_is_the_one_GStreamer_computes_for_BT601_to_BT709()
    {
        // video-converter's own matrix for this conversion (GST_DEBUG=video-converter:7, 1.22), on centred chroma.
        double[,] gstreamer = { { 1, -0.115550, -0.207938 }, { 0, 1.018640, 0.114618 }, { 0, 0.075049, 1.025327 } };
        var m = MixColourConversion.Bt601ToBt709Matrix();
        for (var r = 0; r < 3; r++)
            for (var c = 0; c < 3; c++)
                Assert.True(Math.Abs(m[r, c] - gstreamer[r, c]) < 1e-5, $"[{r},{c}] {m[r, c]} vs {gstreamer[r, c]}");
    }

    // Every code from 0 to 255 in every plane (noise), odd sizes (a last chroma column and row covering one luma pixel,
    // the vector path's tail) and rows padded as a decoder pads them; smpte's bars and colors' gradients besides.
    [Theory]
    [InlineData(320, 180, "smpte", false)]
    [InlineData(320, 180, "colors", false)]
    [InlineData(320, 180, "noise", false)]
    [InlineData(97, 55, "noise", true)]
    [InlineData(66, 35, "noise", true)]
    [InlineData(33, 17, "noise", false)]
    public void A_picture_converts_to_within_one_code_of_GStreamer(int width, int height, string pattern, bool padded)
    {
        var planes = padded ? Padded(width, height) : I420Planes.Default(width, height);
        var bt601 = pattern == "noise" ? Noise(planes.Size(height)) : Render(width, height, pattern);
        var expected = ConvertWithGStreamer(bt601, planes, width, height);
        var converted = bt601.ToArray();
        MixColourConversion.Bt601ToBt709(converted, planes, width, height);

        var outPlanes = I420Planes.Default(width, height);
        int cw = (width + 1) / 2, ch = (height + 1) / 2;
        var worst = new[]
        {
            Worst(converted, planes.YOffset, planes.YStride, expected, outPlanes.YOffset, outPlanes.YStride, width, height),
            Worst(converted, planes.UOffset, planes.UStride, expected, outPlanes.UOffset, outPlanes.UStride, cw, ch),
            Worst(converted, planes.VOffset, planes.VStride, expected, outPlanes.VOffset, outPlanes.VStride, cw, ch),
        };
        var changed = converted.Where((b, i) => b != bt601[i]).Count();
        var outside = Enumerable.Range(0, bt601.Length).Except(PictureBytes(planes, width, height)).Count(i => converted[i] != bt601[i]);
        output.WriteLine($"{width}x{height} {pattern}{(padded ? " padded" : "")}: {changed} bytes changed, worst difference from videoconvert Y {worst[0]} U {worst[1]} V {worst[2]}");
        Assert.True(changed > width * height / 4, "the conversion changed the picture");
        Assert.All(worst, w => Assert.True(w <= 1, $"within one code of videoconvert per plane (Y, U, V: {string.Join(", ", worst)})"));
        Assert.Equal(0, outside);
    }

    [Fact]
    public void A_picture_shared_with_another_consumer_is_copied_before_it_is_converted()
    {
        const int width = 320, height = 180;
        var path = Path.Combine(Path.GetTempPath(), $"mixcolour-{Guid.NewGuid():N}.yuv");
        var converted = 0;
        try
        {
            using (var p = new StandalonePipeline())
            {
                var src = p.Add("videotestsrc", null, ("num-buffers", 1), ("pattern", "smpte"));
                var caps = p.Add("capsfilter", null, ("caps", $"video/x-raw,format=I420,width={width},height={height},framerate=30/1,colorimetry=bt601"));
                var tee = p.Add("tee");
                // No queues: the tee hands the one picture to the converting branch first, then to the file (and
                // neither sink waits for the other to preroll).
                var first = p.Add("fakesink", null, ("sync", false), ("async", false));
                var file = p.Add("filesink", null, ("location", path), ("async", false));
                p.AddChain(src, caps, tee, first);
                tee.Link(file);
                using var firstSink = first.StaticPad("sink");
                using var probe = Callbacks.AddProbe(firstSink, ProbeType.Buffer, info =>
                {
                    if (info.MapI420Writable(width, height, (picture, planes) => MixColourConversion.Bt601ToBt709(picture, planes, width, height))) converted++;
                    return ProbeReturn.Ok;
                });
                p.Play();
                for (var deadline = DateTime.UtcNow.AddSeconds(10); !p.Failed && DateTime.UtcNow < deadline;) Thread.Sleep(10);
                Assert.Equal(["end of stream"], p.Errors);
            }
            Assert.Equal(1, converted);
            Assert.Equal(Render(width, height, "smpte"), File.ReadAllBytes(path));
        }
        finally { File.Delete(path); }
    }

    [Theory]
    [InlineData("video/x-raw, format=(string)I420, width=(int)640, height=(int)360, chroma-site=(string)jpeg, colorimetry=(string)bt601, framerate=(fraction)30/1", true)]
    [InlineData("video/x-raw, format=(string)I420, width=(int)1280, height=(int)720, chroma-site=(string)mpeg2, colorimetry=(string)bt709, framerate=(fraction)30/1", false)]
    // No colour named: read at the source's size, as GStreamer would read it there (not at the box's).
    [InlineData("video/x-raw, format=(string)I420, width=(int)1280, height=(int)720, framerate=(fraction)30/1", false)]
    [InlineData("video/x-raw, format=(string)I420, width=(int)720, height=(int)576, framerate=(fraction)25/1", true)]
    public void A_BT601_or_BT709_I420_source_is_labelled_in_the_mix_colour_and_only_BT601_converted(string caps, bool convert)
    {
        GstRuntime.Init();
        var plan = MixColourConversion.Relabel(caps);
        Assert.NotNull(plan);
        Assert.Equal(convert, plan.Value.Convert);
        Assert.Contains("colorimetry=(string)bt709", plan.Value.Caps);
        Assert.Contains("chroma-site=(string)mpeg2", plan.Value.Caps);
        Assert.DoesNotContain("bt601", plan.Value.Caps);
        Assert.Contains("framerate=(fraction)", plan.Value.Caps);
        // What the scaler is given must still parse as caps.
        var parsed = Native.gst_caps_from_string(plan.Value.Caps);
        Assert.NotEqual(0, parsed);
        Native.gst_caps_unref(parsed);
    }

    [Theory]
    [InlineData("video/x-raw, format=(string)NV12, width=(int)640, height=(int)360, colorimetry=(string)bt601")]
    [InlineData("video/x-raw, format=(string)I420, width=(int)1920, height=(int)1080, colorimetry=(string)bt2020")]
    [InlineData("video/x-raw, format=(string)I420, width=(int)640, height=(int)360, colorimetry=(string)1:4:0:0")]
    [InlineData("video/x-raw, format=(string)I420_10LE, width=(int)640, height=(int)360, colorimetry=(string)bt601")]
    public void Any_other_source_is_left_to_the_converter(string caps) => Assert.Null(MixColourConversion.Relabel(caps));

    [Fact]
    public void A_video_meta_layout_is_read_from_the_buffer()
    {
        GstRuntime.Init();
        var buffer = Native.gst_buffer_new_allocate(0, 20_000, 0);
        try
        {
            Assert.Null(I420Planes.Of(buffer));
            // GST_VIDEO_FORMAT_I420 = 2; strides padded as a decoder pads them.
            Native.gst_buffer_add_video_meta_full(buffer, 0, 2, 97, 55, 3, [64, 8064, 10112], [128, 64, 64]);
            Assert.Equal(new I420Planes(64, 128, 8064, 64, 10112, 64), I420Planes.Of(buffer));
        }
        finally { Native.gst_mini_object_unref(buffer); }
    }

    private static IEnumerable<int> PictureBytes(I420Planes p, int width, int height)
    {
        int cw = (width + 1) / 2, ch = (height + 1) / 2;
        for (var y = 0; y < height; y++)
            for (var x = 0; x < width; x++) yield return p.YOffset + y * p.YStride + x;
        for (var y = 0; y < ch; y++)
            for (var x = 0; x < cw; x++)
            {
                yield return p.UOffset + y * p.UStride + x;
                yield return p.VOffset + y * p.VStride + x;
            }
    }

    private static int Worst(byte[] a, int aOffset, int aStride, byte[] b, int bOffset, int bStride, int width, int height)
    {
        var worst = 0;
        for (var y = 0; y < height; y++)
            for (var x = 0; x < width; x++) worst = Math.Max(worst, Math.Abs(a[aOffset + y * aStride + x] - b[bOffset + y * bStride + x]));
        return worst;
    }

    // Rows longer than the picture and gaps between the planes, as a decoder's video meta may describe them.
    private static I420Planes Padded(int width, int height)
    {
        int yStride = (width + 63) & ~63, cStride = ((width + 1) / 2 + 31) & ~31, ch = (height + 1) / 2;
        var u = yStride * height + 64;
        var v = u + cStride * ch + 32;
        return new I420Planes(16, yStride, u, cStride, v, cStride);
    }

    private static byte[] Noise(int size)
    {
        var bytes = new byte[size];
        new Random(601709).NextBytes(bytes);
        return bytes;
    }

    // One picture of the pattern in BT.601 I420, GStreamer's own layout.
    private static byte[] Render(int width, int height, string pattern) => RunToFile(p =>
    [
        p.Add("videotestsrc", null, ("num-buffers", 1), ("pattern", pattern)),
        p.Add("capsfilter", null, ("caps", $"video/x-raw,format=I420,width={width},height={height},framerate=30/1,colorimetry=bt601,chroma-site=jpeg")),
    ]);

    // The picture through videoconvert into the mix's colour, chroma left unresampled as the scalers ran it.
    private static byte[] ConvertWithGStreamer(byte[] bt601, I420Planes planes, int width, int height)
    {
        var input = Path.Combine(Path.GetTempPath(), $"mixcolour-{Guid.NewGuid():N}.in");
        File.WriteAllBytes(input, bt601);
        try
        {
            return RunToFile(p =>
            [
                p.Add("filesrc", null, ("location", input)),
                p.Add("rawvideoparse", null, ("format", "i420"), ("width", width), ("height", height), ("colorimetry", "bt601"), ("frame-size", bt601.Length),
                    ("plane-offsets", $"<{planes.YOffset},{planes.UOffset},{planes.VOffset}>"), ("plane-strides", $"<{planes.YStride},{planes.UStride},{planes.VStride}>")),
                p.Add("videoconvert", null, ("chroma-mode", "none")),
                p.Add("capsfilter", null, ("caps", $"video/x-raw,format=I420,{ElementFactory.MixColour}")),
            ]);
        }
        finally { File.Delete(input); }
    }

    private static byte[] RunToFile(Func<StandalonePipeline, Element[]> chain)
    {
        var path = Path.Combine(Path.GetTempPath(), $"mixcolour-{Guid.NewGuid():N}.yuv");
        try
        {
            using (var p = new StandalonePipeline())
            {
                p.AddChain([.. chain(p), p.Add("filesink", null, ("location", path))]);
                p.Play();
                for (var deadline = DateTime.UtcNow.AddSeconds(10); !p.Failed && DateTime.UtcNow < deadline;) Thread.Sleep(10);
                Assert.Equal(["end of stream"], p.Errors);
            }
            return File.ReadAllBytes(path);
        }
        finally { File.Delete(path); }
    }
}
