namespace MixerWorker.Pipeline.Engine;

/// <summary>
/// Program comes first: while the Program bus is short of time (it dropped a frame, or a frame
/// reached its encoder more than a frame interval past its deadline), the other buses make fewer frames,
/// one step more each second, and give them back one step every few calm seconds. Each bus still
/// drops its own late frames (<see cref="Builders.LatenessGuard"/>); this only decides who gives way.
/// Control thread.
/// </summary>
internal sealed class LoadShedding
{
    /// <summary>Every how many frames an AUX bus makes one, by shedding level.</summary>
    internal static readonly int[] Levels = [1, 2, 3, 6, Builders.LatenessGuard.MostShed];
    internal static readonly TimeSpan StepUpEvery = TimeSpan.FromSeconds(1), StepDownAfter = TimeSpan.FromSeconds(3);

    private int _level;
    private TimeSpan? _lastStep, _lastPressure;

    internal int ShedEvery => Levels[_level];

    /// <summary>Takes one look at Program; returns the new shedding when it changes.</summary>
    internal int? Tick(bool programPressed, TimeSpan now)
    {
        if (programPressed)
        {
            _lastPressure = now;
            if (_level == Levels.Length - 1 || now - _lastStep < StepUpEvery) return null;
            _level++;
        }
        else
        {
            if (_level == 0 || now - _lastPressure < StepDownAfter || now - _lastStep < StepDownAfter) return null;
            _level--;
        }
        _lastStep = now;
        return ShedEvery;
    }
}
