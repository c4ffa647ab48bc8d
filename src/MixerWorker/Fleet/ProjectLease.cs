using System.Diagnostics;

namespace MixerWorker.Fleet;

/// <summary>
/// This worker's lease on one project, as far as it knows: the token it holds and when a renewal last
/// confirmed it. Times are taken on the local monotonic clock when the renewal was <em>sent</em>, so
/// "confirmed within the TTL" errs on the safe side: Redis lets the lease lapse a TTL after the renewal
/// arrived, which is later. Thread-safe.
/// </summary>
internal sealed class ProjectLease(TimeSpan confirmedFor)
{
    private readonly Lock _lock = new();
    private LeaseToken? _token;
    private long _confirmedAt;

    public LeaseToken? Token { get { lock (_lock) return _token; } }

    /// <summary>True while the lease is held and was confirmed less than FLEET__LEASETTLMS minus one renewal timeout ago.</summary>
    public bool IsConfirmed { get { lock (_lock) return _token is not null && Stopwatch.GetElapsedTime(_confirmedAt) < confirmedFor; } }

    public TimeSpan SinceConfirmed { get { lock (_lock) return Stopwatch.GetElapsedTime(_confirmedAt); } }

    /// <summary>A lease just taken (or taken back); <paramref name="sentAt"/> is when the request left (Stopwatch timestamp).</summary>
    public void Hold(LeaseToken token, long sentAt)
    {
        lock (_lock)
        {
            _token = token;
            _confirmedAt = sentAt;
        }
    }

    /// <summary>A renewal of <paramref name="token"/> sent at <paramref name="sentAt"/> succeeded.</summary>
    public void Confirm(LeaseToken token, long sentAt)
    {
        lock (_lock)
            if (_token == token && sentAt > _confirmedAt) _confirmedAt = sentAt;
    }

    public void Drop()
    {
        lock (_lock) _token = null;
    }
}
