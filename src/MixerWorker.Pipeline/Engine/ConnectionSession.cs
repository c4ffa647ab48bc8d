namespace MixerWorker.Pipeline.Engine;

/// <summary>
/// One connection attempt of an input or output, as the supervisor sees it: it becomes ready (first
/// frame in, or output accepted), and later ends with a reason. Written from streaming threads, so
/// everything here is lock-free and cheap.
/// </summary>
internal sealed class ConnectionSession(int generation)
{
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource<string> _ended = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _lastActivity = Environment.TickCount64;

    internal int Generation { get; } = generation;
    internal Task Ready => _ready.Task;
    internal Task<string> Ended => _ended.Task;
    internal bool HasEnded => _ended.Task.IsCompleted;
    internal TimeSpan SinceActivity => TimeSpan.FromMilliseconds(Environment.TickCount64 - Interlocked.Read(ref _lastActivity));

    /// <summary>Data flowed: the first call makes the session ready.</summary>
    internal void Activity()
    {
        Interlocked.Exchange(ref _lastActivity, Environment.TickCount64);
        _ready.TrySetResult();
    }

    internal void MarkReady() => _ready.TrySetResult();

    /// <summary>
    /// Set by the connection when it can say why it is not ready better than "not ready": connected,
    /// but nothing it could decode came through. Called once the ready timeout has passed, with that timeout.
    /// </summary>
    internal Func<TimeSpan, string?>? ExplainNotReady { get; set; }

    /// <summary>The connection worked but its data did not (undecodable): an error worth saying once, not at every retry.</summary>
    internal bool DataFault { get; private set; }

    internal void Fail(string reason, bool dataFault = false)
    {
        if (_ended.Task.IsCompleted) return;
        DataFault = dataFault;
        _ready.TrySetException(new ConnectionFailedException(reason, dataFault));
        _ended.TrySetResult(reason);
    }
}

internal sealed class ConnectionFailedException(string reason, bool dataFault = false) : Exception(reason)
{
    internal bool DataFault { get; } = dataFault;
}
