using MixerWorker.Pipeline.Interop;
using MixerWorker.Testbed;
using MixerWorker.Testbed.Reading;
using MixerWorker.Testbed.Stamps;
using Xunit;
using Xunit.Abstractions;

namespace MixerWorker.Pipeline.Tests.Stamps;

/// <summary>
/// Stamps through the real media path, without the network: burnt into raw pictures, x264 at the
/// feed's bitrate, decoded, scaled into one box of a compositor, x264 again at a bus's bitrate,
/// decoded, read. Runs as fast as the CPU allows (not live), so it takes a second or two.
/// </summary>
public sealed class StampMediaTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData(320, 180, 400, 160, 90, 320, 180, 600)]   // a 2x2 box of the tests' 320x180 bus
    [InlineData(320, 180, 400, 106, 60, 320, 180, 600)]   // a 3x3 box of it: the smallest the stamp is made for
    [InlineData(1280, 720, 3000, 106, 60, 320, 180, 600)] // a 720p camera shrunk 12x
    [InlineData(1280, 720, 3000, 320, 180, 640, 360, 1000)] // the issue's reference: 720p into a 2x2 of 640x360
    public void Every_picture_reads_back_after_two_encodes_and_scaling_into_a_box(
        int feedW, int feedH, int feedKbps, int boxW, int boxH, int busW, int busH, int busKbps)
    {
        const int pictures = 40;
        const int boxX = 2 * 53 + 1, boxY = 60; // an odd x, like a 3x3 grid's middle column
        using var p = new StandalonePipeline();
        var src = p.Add("videotestsrc", null, ("is-live", false), ("num-buffers", pictures), ("pattern", "solid-color"), ("foreground-color", 0xFF2040E0u));
        var raw = p.Add("capsfilter", null, ("caps", $"video/x-raw,format=I420,width={feedW},height={feedH},framerate=30/1"));
        var feedEnc = p.Add("x264enc", null, ("tune", "zerolatency"), ("speed-preset", "ultrafast"), ("bitrate", feedKbps), ("key-int-max", 30));
        var feedDec = p.Add("avdec_h264");
        var scale = p.Add("videoscale");
        var boxCaps = p.Add("capsfilter", null, ("caps", $"video/x-raw,format=I420,width={boxW},height={boxH}"));
        var mixer = p.Add("compositor", null, ("background", "black"));
        var busCaps = p.Add("capsfilter", null, ("caps", $"video/x-raw,format=I420,width={busW},height={busH},framerate=30/1"));
        var busEnc = p.Add("x264enc", null, ("tune", "zerolatency"), ("speed-preset", "ultrafast"), ("bitrate", busKbps), ("key-int-max", 30));
        var busDec = p.Add("avdec_h264");
        var sink = p.Add("appsink", null, ("sync", false), ("max-buffers", 0u));
        p.AddChain(src, raw, feedEnc, feedDec, scale, boxCaps);
        using (var boxPad = mixer.RequestPad("sink_%u"))
        {
            boxPad.Set("xpos", boxX);
            boxPad.Set("ypos", boxY);
            using var boxOut = boxCaps.StaticPad("src");
            boxOut.Link(boxPad);
        }
        p.AddChain(mixer, busCaps, busEnc, busDec, sink);
        using var rawPad = raw.StaticPad("src");
        using var burner = StampBurner.Attach(rawPad, feedW, feedH, 30);
        p.Play();

        var box = new StampBox("box", "cam", 30, boxX, boxY, boxW, boxH);
        var reads = new List<StampRead?>();
        while (reads.Count < pictures)
        {
            var sample = Native.gst_app_sink_try_pull_sample(sink.Handle, 10_000_000_000);
            if (sample == 0) break;
            try
            {
                var caps = NativeString.Owned(Native.gst_caps_to_string(Native.gst_sample_get_caps(sample))) ?? "";
                reads.Add(StampBurner.ReadBoxes(Native.gst_sample_get_buffer(sample), OutputReader.CapsInt(caps, "width"), OutputReader.CapsInt(caps, "height"), [box])![0]);
            }
            finally { Native.gst_mini_object_unref(sample); }
        }
        Assert.DoesNotContain(p.Errors, e => e != "end of stream");
        output.WriteLine($"margins (0-128): {string.Join(" ", reads.Select(r => r?.Margin.ToString() ?? "X"))}");
        Assert.Equal(pictures, reads.Count);
        Assert.All(reads, r => Assert.True(r is { Margin: > 64 }, "every cell well clear of the threshold"));
        Assert.Equal(Enumerable.Range(0, pictures).Select(i => (byte)i), reads.Select(r => r!.Value.Stamp.Frame));
    }
}
