using MixerWorker.Pipeline.Encoding;
using Xunit;

namespace MixerWorker.Pipeline.Tests.Unit;

public class EncoderChainTests
{
    private const string H264Caps = "video/x-h264,profile=constrained-baseline,stream-format=byte-stream,alignment=au";
    private static readonly VideoEncodeSettings Settings = new(1280, 720, 30, 2500, 30);

    private static EncoderChainPlan Plan(FakeElementProbe probe, EncoderPreference preference = EncoderPreference.Auto, VideoEncodeSettings? settings = null)
    {
        var builder = new EncoderChainBuilder(probe);
        return builder.Plan(builder.Select(preference), settings ?? Settings);
    }

    private static string[] Factories(EncoderChainPlan plan) => [.. plan.Elements.Select(e => e.Factory)];

    private static PropertySpec Property(ElementSpec spec, string name) =>
        Assert.Single(spec.Properties, p => p.Name == name);

    private static void AssertRequired(ElementSpec spec, string name, object value)
    {
        var p = Property(spec, name);
        Assert.Equal(value, p.Value);
        Assert.False(p.Optional, $"{spec.Factory} {name} must be required");
    }

    private static void AssertOptional(ElementSpec spec, string name, object value)
    {
        var p = Property(spec, name);
        Assert.Equal(value, p.Value);
        Assert.True(p.Optional, $"{spec.Factory} {name} must be optional");
    }

    // What browsers take, right behind the encoder, which EncoderIndex finds (its sink pad gets the allocation guard).
    private static void EndsInBrowserH264(EncoderChainPlan plan)
    {
        Assert.Equal(("capsfilter", (object)H264Caps), (plan.Elements[^1].Factory, plan.Elements[^1].Get("caps")!));
        Assert.Matches("^(x264|nvh264|nvcudah264|vah264|vah264lp)enc$", plan.Elements[plan.EncoderIndex].Factory);
    }

    [Theory]
    [InlineData("nvenc", "1.24.0", "nvcudah264enc", "vah264lpenc", "x264enc")]
    [InlineData("nvenc", "1.26.0", "nvh264enc", "vah264enc", "x264enc")]
    [InlineData("va", "1.26.0", "nvcudah264enc", "vah264enc", "x264enc")]   // 1.26 has no nvcudah264enc: that probe is stale
    [InlineData("va", "1.24.0", "nvh264enc", "vah264lpenc", "x264enc")]     // before 1.26 nvh264enc is the legacy encoder
    [InlineData("va", "1.22.0", "vah264lpenc", "x264enc")]
    [InlineData("software", "1.22.0", "x264enc")]
    [InlineData("software", "1.22.0", "x264enc", "vapostproc", "cudaupload", "cudaconvert")]
    public void Auto_prefers_nvenc_then_va_then_software(string expected, string version, params string[] factories) =>
        Assert.Equal(expected, new EncoderChainBuilder(new FakeElementProbe(version, factories)).Select(EncoderPreference.Auto).Name);

    [Fact]
    public void Auto_without_any_encoder_names_the_package()
    {
        var e = Assert.Throws<InvalidOperationException>(() => new EncoderChainBuilder(new FakeElementProbe("1.22.0", "videoconvert")).Select(EncoderPreference.Auto));
        Assert.Equal("no H.264 encoder is available: install gstreamer1.0-plugins-ugly for x264enc", e.Message);
    }

    [Theory]
    [InlineData(EncoderPreference.Nvenc, "nvenc")]
    [InlineData(EncoderPreference.Va, "va")]
    [InlineData(EncoderPreference.Software, "software")]
    public void An_explicit_preference_is_honoured(EncoderPreference preference, string name)
    {
        var everything = new FakeElementProbe("1.24.0", "nvcudah264enc", "vah264enc", "x264enc");
        Assert.Equal(name, new EncoderChainBuilder(everything).Select(preference).Name);
    }

    [Theory]
    [InlineData(EncoderPreference.Nvenc, "nvenc")]
    [InlineData(EncoderPreference.Va, "va")]
    [InlineData(EncoderPreference.Software, "software")]
    public void An_explicit_preference_for_a_missing_backend_fails_clearly(EncoderPreference preference, string name)
    {
        var nothing = new FakeElementProbe("1.24.0", "videoconvert", "cudaupload", "cudaconvert", "vapostproc");
        var e = Assert.Throws<InvalidOperationException>(() => new EncoderChainBuilder(nothing).Select(preference));
        Assert.Equal($"encoder backend '{name}' was requested but its GStreamer elements are not available on this host", e.Message);
    }

    [Fact]
    public void An_explicit_preference_does_not_fall_back()
    {
        var softwareOnly = new FakeElementProbe("1.24.0", "x264enc");
        Assert.Throws<InvalidOperationException>(() => new EncoderChainBuilder(softwareOnly).Select(EncoderPreference.Nvenc));
    }

    [Fact]
    public void Software_encodes_the_compositor_output_directly()
    {
        var plan = Plan(new FakeElementProbe("1.22.0", "x264enc", "videoconvert"), settings: Settings with { BitrateKbps = 4000, GopFrames = 50 });
        Assert.Equal("software", plan.Backend);
        Assert.Equal(["x264enc", "capsfilter"], Factories(plan)); // the compositor already gives system-memory I420
        var x264 = plan.Elements[0];
        AssertRequired(x264, "tune", "zerolatency");
        AssertRequired(x264, "bframes", 0);
        AssertRequired(x264, "key-int-max", 50);
        AssertRequired(x264, "bitrate", 4000);
        AssertRequired(x264, "speed-preset", "ultrafast");
        AssertRequired(x264, "rc-lookahead", 0);
        AssertRequired(x264, "b-adapt", false);
        // Set on purpose, because any set property overrides the preset: x264enc's trellis default is on.
        AssertRequired(x264, "trellis", false);
        AssertRequired(x264, "threads", 1);
        AssertRequired(x264, "sliced-threads", false);
        EndsInBrowserH264(plan);
        Assert.Equal("software: x264enc tune=zerolatency speed-preset=ultrafast bitrate=4000 key-int-max=50 bframes=0 b-adapt=False rc-lookahead=0 " +
            $"mb-tree=False trellis=False dct8x8=False cabac=False weightb=False ref=1 threads=1 sliced-threads=False ! {H264Caps}",
            plan.ToString());
    }

    [Theory]
    [InlineData(640, 360, 30, 1)]
    [InlineData(1280, 720, 30, 1)]
    [InlineData(1280, 720, 60, 2)]
    [InlineData(1920, 1080, 30, 3)]
    [InlineData(3840, 2160, 60, 4)]
    public void Software_uses_one_thread_up_to_720p30_and_slice_threads_above(int width, int height, int fps, int threads)
    {
        var x264 = Plan(new FakeElementProbe("1.22.0", "x264enc"), settings: new VideoEncodeSettings(width, height, fps, 2000, fps)).Elements[0];
        AssertRequired(x264, "threads", threads);
        AssertRequired(x264, "sliced-threads", threads > 1);
    }

    [Fact]
    public void Nvenc_on_1_22_uses_the_legacy_low_latency_preset()
    {
        var plan = Plan(new FakeElementProbe("1.22.0", "nvcudah264enc", "x264enc"));
        Assert.Equal(["videoconvert", "capsfilter", "nvcudah264enc", "capsfilter"], Factories(plan));
        var enc = plan.Elements[2];
        AssertRequired(enc, "preset", "low-latency-hp");
        AssertRequired(enc, "rate-control", "cbr");
        AssertRequired(enc, "bitrate", 2500);
        AssertRequired(enc, "gop-size", 30);
        AssertRequired(enc, "zero-reorder-delay", true);
        Assert.Null(enc.Get("tune")); // 1.22 has no tune property
    }

    [Fact]
    public void Nvenc_on_1_24_uses_p1_and_an_optional_tune()
    {
        var enc = Plan(new FakeElementProbe("1.24.3", "nvcudah264enc")).Elements.Single(e => e.Factory == "nvcudah264enc");
        AssertRequired(enc, "preset", "p1");
        AssertOptional(enc, "tune", "ultra-low-latency");
        AssertRequired(enc, "gop-size", 30);
    }

    [Theory]
    [InlineData("1.26.0")]
    [InlineData("1.28.1")]
    public void Nvenc_from_1_26_uses_nvh264enc(string version)
    {
        var plan = Plan(new FakeElementProbe(version, "nvh264enc"), settings: Settings with { GopFrames = 60, BitrateKbps = 8000 });
        Assert.Equal("nvenc", plan.Backend);
        var enc = plan.Elements.Single(e => e.Factory == "nvh264enc");
        AssertRequired(enc, "rc-mode", "cbr");
        AssertRequired(enc, "gop-size", 60);
        AssertRequired(enc, "bitrate", 8000);
        AssertRequired(enc, "zerolatency", true);
        AssertRequired(enc, "preset", "p1");
        Assert.DoesNotContain(plan.Elements, e => e.Factory == "nvcudah264enc");
    }

    [Theory]
    [InlineData("1.22.0", "nvcudah264enc")]
    [InlineData("1.26.0", "nvh264enc")]
    public void Nvenc_converts_on_the_gpu_when_it_can(string version, string encoder)
    {
        var plan = Plan(new FakeElementProbe(version, encoder, "cudaupload", "cudaconvert", "videoconvert"));
        Assert.Equal(["cudaupload", "cudaconvert", "capsfilter", encoder, "capsfilter"], Factories(plan));
        Assert.Equal("video/x-raw(memory:CUDAMemory),format=NV12", plan.Elements[2].Get("caps"));
        EndsInBrowserH264(plan);
    }

    [Theory]
    [InlineData("cudaupload")]
    [InlineData("cudaconvert")]
    [InlineData(null)]
    public void Nvenc_converts_on_the_cpu_without_both_cuda_elements(string? present)
    {
        string[] factories = present is null ? ["nvh264enc"] : ["nvh264enc", present];
        var plan = Plan(new FakeElementProbe("1.26.0", factories));
        Assert.Equal(["videoconvert", "capsfilter", "nvh264enc", "capsfilter"], Factories(plan));
        Assert.Equal("video/x-raw,format=NV12", plan.Elements[1].Get("caps"));
    }

    [Fact]
    public void Va_prefers_the_low_power_encoder_and_converts_on_the_gpu()
    {
        var plan = Plan(new FakeElementProbe("1.24.0", "vah264enc", "vah264lpenc", "vapostproc", "x264enc"), settings: Settings with { GopFrames = 25 });
        Assert.Equal("va", plan.Backend);
        Assert.Equal(["vapostproc", "capsfilter", "vah264lpenc", "capsfilter"], Factories(plan));
        Assert.Equal("video/x-raw(memory:VAMemory),format=NV12", plan.Elements[1].Get("caps"));
        var enc = plan.Elements[2];
        AssertRequired(enc, "b-frames", 0);
        AssertRequired(enc, "key-int-max", 25);
        AssertRequired(enc, "bitrate", 2500);
        AssertOptional(enc, "rate-control", "cbr");
        AssertOptional(enc, "target-usage", 7);
        EndsInBrowserH264(plan);
    }

    [Fact]
    public void Va_falls_back_to_the_full_encoder_and_cpu_conversion()
    {
        var plan = Plan(new FakeElementProbe("1.22.0", "vah264enc"));
        Assert.Equal(["videoconvert", "capsfilter", "vah264enc", "capsfilter"], Factories(plan));
        Assert.Equal("video/x-raw,format=NV12", plan.Elements[1].Get("caps"));
    }

    public static TheoryData<string, string[]> EveryPlan => new()
    {
        { "1.22.0", ["x264enc"] },
        { "1.22.0", ["nvcudah264enc"] },
        { "1.24.0", ["nvcudah264enc", "cudaupload", "cudaconvert"] },
        { "1.26.0", ["nvh264enc", "cudaupload", "cudaconvert"] },
        { "1.24.0", ["vah264lpenc", "vapostproc"] },
        { "1.22.0", ["vah264enc"] },
    };

    // Browsers get exactly what is published; a B-frame would add reordering delay or break decoders.
    [Theory]
    [MemberData(nameof(EveryPlan))]
    public void No_plan_allows_b_frames(string version, string[] factories)
    {
        var plan = Plan(new FakeElementProbe(version, factories));
        var bFrames = plan.Elements.SelectMany(e => e.Properties).Where(p => p.Name is "bframes" or "b-frames").ToList();
        Assert.All(bFrames, p => Assert.Equal(0, p.Value));
        Assert.DoesNotContain(plan.Elements.SelectMany(e => e.Properties), p => p.Name == "b-adapt" && !Equals(p.Value, false));
        if (plan.Backend is "software" or "va") Assert.NotEmpty(bFrames);
        EndsInBrowserH264(plan);
    }

    [Fact]
    public void Element_specs_print_as_launch_fragments()
    {
        Assert.Equal("video/x-raw,format=NV12", ElementSpec.CapsFilter("video/x-raw,format=NV12").ToString());
        Assert.Equal("queue", new ElementSpec("queue").ToString());
        Assert.Equal("x a=1 b=True", new ElementSpec("x", ("a", 1)).WithOptional("b", true).ToString());
        Assert.Null(new ElementSpec("x").Get("missing"));
    }

    [Fact]
    public void Frame_states_name_their_caps()
    {
        Assert.Equal("video/x-raw,format=I420", EncoderChainBuilder.CompositorOutput.Caps);
        Assert.Equal("video/x-raw(memory:CUDAMemory),format=NV12", new FrameState(FrameLocation.Cuda, "NV12").Caps);
        Assert.Equal("video/x-raw(memory:VAMemory),format=NV12", new FrameState(FrameLocation.Va, "NV12").Caps);
    }
}
