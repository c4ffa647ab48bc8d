using System.Diagnostics;
using Microsoft.Extensions.Options;

namespace MixerWorker.Fleet;

/// <summary>
/// When this worker may claim projects that have no owner. Not for one lease TTL (plus a renewal)
/// after it starts, and again after every spell without answers from Redis: a Redis that restarted
/// empty has lost every lease, and the workers still running those shows must get them back first.
/// Taking a project back is never held up by this.
/// </summary>
internal sealed class ClaimWindow
{
    private readonly TimeSpan _grace;
    private readonly Lock _lock = new();
    private long _openAt;
    private bool _outage;

    public ClaimWindow(IOptions<FleetOptions> options)
    {
        _grace = options.Value.LeaseTtl + options.Value.RenewInterval;
        _openAt = Stopwatch.GetTimestamp() + (long)(_grace.TotalSeconds * Stopwatch.Frequency);
    }

    public bool IsOpen
    {
        get { lock (_lock) return !_outage && Stopwatch.GetTimestamp() >= _openAt; }
    }

    /// <summary>A lease call got no answer.</summary>
    public void NoteUnanswered()
    {
        lock (_lock) _outage = true;
    }

    /// <summary>A lease call was answered: after an outage, the window opens one grace period later.</summary>
    public void NoteAnswered()
    {
        lock (_lock)
        {
            if (!_outage) return;
            _outage = false;
            _openAt = Stopwatch.GetTimestamp() + (long)(_grace.TotalSeconds * Stopwatch.Frequency);
        }
    }
}
