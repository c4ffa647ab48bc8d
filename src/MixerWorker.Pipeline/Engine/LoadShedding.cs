namespace MixerWorker.Pipeline.Engine;

/// <summary>
/// Program comes first: while the Program bus is short of time the other buses make fewer frames, one
/// step more each second, and they give a step back on trial once Program has been calm for a while.
/// Each bus still drops its own late frames (<see cref="Builders.LatenessGuard"/>); this only decides who
/// gives way. Control thread.
/// </summary>
/// <remarks>
/// Short of time is a rate, not an event: Program missed at least one frame in ten over the last two
/// seconds (<see cref="Builders.LatenessGuard.Missed"/>), spread over at least three looks. A loaded
/// machine, a virtual one above all, stalls the whole process now and then for a few frames (host steal, a
/// page fault storm); shedding cannot help with that, and when any late frame counted, one such stall every
/// couple of seconds held the AUX buses shed for good while the machine had room for them. The machine
/// shows whether it can carry a step more only when the step is given back: a step given back that brings
/// Program short of time again within <see cref="Trial"/> is taken again at once, and the next trial of
/// that step waits twice as long, up to <see cref="LongestWait"/>, so a machine that cannot carry it costs
/// Program about a second of lateness a minute, not every few seconds; a step given back that holds brings
/// its wait back to <see cref="FirstWait"/>. Each step keeps its own wait: with one for all, a smaller step
/// that held (one in 15 to one in 6) brought the wait of one that did not (one in 6 to one in 3) back to
/// the first, and it was tried every ~14 s under a CPU quota.
/// </remarks>
internal sealed class LoadShedding
{
    /// <summary>Every how many frames an AUX bus makes one, by shedding level.</summary>
    internal static readonly int[] Levels = [1, 2, 3, 6, Builders.LatenessGuard.MostShed];
    internal static readonly TimeSpan Window = TimeSpan.FromSeconds(2), StepUpEvery = TimeSpan.FromSeconds(1);
    internal static readonly TimeSpan FirstWait = TimeSpan.FromSeconds(3), LongestWait = TimeSpan.FromSeconds(48), Trial = TimeSpan.FromSeconds(6);
    /// <summary>The share of Program's frames missed over <see cref="Window"/> that makes it short of time ...</summary>
    internal const double ShortShare = 0.1;
    /// <summary>... in at least this many looks.</summary>
    internal const int ShortLooks = 3;

    /// <summary>A change of shedding: the new share, and where a step given back on trial failed, how long the next trial waits.</summary>
    internal readonly record struct Change(int Every, TimeSpan? TrialFailedWait = null);

    // The looks since the last step, within the window, in which Program missed frames.
    private readonly Queue<(TimeSpan At, int Missed)> _misses = new();
    private int _level;
    private TimeSpan? _lastStep, _lastShort, _trialUntil;
    // The level a step on trial was given back from; by level, how long Program must stay calm before its step is given back.
    private int _trialFrom;
    private readonly TimeSpan[] _waits = [.. Levels.Select(_ => FirstWait)];

    internal int ShedEvery => Levels[_level];

    /// <summary>The step in force: 0 while every bus makes every frame, up to the last of <see cref="Levels"/>.</summary>
    internal int Level => _level;

    /// <summary>How long Program must stay calm before the next step is given back.</summary>
    internal TimeSpan Wait => _waits[_level];

    /// <summary>
    /// Takes one look at Program, which missed <paramref name="missed"/> of its frames at
    /// <paramref name="fps"/> since the last look; returns the change when the shedding changes.
    /// </summary>
    internal Change? Tick(int missed, int fps, TimeSpan now)
    {
        if (missed > 0) _misses.Enqueue((now, missed));
        // What was missed before a step says nothing of the step.
        while (_misses.TryPeek(out var m) && (now - m.At >= Window || m.At <= _lastStep)) _misses.Dequeue();
        if (_trialUntil <= now) (_trialUntil, _waits[_trialFrom]) = (null, FirstWait);

        if (_misses.Count >= ShortLooks && _misses.Sum(m => m.Missed) >= ShortShare * fps * Window.TotalSeconds)
        {
            _lastShort = now;
            if (_level == Levels.Length - 1 || now - _lastStep < StepUpEvery) return null;
            TimeSpan? failed = null;
            if (_trialUntil is not null && _trialFrom == _level + 1)
            {
                var wait = 2 * _waits[_trialFrom];
                _waits[_trialFrom] = wait < LongestWait ? wait : LongestWait;
                failed = _waits[_trialFrom];
            }
            _trialUntil = null;
            _level++;
            _lastStep = now;
            return new Change(ShedEvery, failed);
        }
        if (_level == 0 || now - _lastShort < Wait || now - _lastStep < Wait) return null;
        _trialFrom = _level--;
        _lastStep = now;
        _trialUntil = now + Trial;
        return new Change(ShedEvery);
    }
}
