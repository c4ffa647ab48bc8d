using MixerWorker.Pipeline.Interop;
using Xunit;

namespace MixerWorker.Pipeline.Tests.Unit;

/// <summary>The assertion that keeps a pipeline's graph on its control thread (on in these tests).</summary>
public sealed class GraphThreadTests
{
    [Fact]
    public void The_check_is_on_in_tests() => Assert.True(Graph.CheckThreads);

    [Fact]
    public async Task A_graph_change_from_a_thread_that_does_not_own_the_graph_throws()
    {
        var owner = new Thread(() => Thread.Sleep(Timeout.Infinite)) { IsBackground = true };
        using var graph = new Graph("p1", isOwnerThread: () => Thread.CurrentThread == owner);
        using var queue = Element.Make("queue", "q");
        var e = Assert.Throws<InvalidOperationException>(() => graph.Add(queue));
        Assert.Contains("graph p1 changed from thread", e.Message);
        Assert.Throws<InvalidOperationException>(() => graph.SetState(State.Playing));
        await Task.Run(() => Assert.Throws<InvalidOperationException>(() => graph.Remove(queue)));
    }

    [Fact]
    public void The_owning_thread_changes_the_graph_freely()
    {
        var me = Thread.CurrentThread;
        using var graph = new Graph("p2", isOwnerThread: () => Thread.CurrentThread == me);
        using var queue = Element.Make("queue", "q");
        graph.Add(queue);
        graph.Remove(queue);
    }

    [Fact]
    public void A_callback_fault_is_reported_to_the_graph_that_registered_it_only()
    {
        var (faultsA, faultsB) = (new List<Exception>(), new List<Exception>());
        using var a = new Graph("a", faultsA.Add);
        using var b = new Graph("b", faultsB.Add);
        using var src = Element.Make("fakesrc", "src");
        src.Set("num-buffers", 1);
        using var sink = Element.Make("fakesink", "sink");
        a.Add(src);
        a.Add(sink);
        src.Link(sink);
        using (var pad = sink.StaticPad("sink"))
        using (a.AddProbe(pad, ProbeType.Buffer, _ => throw new InvalidOperationException("boom")))
        {
            a.SetState(State.Playing);
            SpinWait.SpinUntil(() => a.CallbackFaults > 0, TimeSpan.FromSeconds(5));
            a.SetState(State.Null);
        }
        Assert.Equal("boom", Assert.Single(faultsA).Message);
        Assert.Empty(faultsB);
        Assert.Equal(0, b.CallbackFaults);
    }
}
