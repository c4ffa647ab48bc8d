using MixerWorker.Pipeline.Builders;
using MixerWorker.Pipeline.Interop;
using MixerWorker.Testbed;
using Xunit;
using Xunit.Abstractions;

namespace MixerWorker.Pipeline.Tests.Unit;

/// <summary>
/// The BT.601 → BT.709 conversion of an SD camera's scaled pictures against GStreamer's own converter (videoconvert,
/// chroma left unresampled, as the scalers ran it), and which sources it takes.
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

    // Odd sizes on purpose: rows padded to 4 bytes, a last chroma column and row covering one luma pixel, the
    // vector path's tail; smpte's bars and colors' gradients reach the corners of the colour space (clamping).
    [Theory]
    [InlineData(320, 180, "smpte")]
    [InlineData(320, 180, "colors")]
    [InlineData(97, 55, "smpte")]
    [InlineData(66, 35, "colors")]
    public void A_picture_converts_as_GStreamer_converts_it(int width, int height, string pattern)
    {
        var bt601 = Render(width, height, pattern, convert: false);
        var expected = Render(width, height, pattern, convert: true);
        var planes = I420Planes.Default(width, height);
        Assert.Equal(planes.Size(height), bt601.Length);
        Assert.Equal(bt601.Length, expected.Length);

        var converted = bt601.ToArray();
        MixColourConversion.Bt601ToBt709(converted, planes, width, height);

        int worst = 0, changed = 0;
        foreach (var i in PictureBytes(planes, width, height))
        {
            worst = Math.Max(worst, Math.Abs(converted[i] - expected[i]));
            if (converted[i] != bt601[i]) changed++;
        }
        output.WriteLine($"{width}x{height} {pattern}: {changed} bytes changed, worst difference from videoconvert {worst}");
        Assert.True(changed > width * height / 4, "the conversion changed the picture");
        // GStreamer rounds its matrix to steps of 1/256; this one is finer.
        Assert.True(worst <= 2, $"within two steps of videoconvert (worst {worst})");
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

    // One picture of the pattern in BT.601 I420, as it is or through videoconvert to the mix's colour.
    private static byte[] Render(int width, int height, string pattern, bool convert)
    {
        var path = Path.Combine(Path.GetTempPath(), $"mixcolour-{Guid.NewGuid():N}.yuv");
        try
        {
            using (var p = new StandalonePipeline("mix-colour"))
            {
                var src = p.Add("videotestsrc", null, ("num-buffers", 1), ("pattern", pattern));
                var caps = p.Add("capsfilter", null, ("caps", $"video/x-raw,format=I420,width={width},height={height},framerate=30/1,colorimetry=bt601,chroma-site=jpeg"));
                Element[] middle = convert
                    ? [p.Add("videoconvert", null, ("chroma-mode", "none")), p.Add("capsfilter", null, ("caps", $"video/x-raw,format=I420,{ElementFactory.MixColour}"))]
                    : [];
                var sink = p.Add("filesink", null, ("location", path));
                p.AddChain([src, caps, .. middle, sink]);
                p.Play();
                for (var deadline = DateTime.UtcNow.AddSeconds(10); !p.Failed && DateTime.UtcNow < deadline;) Thread.Sleep(10);
                Assert.Equal(["end of stream"], p.Errors);
            }
            return File.ReadAllBytes(path);
        }
        finally { File.Delete(path); }
    }
}
