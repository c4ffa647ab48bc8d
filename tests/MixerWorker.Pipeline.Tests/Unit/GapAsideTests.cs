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
        using var chain = new LiveChain("idlegap");
        var (pipeline, identityOut, sinkPad) = (chain.Pipeline, chain.IdentityOut, chain.SinkPad);
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
    /// <summary>
    /// A bus's encoder output: its thread pushes pictures, and the gap thread pushes gaps through the
    /// same pad. After each picture, from the probe on the next pad (the muxer's, as BusBranch.OnToMux does),
    /// a gap is asked for behind it. Here the gap thread's push is under way when the first picture's ends,
    /// and the second picture's push begins before the gap thread's ends, so the pad never goes idle
    /// between the two pictures. Asked for with an idle probe each (as they were), both gaps' probes
    /// waited on the pad when the second picture's push ended: the first's callback pushed its gap while
    /// the second's probe was there, and GStreamer made that push wait for the callback it ran in; the
    /// pictures stopped for good. The gaps go by the gap thread, each behind its picture, and the pictures go on.
    /// </summary>
    [Fact]
    public async Task Gaps_behind_pictures_on_a_pad_the_gap_thread_also_pushes_through_never_stop_the_pictures()
    {
        using var chain = new LiveChain("twogaps");
        var (pipeline, identityOut, sinkPad) = (chain.Pipeline, chain.IdentityOut, chain.SinkPad);

        const ulong behind = 1_000_000; // a gap's PTS: its picture's and 1 ms
        var seen = new ConcurrentQueue<(bool Gap, ulong Pts)>();
        var pictures = 0;
        var gapHeld = 0;
        using var gapThreadIn = new ManualResetEventSlim(false);
        using var release = new ManualResetEventSlim(false);
        using var picture = new SemaphoreSlim(0);
        using var probe = Callbacks.AddProbe(sinkPad, ProbeType.Buffer, info =>
        {
            if (info.BufferPts is not { } pts) return ProbeReturn.Ok;
            seen.Enqueue((info.DataSize == 0, pts));
            if (info.DataSize == 0)
            {
                // The gap thread's first push, inside the sink's chain: held until the next picture's push has begun.
                if (Interlocked.Exchange(ref gapHeld, 1) == 0)
                {
                    gapThreadIn.Set();
                    release.Wait(TimeSpan.FromSeconds(5));
                }
                return ProbeReturn.Ok;
            }
            identityOut.SendGapAside(pts + behind, 0);
            if (Interlocked.Increment(ref pictures) == 1)
            {
                // A gap from another thread (the sound's, OnSoundToMux), whose push through the pad begins now and
                // goes on past this picture's: the first picture's push does not end with the pad idle.
                identityOut.SendGapAside(1, 0);
                Thread.Sleep(300);
            }
            picture.Release();
            return ProbeReturn.Ok;
        });
        try
        {
            Assert.NotEqual(StateChange.Failure, pipeline.SetState(State.Playing));
            Assert.True(gapThreadIn.Wait(TimeSpan.FromSeconds(10)), "no gap reached the sink");
            // The second picture is due 250 ms after the first, its push waiting for the sink's stream lock.
            await Task.Delay(600);
            release.Set();

            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(4);
            while (Volatile.Read(ref pictures) < 8 && DateTime.UtcNow < deadline) await Task.Delay(20);
            Assert.True(Volatile.Read(ref pictures) >= 8, $"the pictures stopped after {Volatile.Read(ref pictures)}");

            // Every gap behind a picture arrived after that picture; at least the later ones arrived at all
            // (a gap still waiting when a later one comes goes with the later one).
            var order = seen.ToArray();
            var gaps = order.Select((b, i) => (b, i)).Where(x => x.b.Gap && x.b.Pts > behind).ToArray();
            Assert.True(gaps.Length >= 2, $"{gaps.Length} gaps behind pictures arrived");
            foreach (var (gap, at) in gaps)
                Assert.Contains((false, gap.Pts - behind), order[..at]);
        }
        finally
        {
            release.Set();
            pipeline.SetState(State.Null);
        }
    }

    /// <summary>A live source at 4 pictures a second → identity → a sink that takes them at once.</summary>
    private sealed class LiveChain : IDisposable
    {
        private readonly Element _src, _caps, _identity, _sink;
        internal Element Pipeline { get; }
        /// <summary>The pad pictures are pushed through, where gaps go too.</summary>
        internal Pad IdentityOut { get; }
        internal Pad SinkPad { get; }

        internal LiveChain(string name)
        {
            GstRuntime.Init();
            Pipeline = Element.NewPipeline();
            _src = Element.Make("videotestsrc", $"{name}.src");
            _caps = ElementFactory.CapsFilter($"{name}.caps", "video/x-raw,width=64,height=36,framerate=4/1");
            _identity = Element.Make("identity", $"{name}.identity");
            _sink = Element.Make("fakesink", $"{name}.sink");
            _src.Set("is-live", true);
            _sink.Set("sync", false);
            ElementFactory.AddChain(Pipeline, [_src, _caps, _identity, _sink]);
            IdentityOut = _identity.StaticPad("src");
            SinkPad = _sink.StaticPad("sink");
        }

        public void Dispose()
        {
            SinkPad.Dispose();
            IdentityOut.Dispose();
            foreach (var e in new[] { _sink, _identity, _caps, _src, Pipeline }) e.Dispose();
        }
    }
}
