using Microsoft.Extensions.Logging;
using MixerWorker.Pipeline.Builders;

namespace MixerWorker.Pipeline.Engine;

/// <summary>
/// Looks at every bus's lateness a few times a second: reports each bus's drop episodes (one
/// warning when an episode starts, a line when it ends; the counters and the delivered rate are in
/// its status), and decides from Program's state how many frames the other buses give up
/// (<see cref="LoadShedding"/>), from the first frame Program shows an input in; the shedding in force, since when
/// and how many times it began are in the status (<see cref="Shedding"/>). Control thread.
/// </summary>
internal sealed class LatenessWatch(ILogger log)
{
    private const string ProgramBus = "program";

    private readonly LoadShedding _shedding = new();
    private long _programMissed;
    // Since when the other buses give way (null while they make every frame), how many times they began to,
    // and since when each of them does (a bus added meanwhile, from when it came).
    private DateTimeOffset? _shedSince;
    private long _sheddingEpisodes;
    private Dictionary<string, DateTimeOffset> _busShedSince = [];

    /// <summary>A new bus starts with the shedding in force; one rebuilt in place keeps since when it gives way.</summary>
    internal void Adopt(BusBranch bus)
    {
        if (bus.Name == ProgramBus) return;
        bus.Guard.ShedEvery = _shedding.ShedEvery;
        if (_shedSince is not null) _busShedSince.TryAdd(bus.Name, DateTimeOffset.UtcNow);
    }

    /// <summary>The shedding in force, for the status.</summary>
    internal SheddingStatus Shedding => new(_shedding.Level, _shedding.ShedEvery, _sheddingEpisodes, _shedSince);

    /// <summary>Since when a bus gives way to Program; null while it makes every frame.</summary>
    internal DateTimeOffset? ShedSince(BusBranch bus) =>
        bus.Guard.ShedEvery > 1 && _busShedSince.TryGetValue(bus.Name, out var since) ? since : null;

    internal void Watch(IEnumerable<BusBranch> buses)
    {
        var now = TimeSpan.FromMilliseconds(Environment.TickCount64);
        var all = buses.ToList();
        var (programMissed, programFps) = (0, 30);
        foreach (var bus in all)
        {
            var guard = bus.Guard;
            if (bus.Name == ProgramBus)
            {
                // A rebuilt Program counts afresh.
                var missed = guard.Missed;
                if (missed < _programMissed) _programMissed = 0;
                // Counted from Program's first input picture: before it, Program shows only its
                // background and cards while the buses start, the encoders open and the inputs
                // connect, and that start-up load pressed it 2-6 s before any input had arrived,
                // shedding every AUX bus for what only Program's black frames lost.
                if (guard.Armed && bus.Director.ShowedPicture) (programMissed, programFps) = ((int)(missed - _programMissed), guard.Fps);
                _programMissed = missed;
            }
            if (bus.WatchLateness(now) is { } episode) Report(bus, episode);
        }
        Shed(all, programMissed, programFps, now);
    }

    private void Report(BusBranch bus, LatenessGuard.Episode episode)
    {
        if (episode.First)
            log.LogWarning("bus {Bus} cannot make all its frames in time: dropping frames to hold its delay ({Fps:F1} of {Rate} fps delivered{Ended})",
                bus.Name, episode.DeliveredFps, bus.Guard.Fps, episode.Ended ? $", for {episode.Length.TotalSeconds:F1} s" : "");
        else if (episode.Ended)
            log.LogInformation("bus {Bus} makes all its frames again after {Seconds:F1} s: {Dropped} dropped, {Fps:F1} of {Rate} fps delivered, {AudioMs:F0} ms of sound dropped",
                bus.Name, episode.Length.TotalSeconds, episode.Dropped, episode.DeliveredFps, bus.Guard.Fps, episode.AudioDropped.TotalMilliseconds);
    }

    private void Shed(List<BusBranch> buses, int programMissed, int programFps, TimeSpan now)
    {
        var before = _shedding.ShedEvery;
        if (_shedding.Tick(programMissed, programFps, now) is not { Every: var every } change) return;
        var others = buses.Where(b => b.Name != ProgramBus).ToList();
        foreach (var bus in others) bus.Guard.ShedEvery = every;
        if (before == 1)
        {
            _shedSince = DateTimeOffset.UtcNow;
            _sheddingEpisodes++;
            foreach (var bus in others) _busShedSince[bus.Name] = _shedSince.Value;
            log.LogWarning("program is short of time: the other buses make fewer frames to leave it the machine (one in {Every})", every);
        }
        else if (every == 1)
        {
            (_shedSince, _busShedSince) = (null, []);
            log.LogInformation("program keeps up again: the other buses make every frame");
        }
        else
            log.LogDebug("the other buses now make one frame in {Every}", every);
        if (change.TrialFailedWait is { } wait)
            log.LogInformation("program was short of time again soon after the other buses made more frames: they try again after {Wait:F0} s of calm", wait.TotalSeconds);
    }
}
