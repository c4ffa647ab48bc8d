using System.Collections.Concurrent;

namespace MixerWorker.Pipeline.Engine;

/// <summary>
/// The one thread that changes a pipeline: builds, links, removes, sets states and properties.
/// Streaming threads, the bus thread and callers only post work here, so no pipeline change ever
/// races another or runs on a streaming thread (which deadlocks when it stops its own element).
/// </summary>
internal sealed class ControlThread : IDisposable
{
    private readonly BlockingCollection<Action> _queue = new();
    private readonly Thread _thread;
    private readonly Action<Exception> _onFault;

    internal ControlThread(string name, Action<Exception> onFault)
    {
        _onFault = onFault;
        _thread = new Thread(Run) { IsBackground = true, Name = name };
        _thread.Start();
    }

    internal bool IsCurrent => Thread.CurrentThread == _thread;

    /// <summary>Queues work; exceptions go to the fault handler. Ignored once disposed.</summary>
    internal void Post(Action work)
    {
        try { _queue.Add(work); }
        catch (InvalidOperationException) { /* shutting down: nothing left to change */ }
    }

    internal Task<T> Invoke<T>(Func<T> work)
    {
        var done = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        if (IsCurrent)
        {
            try { done.SetResult(work()); } catch (Exception e) { done.SetException(e); }
            return done.Task;
        }
        try
        {
            _queue.Add(() =>
            {
                try { done.SetResult(work()); } catch (Exception e) { done.SetException(e); }
            });
        }
        catch (InvalidOperationException) { done.SetException(new ObjectDisposedException("the mixer is stopped")); }
        return done.Task;
    }

    internal Task Invoke(Action work) => Invoke(() => { work(); return true; });

    /// <summary>Runs <paramref name="work"/> on this thread after <paramref name="delay"/>.</summary>
    internal void PostAfter(TimeSpan delay, Action work) =>
        _ = Task.Delay(delay).ContinueWith(_ => Post(work), TaskScheduler.Default);

    private void Run()
    {
        foreach (var work in _queue.GetConsumingEnumerable())
        {
            try { work(); }
            catch (Exception e) { _onFault(e); }
        }
    }

    public void Dispose()
    {
        _queue.CompleteAdding();
        if (!IsCurrent) _thread.Join();
    }
}
