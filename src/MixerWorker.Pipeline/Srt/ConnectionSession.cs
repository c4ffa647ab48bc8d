namespace MixerWorker.Pipeline.Srt;

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

    /// <summary>
    /// Set by the connection when it can say what went on while no data came through (<see cref="SinceActivity"/>):
    /// whether bytes kept arriving that nothing decoded, or none came. Read when the connection is ended as stalled.
    /// </summary>
    internal Func<string?>? ExplainSilence { get; set; }

    /// <summary>How the connection failed, which decides how soon and how loudly it is tried again.</summary>
    internal FailureKind Kind { get; private set; }

    internal void Fail(string reason, FailureKind kind = FailureKind.Connection)
    {
        if (_ended.Task.IsCompleted) return;
        Kind = kind;
        _ready.TrySetException(new ConnectionFailedException(reason, kind));
        _ended.TrySetResult(reason);
    }
}

internal enum FailureKind
{
    /// <summary>Anything else: refused, unreachable, lost; retried with exponential backoff.</summary>
    Connection,
    /// <summary>The hub answered at once that nothing is published there: probed again soon and cheaply, so a returning feed is back fast.</summary>
    NothingPublished,
    /// <summary>Connected, but the data is unusable (undecodable): said once as an error, then retried quietly.</summary>
    Undecodable,
}

internal sealed class ConnectionFailedException(string reason, FailureKind kind = FailureKind.Connection) : Exception(reason)
{
    internal FailureKind Kind { get; } = kind;
}
