using MixerWorker.Pipeline.Builders;
using MixerWorker.Pipeline.Interop;
using Xunit;

namespace MixerWorker.Pipeline.Tests.Unit;

/// <summary>
/// A bus's live aggregators start their output where the pipeline's running time is (ElementFactory.StartOnTheClock):
/// GStreamer chooses it from the first buffer, except on the versions whose own choice, made before the pipeline first
/// plays, can take the clock's time instead (1.24 to 1.27): there one built before that is told to start at 0.
/// </summary>
public class AggregatorStartTests
{
    [Theory]
    [InlineData("1.22.0", false, "first")]
    [InlineData("1.24.0", false, "set")]
    [InlineData("1.24.12", false, "set")]
    [InlineData("1.26.2", false, "set")]
    [InlineData("1.26.2", true, "first")]
    [InlineData("1.27.90", false, "set")]
    [InlineData("1.28.0", false, "first")]
    public void The_start_is_given_only_where_GStreamer_can_choose_it_wrong(string version, bool playing, string selection) =>
        Assert.Equal(selection, ElementFactory.StartSelection(Version.Parse(version), playing));

    /// <summary>
    /// Told to start at 0 ("set", start-time left at its default) before the pipeline plays, a force-live compositor
    /// makes its first frame at running time 0, as one that chooses from its first buffer does: the selection given
    /// on 1.24 to 1.27 changes nothing else about the bus's start. Run on this machine's GStreamer, whatever its version.
    /// </summary>
    [Theory]
    [InlineData("set")]
    [InlineData("first")]
    public async Task A_compositor_built_before_the_pipeline_plays_makes_its_first_frame_at_the_start(string selection)
    {
        GstRuntime.Init();
        using var pipeline = Element.NewPipeline();
        using var src = Element.Make("videotestsrc", "start.src");
        src.Set("is-live", true);
        using var caps = ElementFactory.CapsFilter("start.caps", "video/x-raw,format=I420,width=32,height=32,framerate=30/1");
        using var compositor = Element.MakeWith("compositor", "start.compositor", "force-live", true);
        compositor.Set("start-time-selection", selection);
        using var sink = Element.Make("fakesink", "start.sink");
        sink.Set("sync", false);
        ElementFactory.AddChain(pipeline, [src, caps, compositor, sink]);
        long first = -1;
        using var pad = compositor.StaticPad("src");
        using var probe = Callbacks.AddProbe(pad, ProbeType.Buffer, info =>
        {
            if (info.BufferPts is { } pts) Interlocked.CompareExchange(ref first, (long)pts, -1);
            return ProbeReturn.Ok;
        });
        try
        {
            Assert.NotEqual(StateChange.Failure, pipeline.SetState(State.Playing));
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
            while (Volatile.Read(ref first) < 0 && DateTime.UtcNow < deadline) await Task.Delay(10);
            Assert.True(Volatile.Read(ref first) >= 0, "the compositor made no frame");
            Assert.True(first < 100_000_000, $"its first frame is at {first / 1e6:0} ms, not at the start");
        }
        finally { pipeline.SetState(State.Null); }
    }
}
