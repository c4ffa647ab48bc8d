using MixerWorker.Pipeline.Engine;
using Xunit;

namespace MixerWorker.Pipeline.Tests.Unit;

/// <summary>The one thread that changes a pipeline: what is posted runs there, in order, until the thread is disposed.</summary>
public sealed class ControlThreadTests
{
    [Fact]
    public async Task Work_posted_from_many_threads_runs_on_the_control_thread_each_poster_in_its_order()
    {
        var faults = new List<Exception>();
        using var control = new ControlThread("control:test", faults.Add);
        var seen = new List<(int Poster, int Item)>();
        var offThread = 0;
        await Task.WhenAll(Enumerable.Range(0, 4).Select(poster => Task.Run(async () =>
        {
            for (var item = 0; item < 500; item++)
            {
                var (p, i) = (poster, item);
                control.Post(() => { if (!control.IsCurrent) offThread++; seen.Add((p, i)); });
                if (item % 50 == 0) await Task.Delay(1); // lets the thread run dry and sleep in between
            }
        })));
        Assert.Equal(4 * 500, await control.Invoke(() => seen.Count));
        Assert.Equal(0, offThread);
        Assert.Empty(faults);
        foreach (var poster in seen.GroupBy(s => s.Poster))
            Assert.Equal(Enumerable.Range(0, 500), poster.Select(s => s.Item));
    }

    [Fact]
    public async Task A_fault_goes_to_the_handler_and_the_thread_goes_on()
    {
        var faults = new List<Exception>();
        using var control = new ControlThread("control:test", e => faults.Add(e));
        control.Post(() => throw new InvalidOperationException("boom"));
        await Assert.ThrowsAsync<ArgumentException>(() => control.Invoke(() => throw new ArgumentException("refused")));
        Assert.Equal(42, await control.Invoke(() => 42));
        Assert.Equal("boom", Assert.Single(faults).Message);
    }

    [Fact]
    public async Task What_was_posted_before_dispose_runs_and_what_comes_after_is_refused()
    {
        var ran = 0;
        var gate = new ManualResetEventSlim();
        var control = new ControlThread("control:test", _ => { });
        control.Post(gate.Wait); // holds the thread while more work queues up behind it
        for (var i = 0; i < 10; i++) control.Post(() => Interlocked.Increment(ref ran));
        var disposing = Task.Run(control.Dispose);
        await Task.Delay(50); // Dispose has begun and waits for the thread
        gate.Set();
        await disposing;
        Assert.Equal(10, ran);
        control.Post(() => Interlocked.Increment(ref ran));
        Assert.Equal(10, ran);
        await Assert.ThrowsAsync<ObjectDisposedException>(() => control.Invoke(() => 1));
    }
}
