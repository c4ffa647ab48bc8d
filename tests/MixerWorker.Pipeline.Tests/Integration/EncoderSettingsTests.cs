using MixerWorker.Pipeline.Builders;
using MixerWorker.Pipeline.Encoding;
using MixerWorker.Pipeline.Interop;
using MixerWorker.Testbed;
using MixerWorker.Testbed.Reading;
using Xunit;
using Xunit.Abstractions;

namespace MixerWorker.Pipeline.Tests.Integration;

/// <summary>
/// What the software encoder really does, read from the H.264 it writes rather than from its
/// properties: the chain a bus builds (same planner, same element factory) encodes a few pictures,
/// and x264's own record of its settings (an SEI with the first picture) is read back. The published
/// stream cannot be used for this: that SEI goes out before a bus's SRT output has connected.
/// </summary>
public sealed class EncoderSettingsTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData(320, 180, 600, 1)]
    [InlineData(1280, 720, 2500, 1)]
    [InlineData(1920, 1080, 4000, 3)]
    public void A_bus_encodes_with_ultrafast_zerolatency_settings_trellis_off_no_b_frames_and_its_thread_count(int width, int height, int kbps, int threads)
    {
        var options = EncodedOptions(width, height, BusEncoder(width, height, kbps));
        output.WriteLine(string.Join(" ", options.Select(o => $"{o.Key}={o.Value}")));

        // ultrafast as x264 defines it: nothing x264enc's own property defaults switched back on.
        Assert.Equal("0", options["trellis"]);
        Assert.Equal("0", options["cabac"]);
        Assert.Equal("1", options["ref"]);
        Assert.Equal("dia", options["me"]);
        Assert.Equal("0", options["subme"]);
        Assert.Equal("0", options["8x8dct"]);
        Assert.Equal("0", options["mbtree"]);
        Assert.Equal("0", options["weightp"]);
        Assert.Equal("0", options["aq"]);
        Assert.Equal("0", options["scenecut"]);
        Assert.Equal("0:0:0", options["deblock"]);
        Assert.Equal("0:0", options["analyse"]);
        // zerolatency and the product's stream: no B-frames, no look-ahead, a keyframe every second, CBR.
        Assert.Equal("0", options["bframes"]);
        Assert.Equal("0", options["rc_lookahead"]);
        Assert.Equal("30", options["keyint"]);
        Assert.Equal("cbr", options["rc"]);
        Assert.Equal(kbps.ToString(), options["bitrate"]);
        // One encoding thread up to 720p30, slice threads above (SoftwareX264Backend.Threads).
        Assert.Equal(threads.ToString(), options["threads"]);
        Assert.Equal(threads > 1 ? "1" : "0", options["sliced_threads"]);
    }

    /// <summary>
    /// Up to 720p30 a bus's encoder does the work of the plainest ultrafast/zerolatency x264enc, the one
    /// bench/compare.sh's hand-written graph uses (its ffmpeg's libx264 records the same options too):
    /// every option x264 records is the same, so no property the backend sets adds work (a look-ahead,
    /// trellis, a larger VBV buffer, more references) that a cost comparison would charge to the rest
    /// of the worker, and none leaves out what the references do.
    /// </summary>
    [Theory]
    [InlineData(640, 360, 1000)]
    [InlineData(1280, 720, 2500)]
    public void Up_to_720p_a_bus_encodes_with_every_setting_of_a_plain_ultrafast_zerolatency_x264enc(int width, int height, int kbps)
    {
        var bus = EncodedOptions(width, height, BusEncoder(width, height, kbps));
        var plain = EncodedOptions(width, height,
            [new ElementSpec("x264enc", ("tune", "zerolatency"), ("speed-preset", "ultrafast"), ("bframes", 0), ("key-int-max", 30), ("threads", 1), ("bitrate", kbps))]);
        output.WriteLine(string.Join(" ", bus.Select(o => $"{o.Key}={o.Value}")));
        var differing = plain.Keys.Union(bus.Keys)
            .Where(k => plain.GetValueOrDefault(k) != bus.GetValueOrDefault(k))
            .Select(k => $"{k}: bus {bus.GetValueOrDefault(k) ?? "-"}, plain {plain.GetValueOrDefault(k) ?? "-"}")
            .ToList();
        Assert.Empty(differing);
        Assert.True(bus.Count > 40, $"only {bus.Count} options read");
    }

    private static IReadOnlyList<ElementSpec> BusEncoder(int width, int height, int kbps)
    {
        var encoders = new EncoderChainBuilder(new GstElementProbe());
        return encoders.Plan(encoders.Select(EncoderPreference.Software), new VideoEncodeSettings(width, height, 30, kbps, 30)).Elements;
    }

    // Encodes a few test pictures through the chain and reads x264's record of its settings back.
    private static IReadOnlyDictionary<string, string> EncodedOptions(int width, int height, IReadOnlyList<ElementSpec> encoder)
    {
        var file = Path.Combine(Path.GetTempPath(), $"x264-settings-{Guid.NewGuid():N}.h264");
        List<Element> chain = [];
        try
        {
            using (var p = new StandalonePipeline())
            {
                var src = p.Add("videotestsrc", null, ("num-buffers", 5));
                var raw = p.Add("capsfilter", null, ("caps", $"video/x-raw,format=I420,width={width},height={height},framerate=30/1"));
                chain = [.. encoder.Select((e, i) => ElementFactory.Create(e, $"venc{i}"))];
                foreach (var e in chain) p.Pipeline.Add(e);
                var sink = p.Add("filesink", null, ("location", file));
                p.AddChain([src, raw, .. chain, sink]);
                p.Play();
                var deadline = DateTime.UtcNow.AddSeconds(20);
                while (!p.Failed && DateTime.UtcNow < deadline) Thread.Sleep(20);
                Assert.Equal(["end of stream"], p.Errors);
            }
            var options = X264Options.FromElementaryStream(File.ReadAllBytes(file));
            Assert.NotNull(options);
            return options;
        }
        finally
        {
            foreach (var e in chain) e.Dispose();
            File.Delete(file);
        }
    }
}
