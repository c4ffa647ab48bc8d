namespace MixerWorker.Pipeline.Engine;

/// <summary>
/// The one thread that changes a pipeline: builds, links, removes, sets states and properties.
/// Streaming threads, the bus thread and callers only post work here, so no pipeline change ever
/// races another or runs on a streaming thread (which deadlocks when it stops its own element).
/// Work waits in a plain queue under a lock, not a BlockingCollection: that one's semaphore spins with sched_yield after
/// every wake-up before it sleeps, two thirds of this thread's CPU for the few dozen posts a second a live show makes
/// (meters, the watchdog: 1.05 -> 0.35 % of a core on eight buses); Monitor.Wait sleeps at once.
/// </summary>
internal sealed class ControlThread : IDisposable
{
    private readonly Queue<Action> _queue = new();
    private bool _completed;
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
    internal void Post(Action work) => TryAdd(work); // false: shutting down, nothing left to change

    private bool TryAdd(Action work)
    {
        lock (_queue)
        {
            if (_completed) return false;
            _queue.Enqueue(work);
            if (_queue.Count == 1) Monitor.Pulse(_queue); // the thread sleeps only on an empty queue
            return true;
        }
    }

    internal Task<T> Invoke<T>(Func<T> work)
    {
        var done = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        if (IsCurrent)
        {
            try { done.SetResult(work()); } catch (Exception e) { done.SetException(e); }
            return done.Task;
        }
        if (!TryAdd(() =>
            {
                try { done.SetResult(work()); } catch (Exception e) { done.SetException(e); }
            }))
            done.SetException(new ObjectDisposedException("the mixer is stopped"));
        return done.Task;
    }

    internal Task Invoke(Action work) => Invoke(() => { work(); return true; });

    /// <summary>Runs <paramref name="work"/> on this thread after <paramref name="delay"/>.</summary>
    internal void PostAfter(TimeSpan delay, Action work) =>
        _ = Task.Delay(delay).ContinueWith(_ => Post(work), TaskScheduler.Default);

    // Runs what was posted before Dispose, then ends.
    private void Run()
    {
        while (true)
        {
            Action work;
            lock (_queue)
            {
                while (_queue.Count == 0 && !_completed) Monitor.Wait(_queue);
                if (!_queue.TryDequeue(out work!)) return;
            }
            try { work(); }
            catch (Exception e) { _onFault(e); }
        }
    }

    public void Dispose()
    {
        lock (_queue)
        {
            _completed = true;
            Monitor.Pulse(_queue);
        }
        if (!IsCurrent) _thread.Join();
    }
}
