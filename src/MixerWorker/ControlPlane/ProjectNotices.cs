namespace MixerWorker.ControlPlane;

/// <summary>
/// The last command answer and the latest errors a project's owner published, kept so that the status
/// (and the dashboard, which reads it) shows them to whoever was not listening at the time. Thread-safe.
/// </summary>
internal sealed class ProjectNotices
{
    /// <summary>How many of the latest errors the status carries.</summary>
    public const int RecentErrorCount = 5;
    private readonly Lock _lock = new();
    private readonly Queue<EventReport> _errors = new();
    private EventReport? _lastAnswer;

    public void Noticed(ProjectEvent e)
    {
        var report = EventReport.Of(e, DateTimeOffset.UtcNow);
        lock (_lock)
        {
            if (e.Entry is not null) _lastAnswer = report;
            if (e.Type != EventTypes.Error) return;
            _errors.Enqueue(report);
            while (_errors.Count > RecentErrorCount) _errors.Dequeue();
        }
    }

    /// <summary>The last command answer and the latest errors, oldest first.</summary>
    public (EventReport? LastAnswer, IReadOnlyList<EventReport> Errors) Snapshot
    {
        get { lock (_lock) return (_lastAnswer, [.. _errors]); }
    }
}
