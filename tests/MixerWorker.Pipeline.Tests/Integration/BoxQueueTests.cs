using MixerWorker.Pipeline.Builders;
using MixerWorker.Pipeline.Engine;
using MixerWorker.Pipeline.Interop;
using Xunit;
using Xunit.Abstractions;

namespace MixerWorker.Pipeline.Tests.Integration;

/// <summary>
/// A box's queue (<see cref="BoxBranch.Queue"/>) in front of a bus that has stopped taking pictures, fed an input whose
/// timeline moves a second earlier, as <see cref="Sources.SrtSource"/> moves it with its pad offset when the input's
/// timestamps jump. GStreamer's queue measures its time from the running times of the pictures that last came in and
/// went out; while the new ones are earlier than the old ones still queued, it reads no time at all.
/// </summary>
public sealed class BoxQueueTests(ITestOutputHelper output)
{
    private const int Fps = 30, Before = 60, After = 25;
    private const double FrameNs = 1e9 / Fps;
    private const long StepBackNs = 1_000_000_000;

    [Fact]
    public void A_box_queue_holds_no_more_pictures_than_its_time_allows_while_running_times_step_back()
    {
        GstRuntime.Init();
        // The compositor only lends the queue its wait, set as a bus sets it.
        using var compositor = Element.MakeWith("compositor", "boxqueue.compositor", "force-live", true);
        var options = new MixerOptions();
        new BusLatency(options.InputJitter, options.MixerLatency).ApplyTo(compositor);
        using var pipeline = Element.NewPipeline();
        using var src = Element.Make("appsrc", "boxqueue.src");
        src.Set("format", "time");
        src.Set("caps", $"video/x-raw,format=I420,width=16,height=16,framerate={Fps}/1");
        using var queue = BoxBranch.Queue("boxqueue.queue", compositor, FrameNs);
        // Paused, the sink takes the first picture and holds it: the bus has stopped taking pictures.
        using var sink = Element.Make("fakesink", "boxqueue.sink");
        ElementFactory.AddChain(pipeline, [src, queue, sink]);
        var maxTimeNs = ulong.Parse(queue.Get("max-size-time")!);
        var maxBuffers = int.Parse(queue.Get("max-size-buffers")!);
        (int Pictures, ulong TimeNs) Level() => (int.Parse(queue.Get("current-level-buffers")!), ulong.Parse(queue.Get("current-level-time")!));

        // What the queue holds as each picture arrives (every earlier one has passed it: one streaming thread), and at the end.
        var before = new List<(int Pictures, ulong TimeNs)>();
        var after = new List<(int Pictures, ulong TimeNs)>();
        var ended = new ManualResetEventSlim();
        // What the queue let go is what came in and neither went out nor stayed; counted as a box counts it, one per overrun.
        long overruns = 0, overrunsBeforeStep = 0, passed = 0;
        using var srcPad = src.StaticPad("src");
        using var stepBack = Callbacks.AddProbe(srcPad, ProbeType.Buffer, info =>
        {
            var picture = (int)Math.Round(((double)info.BufferPts!.Value - Start) / FrameNs);
            (picture <= Before ? before : after).Add(Level());
            // The pictures after this one come in a segment that places them a second earlier.
            if (picture == Before)
            {
                srcPad.OffsetNs = -StepBackNs;
                overrunsBeforeStep = Interlocked.Read(ref overruns);
            }
            return ProbeReturn.Ok;
        });
        Callbacks.ConnectOverrun(queue, () => Interlocked.Increment(ref overruns));
        using var queueSrc = queue.StaticPad("src");
        using var leaving = Callbacks.AddProbe(queueSrc, ProbeType.Buffer, _ => { Interlocked.Increment(ref passed); return ProbeReturn.Ok; });
        using var queueSink = queue.StaticPad("sink");
        using var end = Callbacks.AddProbe(queueSink, ProbeType.EventDownstream, info =>
        {
            if (info.Event == EventType.Eos) { after.Add(Level()); ended.Set(); }
            return ProbeReturn.Ok;
        });
        try
        {
            Assert.NotEqual(StateChange.Failure, pipeline.SetState(State.Paused));
            var picture = new byte[16 * 16 * 3 / 2];
            // The count below takes the sink's picture as gone from the queue: on a starved machine the queue's thread may not
            // have handed it on before the next ones arrive, so the rest wait for it.
            Assert.True(src.PushBuffer(picture, (ulong)Math.Round(Start)));
            Assert.True(SpinWait.SpinUntil(() => Interlocked.Read(ref passed) == 1, TimeSpan.FromSeconds(20)), "the sink never took the first picture");
            for (var i = 1; i <= Before + After; i++) Assert.True(src.PushBuffer(picture, (ulong)Math.Round(Start + i * FrameNs)));
            src.EndOfStream();
            Assert.True(ended.Wait(TimeSpan.FromSeconds(20)), "the end of the pictures never reached the queue");
        }
        finally { pipeline.SetState(State.Null); }

        output.WriteLine($"held before the step (pictures/ms): {string.Join(' ', before.Skip(Before - 10).Select(l => $"{l.Pictures}/{l.TimeNs / 1e6:0}"))}");
        output.WriteLine($"held after it: {string.Join(' ', after.Select(l => $"{l.Pictures}/{l.TimeNs / 1e6:0}"))}");

        // While running times go forward the queue reads its time right, and its time, not its count, decides what it holds.
        var steady = before[^1];
        Assert.InRange(steady.TimeNs, (ulong)((steady.Pictures - 0.5) * FrameNs), (ulong)((steady.Pictures + 0.5) * FrameNs));
        Assert.True(steady.Pictures >= 2 && steady.Pictures < maxBuffers, $"steady: {steady.Pictures} pictures held, count cap {maxBuffers}");
        // Once they step back it reads no time while holding pictures ...
        Assert.Contains(after, l => l.Pictures >= 2 && l.TimeNs == 0);
        // ... and holds no more of them than its time holds at the bus's frame rate (one more for rounding).
        var allowed = (int)Math.Ceiling(maxTimeNs / FrameNs) + 1;
        var most = after.Max(l => l.Pictures);
        Assert.True(most <= allowed, $"the queue held {most} pictures after running times stepped back; its {maxTimeNs / 1e6:0} ms hold {allowed} at {Fps} fps");
        // The pictures the queue let go are counted: one per overrun while running times go forward (the fakesink took one)
        var (out1, total) = (Interlocked.Read(ref passed), Interlocked.Read(ref overruns));
        var (letGoBefore, letGo) = (Before - out1 - before[^1].Pictures, Before + After + 1 - out1 - after[^1].Pictures);
        output.WriteLine($"pictures let go before the step {letGoBefore}, overruns {overrunsBeforeStep}; in all {letGo}, overruns {total}");
        Assert.True(letGoBefore > 0 && letGo > letGoBefore + After / 2, $"the queue let {letGoBefore}, then {letGo} pictures go");
        Assert.Equal(letGoBefore, overrunsBeforeStep);
        // ... and once more for the step back: when the first picture of the new timeline leaves, the queue reads its time
        // again (6 pictures, 200 ms, over its 190) and lets a second one go in the same overrun.
        Assert.InRange(total, letGo - 1, letGo);
    }

    private const double Start = 10e9;
}
