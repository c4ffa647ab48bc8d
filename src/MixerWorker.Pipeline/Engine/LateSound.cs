namespace MixerWorker.Pipeline.Engine;

/// <summary>
/// The sound of one input that came to a bus's audio mixer after the mixer had mixed past its time, and
/// that the mixer therefore dropped: a gap in every bus hearing it, which no picture, level or format
/// check shows (a publisher packing its sound late lost 40 % of it this way, unseen). The mixers' pads
/// tell of each drop (audioaggregator's QoS messages); several mixers hearing the input drop the same
/// stretch, which counts once: a drop counts only beyond the latest running time counted before, so
/// the count is at least what any one bus lost. Drops come in episodes, reported once when one has lost
/// <see cref="Worth"/> (a mixer that starts hearing an input mid-show may drop a block or two of what
/// was queued for it) and once when it ends. What an input drops in its first <see cref="Grace"/> live is
/// counted but starts no episode: its timeline settles then, and each move moves its sound (50–150 ms
/// dropped at the start of a show, measured). Control thread.
/// </summary>
internal sealed class LateSound
{
    /// <summary>How much sound an episode must lose to be reported: five Opus frames.</summary>
    internal static readonly TimeSpan Worth = TimeSpan.FromMilliseconds(100);

    /// <summary>How long an input is live before what it drops may start an episode.</summary>
    internal static readonly TimeSpan Grace = TimeSpan.FromSeconds(5);

    /// <summary>An episode ends after this long without a drop.</summary>
    internal static readonly TimeSpan QuietToEnd = TimeSpan.FromSeconds(5);

    /// <summary>A drop to report: <see cref="First"/> when an episode has lost <see cref="Worth"/>, <see cref="Ended"/> at its end (after a first).</summary>
    internal readonly record struct Episode(bool First, bool Ended, TimeSpan Lost, TimeSpan Length);

    private long _countedToNs = long.MinValue;
    private long _droppedNs;
    private TimeSpan? _episodeStart;
    private TimeSpan _lastDropAt;
    private long _episodeNs;
    private bool _reported;

    /// <summary>Sound of the input dropped late so far, over every mixer hearing it.</summary>
    internal TimeSpan Dropped => TimeSpan.FromTicks(_droppedNs / 100);

    /// <summary>
    /// A mixer dropped <paramref name="durationNs"/> of the input's sound from <paramref name="runningTimeNs"/>, at
    /// <paramref name="now"/>, the input live for <paramref name="live"/>.
    /// </summary>
    internal Episode? Note(ulong runningTimeNs, ulong durationNs, TimeSpan now, TimeSpan live)
    {
        var (from, to) = ((long)runningTimeNs, (long)(runningTimeNs + durationNs));
        var counted = to - Math.Max(from, _countedToNs);
        if (counted <= 0) return null;
        _countedToNs = to;
        _droppedNs += counted;
        if (live < Grace) return null;
        _episodeStart ??= now;
        _lastDropAt = now;
        _episodeNs += counted;
        if (_reported || _episodeNs < Worth.Ticks * 100) return null;
        _reported = true;
        return new Episode(true, false, TimeSpan.FromTicks(_episodeNs / 100), now - _episodeStart.Value);
    }

    /// <summary>Closes an episode <see cref="QuietToEnd"/> after its last drop; the end is reported when its start was.</summary>
    internal Episode? Tick(TimeSpan now)
    {
        if (_episodeStart is not { } start || now - _lastDropAt < QuietToEnd) return null;
        var ended = new Episode(false, true, TimeSpan.FromTicks(_episodeNs / 100), _lastDropAt - start);
        var reported = _reported;
        (_episodeStart, _episodeNs, _reported) = (null, 0, false);
        return reported ? ended : null;
    }
}
