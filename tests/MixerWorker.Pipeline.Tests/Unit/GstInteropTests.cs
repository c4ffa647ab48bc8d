using MixerWorker.Pipeline.Builders;
using MixerWorker.Pipeline.Encoding;
using MixerWorker.Pipeline.Interop;
using MixerWorker.Pipeline.Tests.Integration;
using Xunit;

namespace MixerWorker.Pipeline.Tests.Unit;

/// <summary>Against the GStreamer installed here (1.22, x264, no GPU): the parts of the interop layer
/// that the plans and builders depend on.</summary>
public class GstInteropTests
{
    private static readonly VideoEncodeSettings Settings = new(320, 240, 30, 1500, 15);

    // GStreamer serialises flags by their name ("Zero latency" on 1.22), not the nick Set takes.
    private static readonly string[] ZeroLatency = ["zerolatency", "Zero latency"];

    private static EncoderChainPlan SoftwarePlan()
    {
        var builder = new EncoderChainBuilder(new GstElementProbe());
        return builder.Plan(builder.Select(EncoderPreference.Software), Settings);
    }

    [Fact]
    public void The_self_check_passes() => GstRuntime.SelfCheck();

    [Fact]
    public void The_real_probe_sees_this_host()
    {
        var probe = new GstElementProbe();
        Assert.True(probe.GStreamerVersion >= new Version(1, 22), $"GStreamer {probe.GStreamerVersion}");
        Assert.True(probe.Has("x264enc"));
        Assert.False(probe.Has("no-such-element"));
        // No GPU on this machine: the nvcodec plugin registers no encoder and there is no VA device.
        Assert.Equal("software", new EncoderChainBuilder(probe).Select(EncoderPreference.Auto).Name);
    }

    [Fact]
    public void The_software_plan_builds_with_its_properties_set()
    {
        var plan = SoftwarePlan();
        var elements = ElementFactory.CreateChain(plan, i => $"test.venc{i}");
        try
        {
            var x264 = elements[plan.EncoderIndex];
            Assert.Equal("x264enc", x264.FactoryName);
            Assert.Equal("test.venc0", x264.Name);
            Assert.Contains(x264.Get("tune"), ZeroLatency);
            Assert.Equal("ultrafast", x264.Get("speed-preset"));
            Assert.Equal("0", x264.Get("bframes"));
            Assert.Equal("1500", x264.Get("bitrate"));
            Assert.Equal("15", x264.Get("key-int-max"));
            Assert.Equal("0", x264.Get("rc-lookahead"));
            Assert.Equal("false", x264.Get("b-adapt"));
            // A caps property serialises as an escaped, quoted string.
            var caps = elements[1].Get("caps")!.Replace("\\", "").Trim('"');
            Assert.Equal("capsfilter", elements[1].FactoryName);
            Assert.Contains("video/x-h264", caps);
            Assert.Contains("profile=(string)constrained-baseline", caps);
            Assert.Contains("stream-format=(string)byte-stream", caps);
        }
        finally { elements.ForEach(e => e.Dispose()); }
    }

    [Fact]
    public void An_optional_property_the_element_lacks_is_skipped()
    {
        using var e = ElementFactory.Create(new ElementSpec("x264enc", ("bitrate", 900)).WithOptional("no-such-property", 1), "test.optional");
        Assert.Equal("900", e.Get("bitrate"));
        Assert.Throws<GstException>(() => ElementFactory.Create(new ElementSpec("x264enc", ("no-such-property", 1)), "test.required"));
    }

    [Fact]
    public void Creating_a_missing_element_fails_with_the_factory_name()
    {
        var e = Assert.Throws<GstException>(() => Element.Make("no-such-element", "x"));
        Assert.Contains("'no-such-element'", e.Message);
    }

    [Theory]
    [InlineData("no-such-property", "1", "has no property 'no-such-property'")]
    [InlineData("bframes", "lots", "'lots' is not a valid value for property 'bframes'")]
    [InlineData("tune", "turbo", "'turbo' is not a valid value for property 'tune'")]
    [InlineData("speed-preset", "warp", "'warp' is not a valid value for property 'speed-preset'")]
    [InlineData("b-adapt", "maybe", "'maybe' is not a valid value for property 'b-adapt'")]
    [InlineData("bframes", "99", "bframes")]  // parses, but is outside 0-16: GLib would only print a warning
    public void Set_fails_loudly(string property, string value, string message)
    {
        using var x264 = Element.Make("x264enc", "test.set");
        var before = x264.Get("bframes");
        var e = Assert.Throws<GstException>(() => x264.Set(property, value));
        Assert.Contains(message, e.Message);
        Assert.Equal(before, x264.Get("bframes"));
    }

    [Fact]
    public void Set_takes_numbers_booleans_and_strings_in_invariant_form()
    {
        using var e = Element.Make("x264enc", "test.types");
        e.Set("bitrate", 3000);
        e.Set("b-adapt", true);
        e.Set("tune", "zerolatency");
        e.Set("ip-factor", 1.5);
        Assert.Equal(("3000", "true", "1.5"), (e.Get("bitrate"), e.Get("b-adapt"), e.Get("ip-factor")));
        Assert.Contains(e.Get("tune"), ZeroLatency);
        Assert.Throws<GstException>(() => e.Get("no-such-property"));
    }

    [Fact]
    public void A_real_pipeline_negotiates_what_the_plan_promises()
    {
        using var pipeline = Element.NewPipeline();
        using var src = Element.Make("videotestsrc", "test.src");
        using var compositor = Element.Make("compositor", "test.compositor");
        using var rawCaps = ElementFactory.CapsFilter("test.vcaps", "video/x-raw,format=I420,width=320,height=240,framerate=30/1,pixel-aspect-ratio=1/1");
        using var sink = Element.Make("fakesink", "test.sink");
        src.Set("num-buffers", 5);
        sink.Set("sync", false);
        var encoder = SoftwarePlan().Elements.Select((spec, i) => ElementFactory.Create(spec, $"test.venc{i}")).ToList();
        try
        {
            Element[] chain = [src, compositor, rawCaps, .. encoder, sink];
            ElementFactory.AddChain(pipeline, chain);

            Assert.NotEqual(StateChange.Failure, pipeline.SetState(State.Playing));
            Assert.Equal(State.Playing, pipeline.GetState(TimeSpan.FromSeconds(10), out var result));
            Assert.Equal(StateChange.Success, result);

            using var rawPad = rawCaps.StaticPad("src");
            using var h264Pad = encoder[^1].StaticPad("src");
            var h264 = WaitForCaps(h264Pad);
            Assert.StartsWith("video/x-h264", h264);
            Assert.Contains("profile=(string)constrained-baseline", h264);
            Assert.Contains("stream-format=(string)byte-stream", h264);
            var raw = rawPad.CurrentCaps();
            Assert.NotNull(raw);
            Assert.Contains("format=(string)I420", raw);
            Assert.Contains("width=(int)320", raw);
        }
        finally
        {
            pipeline.SetState(State.Null);
            encoder.ForEach(e => e.Dispose());
        }
    }

    /// <summary>
    /// A bus's raw tee puts the allocation query to its encoder itself, even after the encoder refused
    /// the caps; x264 that failed to open answers it with a null encoder and the process dies
    /// (AllocationGuard). The chain's encoder is asked only about caps it accepted: the working x264
    /// still answers (its pool and video meta reach the compositor), the refusing one is never asked
    /// and the stream fails "not-negotiated", as a refused encoder does.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Behind_a_tee_an_encoder_is_asked_to_allocate_only_for_caps_it_accepted(bool refuses)
    {
        var plan = refuses ? new EncoderChainBuilder(new GstElementProbe()).Plan(new EncoderFallbackTests.RefusingBackend("refusing"), Settings) : SoftwarePlan();
        var source = Element.Make("videotestsrc", "test.tee.src");
        source.Set("is-live", true);
        source.Set("num-buffers", 3);
        List<Element> chain = [source, ElementFactory.CapsFilter("test.tee.caps", "video/x-raw,format=I420,width=320,height=240,framerate=30/1"), Element.Make("tee", "test.tee")];
        chain.AddRange(ElementFactory.CreateChain(plan, i => $"test.tee.venc{i}"));
        chain.Add(Element.Make("fakesink", "test.tee.sink"));
        var answered = 0;
        using var encoderSink = chain[3 + plan.EncoderIndex].StaticPad("sink");
        using var probe = Callbacks.AddProbe(encoderSink, ProbeType.QueryDownstream | ProbeType.Pull, info =>
        {
            if (info.Query == QueryType.Allocation) Interlocked.Increment(ref answered);
            return ProbeReturn.Ok;
        });

        var failure = TrialRun.Run(chain, TimeSpan.FromSeconds(10));

        if (refuses)
        {
            Assert.Contains("not-negotiated", failure);
            Assert.Equal(0, answered);
        }
        else
        {
            Assert.Null(failure);
            Assert.True(answered >= 1, "the working encoder answered the tee's allocation query");
        }
    }

    // Caps reach the encoder's output with its first frame, a little after the state change.
    private static string WaitForCaps(Pad pad)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (DateTime.UtcNow < deadline)
        {
            if (pad.CurrentCaps() is { } caps) return caps;
            Thread.Sleep(10);
        }
        throw new TimeoutException($"no caps on {pad} within 10 s");
    }
}
