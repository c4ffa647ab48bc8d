using System.Collections.Concurrent;
using MixerWorker.Pipeline.Builders;
using MixerWorker.Pipeline.Interop;
using Xunit;

namespace MixerWorker.Pipeline.Tests.Unit;

/// <summary>
/// A gap sent aside (LiveTime.SendGapAside, what a bus's sound thread uses to tell its muxer that no
/// picture can come) never makes the sender wait for the pad it goes through, even while another
/// thread holds that pad's stream lock; it arrives once that thread lets go, and of the gaps that
/// waited meanwhile only the last one goes.
/// </summary>
public class GapAsideTests
{
    [Fact]
    public async Task A_gap_sent_aside_leaves_the_sender_free_while_the_path_is_held_and_arrives_after()
    {
        GstRuntime.Init();
        using var pipeline = Element.NewPipeline();
        using var src = Element.Make("videotestsrc", "gaps.src");
        using var identity = Element.Make("identity", "gaps.identity");
        using var sink = Element.Make("fakesink", "gaps.sink");
        src.Set("is-live", false);
        sink.Set("sync", false);
        ElementFactory.AddChain(pipeline, [src, identity, sink]);
        using var srcPad = src.StaticPad("src");
        using var identityOut = identity.StaticPad("src");
        using var sinkPad = sink.StaticPad("sink");

        // The source's thread, inside identity's chain (so holding its stream lock), waits in this probe.
        using var release = new ManualResetEventSlim(false);
        var held = new ManualResetEventSlim(false);
        using var hold = Callbacks.AddProbe(identityOut, ProbeType.Buffer, _ =>
        {
            held.Set();
            release.Wait(TimeSpan.FromSeconds(30));
            return ProbeReturn.Ok;
        });
        var gaps = new ConcurrentQueue<ulong>();
        using var seen = Callbacks.AddProbe(sinkPad, ProbeType.Buffer, info =>
        {
            if (info.DataSize == 0 && info.BufferPts is { } pts) gaps.Enqueue(pts);
            return ProbeReturn.Ok;
        });
        try
        {
            Assert.NotEqual(StateChange.Failure, pipeline.SetState(State.Playing));
            Assert.True(held.Wait(TimeSpan.FromSeconds(10)), "the source never pushed");

            var sender = Task.Run(() => srcPad.SendGapAside(1_000_000_000, 0));
            Assert.Same(sender, await Task.WhenAny(sender, Task.Delay(TimeSpan.FromSeconds(5))));
            // The gap thread takes the first and waits for the path (on a starved machine its turn can take a while).
            var taken = DateTime.UtcNow + TimeSpan.FromSeconds(10);
            while (srcPad.HasGapWaitingAside() && DateTime.UtcNow < taken) await Task.Delay(10);
            Assert.False(srcPad.HasGapWaitingAside(), "the gap thread never took the first gap");
            sender = Task.Run(() =>
            {
                srcPad.SendGapAside(2_000_000_000, 0);
                srcPad.SendGapAside(3_000_000_000, 0);
            });
            Assert.Same(sender, await Task.WhenAny(sender, Task.Delay(TimeSpan.FromSeconds(5))));
            await Task.Delay(200);
            Assert.Empty(gaps);

            release.Set();
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
            while (gaps.Count < 2 && DateTime.UtcNow < deadline) await Task.Delay(20);
            await Task.Delay(200);
            Assert.Equal([1_000_000_000UL, 3_000_000_000UL], gaps.ToArray());
        }
        finally
        {
            release.Set();
            pipeline.SetState(State.Null);
        }
    }

    /// <summary>
    /// A gap meant for after the push under way (LiveTime.SendGapAfterThisPush) on a pad that is idle:
    /// GStreamer calls the idle probe at once, from gst_pad_add_probe, and holds every push through the
    /// pad until it returns. Pushed from there, the gap waited for itself, and the pad's own pictures
    /// behind it, for good. It goes aside and arrives, and the pictures go on.
    /// </summary>
    [Fact]
    public async Task A_gap_meant_for_after_a_push_on_an_idle_pad_arrives_and_never_holds_the_pad()
    {
        GstRuntime.Init();
        using var pipeline = Element.NewPipeline();
        using var src = Element.Make("videotestsrc", "idlegap.src");
        using var caps = ElementFactory.CapsFilter("idlegap.caps", "video/x-raw,width=64,height=36,framerate=4/1");
        using var identity = Element.Make("identity", "idlegap.identity");
        using var sink = Element.Make("fakesink", "idlegap.sink");
        src.Set("is-live", true);
        sink.Set("sync", false);
        ElementFactory.AddChain(pipeline, [src, caps, identity, sink]);
        using var identityOut = identity.StaticPad("src");
        using var sinkPad = sink.StaticPad("sink");
        // Any other probe on the pad (another gap waiting, a watcher): only then does a push go through the
        // probes, where GStreamer makes it wait for an idle callback running from gst_pad_add_probe.
        using var other = Callbacks.AddProbe(identityOut, ProbeType.Buffer, _ => ProbeReturn.Ok);
        var gaps = new ConcurrentQueue<ulong>();
        var pictures = 0;
        using var picture = new SemaphoreSlim(0);
        using var seen = Callbacks.AddProbe(sinkPad, ProbeType.Buffer, info =>
        {
            if (info.DataSize == 0 && info.BufferPts is { } pts) gaps.Enqueue(pts);
            else
            {
                Interlocked.Increment(ref pictures);
                picture.Release();
            }
            return ProbeReturn.Ok;
        });
        try
        {
            Assert.NotEqual(StateChange.Failure, pipeline.SetState(State.Playing));
            Assert.True(await picture.WaitAsync(TimeSpan.FromSeconds(10)), "the source never pushed");
            // Pictures come every 250 ms and pass in microseconds: 50 ms after one, the pad is idle.
            await Task.Delay(50);
            var sender = Task.Run(() => identityOut.SendGapAfterThisPush(5_000_000_000, 0));
            Assert.Same(sender, await Task.WhenAny(sender, Task.Delay(TimeSpan.FromSeconds(5))));

            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(5);
            while (gaps.IsEmpty && DateTime.UtcNow < deadline) await Task.Delay(20);
            Assert.Equal([5_000_000_000UL], gaps.ToArray());
            var before = Volatile.Read(ref pictures);
            await Task.Delay(TimeSpan.FromSeconds(1));
            Assert.True(Volatile.Read(ref pictures) >= before + 2, $"pictures stopped after the gap: {before} then {Volatile.Read(ref pictures)}");
        }
        finally
        {
            pipeline.SetState(State.Null);
        }
    }
}
