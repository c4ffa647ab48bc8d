using MixerWorker.Pipeline.Interop;
using Xunit;

namespace MixerWorker.Pipeline.Tests.Unit;

/// <summary>
/// A bin whose sink fails (an SRT output whose connection broke) must not stop the thread that pushes
/// into it: a bus's muxer feeds its output directly (Sinks/SrtOutput).
/// </summary>
public sealed class RefusalStopTests
{
    private const int Buffers = 20;

    [Fact]
    public void A_refusal_stops_at_the_bins_pad_and_the_tee_feeds_its_other_branch_on()
    {
        var (delivered, stop) = Run(stopRefusals: true);
        Assert.Equal(Buffers, delivered);
        Assert.True(stop!.Refused);
    }

    [Fact]
    public void Without_the_stop_the_refusal_stops_the_source()
    {
        var (delivered, _) = Run(stopRefusals: false);
        Assert.InRange(delivered, 0, Buffers - 1);
    }

    // fakesrc → tee → fakesink, and tee → bin[ghost → identity (fails after two buffers) → fakesink].
    private static (int Delivered, RefusalStop? Stop) Run(bool stopRefusals)
    {
        var me = Thread.CurrentThread;
        using var graph = new Graph($"refusals-{stopRefusals}", isOwnerThread: () => Thread.CurrentThread == me);
        using var src = Element.Make("fakesrc", "src");
        src.Set("num-buffers", Buffers);
        using var tee = Element.Make("tee", "tee");
        using var good = Element.Make("fakesink", "good");
        good.Set("async", false);
        good.Set("sync", false);
        using var bin = Element.NewBin("out");
        using var failing = Element.Make("identity", "failing");
        failing.Set("error-after", 2);
        using var dead = Element.Make("fakesink", "dead");
        dead.Set("async", false);
        bin.Add(failing);
        bin.Add(dead);
        failing.Link(dead);
        Pad ghost;
        using (var failingSink = failing.StaticPad("sink")) ghost = Pad.Ghost("sink", failingSink);
        bin.AddPad(ghost);
        foreach (var e in new[] { src, tee, good, bin }) graph.Add(e);
        src.Link(tee);
        tee.Link(good);
        using var teePad = tee.RequestPad("src_%u");
        teePad.Link(ghost);
        var stop = stopRefusals ? graph.StopRefusals(ghost, () => false) : null;
        var delivered = 0;
        using var goodSink = good.StaticPad("sink");
        using (graph.AddProbe(goodSink, ProbeType.Buffer, _ =>
        {
            Interlocked.Increment(ref delivered);
            return ProbeReturn.Ok;
        }))
        {
            graph.SetState(State.Playing);
            SpinWait.SpinUntil(() => Volatile.Read(ref delivered) >= Buffers, TimeSpan.FromSeconds(3));
            graph.SetState(State.Null);
        }
        ghost.Dispose();
        return (Volatile.Read(ref delivered), stop);
    }
}
