namespace MixerWorker.Pipeline.Engine;

/// <summary>
/// Whether a project's outputs may (re)connect to MediaMTX. MediaMTX lets a new publisher replace the
/// current one, so two workers that both keep reconnecting would take a bus from each other forever.
/// The control plane opens the gate only while it holds the project's lease; a closed gate never
/// takes a connected output off air, it only stops the next connection attempt (after the output was
/// closed, for example by a successor replacing it). Thread-safe.
/// </summary>
public sealed class PublishGate
{
    private readonly Lock _lock = new();
    private readonly Func<bool>? _stillOpen;
    private TaskCompletionSource _opened = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <param name="open">Whether the gate starts open.</param>
    /// <param name="stillOpen">
    /// Asked at every connection attempt while the gate is open: false closes it until the next
    /// <see cref="Open"/>. The control plane's "lease confirmed within the TTL" ages by itself, and the
    /// one who would close the gate on time (the renewal loop) may be the one starved.
    /// </param>
    public PublishGate(bool open, Func<bool>? stillOpen = null)
    {
        _stillOpen = stillOpen;
        if (open) _opened.SetResult();
    }

    /// <summary>A gate that is always open: a project run without a control plane (tests, headless runs).</summary>
    public static PublishGate AlwaysOpen() => new(open: true);

    public bool IsOpen
    {
        get
        {
            lock (_lock)
            {
                if (_opened.Task.IsCompleted && _stillOpen is { } still && !still())
                    _opened = new(TaskCreationOptions.RunContinuationsAsynchronously);
                return _opened.Task.IsCompleted;
            }
        }
    }

    public void Open()
    {
        lock (_lock) _opened.TrySetResult();
    }

    public void Close()
    {
        lock (_lock)
            if (_opened.Task.IsCompleted) _opened = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    /// <summary>Completes when the gate is open (at once when it is).</summary>
    public Task WaitOpenAsync(CancellationToken token)
    {
        Task opened;
        lock (_lock) opened = _opened.Task;
        return opened.WaitAsync(token);
    }
}
