namespace MixerWorker.Pipeline.Engine;

/// <summary>
/// Notices a bus whose pictures stopped leaving its muxer while the rest of the project goes on (seen
/// under deep CPU starvation: the threads that push into the bus's muxer blocked there, the muxer's
/// thread waiting, for good), so that the project rebuilds that bus alone. A bus is stalled
/// once no picture has left its muxer, and it dropped no picture and no sound for coming too late, for its
/// allowance (<see cref="Allowance"/>), counted from then or from when its branch was built. Not stalled:
/// <list type="bullet">
/// <item>every bus at once: that is the machine (a worker starved to a few percent of a core stops
/// them all for seconds) or what they share (their mix chain), and rebuilding them would only add work.
/// With other buses, one is rebuilt only while another has pictures leaving it now (<see cref="GoingOn"/>),
/// not merely within the allowance: buses that stop together do not stop at the same picture (a shedding
/// bus's last one comes up to its gap earlier), and the first to stop was taken for stalled;</item>
/// <item>a bus dropping its pictures or its sound as late (<see cref="Builders.LatenessGuard.LateDrops"/>): its
/// threads run, short of CPU, and a rebuild would give it none. Starved to a fifth of a core, an AUX bus
/// shedding to a frame in 15 went 1–2 s at a time without a picture leaving it while Program went on, its
/// kept frames dropped as late at its compositor or encoder; and every bus went over a second
/// without one while their shared mix chain's sound came 0.4–0.6 s late and was dropped, the muxers waiting
/// for sound;</item>
/// <item>time the control thread itself did not run (a late look) is not counted against any bus;</item>
/// <item>a bus shedding frames (at most <see cref="Builders.LatenessGuard.MostShed"/> − 1 frames between two)
/// or whose output reconnects: the muxer writes on through both (a refused connection's bin drops what
/// it is given; one connecting drops what it is given until connected, never holding the muxer), and the
/// allowance is several times the longest shedding gap.</item>
/// </list>
/// An episode is reported once, when its first rebuild is made, and ends with the bus's next
/// picture; should the rebuilt bus stall again before that, it is rebuilt again at growing intervals.
/// Control thread.
/// </summary>
internal sealed class BusStallWatch
{
    /// <summary>The longest wait between two rebuilds of a bus that does not come back.</summary>
    internal static readonly TimeSpan MostBetweenRebuilds = TimeSpan.FromMinutes(1);
    // A look this much later than the previous one means the control thread was starved too.
    private static readonly TimeSpan LateLook = TimeSpan.FromSeconds(1);

    private readonly Dictionary<string, State> _buses = [];
    private TimeSpan? _lastLook;

    /// <summary>
    /// What the watch is shown of a bus at each look: its current branch (an identity: a new one restarts its count), the
    /// pictures its muxer wrote, and what it dropped for coming late (<see cref="Builders.LatenessGuard.LateDrops"/>).
    /// </summary>
    internal readonly record struct Look(string Bus, object Branch, long Pictures, long LateDrops, TimeSpan Allowance, TimeSpan GoingOn);

    /// <summary>A bus to rebuild: silent for <paramref name="Silent"/>; <paramref name="Rebuild"/> 1 is the episode's first (the one to report).</summary>
    internal sealed record Stall(string Bus, TimeSpan Silent, int Rebuild);

    /// <summary>A stalled bus whose pictures leave it again, <paramref name="After"/> its last one before the stall, after <paramref name="Rebuilds"/> rebuilds.</summary>
    internal sealed record Recovery(string Bus, TimeSpan After, int Rebuilds);

    /// <summary>
    /// How long a bus may put out no picture: <paramref name="timeout"/>, or, for a bus so slow that
    /// shedding leaves longer gaps, twice its longest shedding gap.
    /// </summary>
    internal static TimeSpan Allowance(TimeSpan timeout, int fps)
    {
        var twoGaps = 2 * Builders.LatenessGuard.LongestGap(fps);
        return timeout > twoGaps ? timeout : twoGaps;
    }

    /// <summary>
    /// How recent a bus's last picture must be for it to go on, beside one that is silent: twice its longest shedding
    /// gap, and no less than a second (a loaded machine's hiccup).
    /// </summary>
    internal static TimeSpan GoingOn(int fps)
    {
        var twoGaps = 2 * Builders.LatenessGuard.LongestGap(fps);
        return twoGaps > TimeSpan.FromSeconds(1) ? twoGaps : TimeSpan.FromSeconds(1);
    }

    /// <summary>Stall episodes of <paramref name="bus"/> so far (kept across its rebuilds).</summary>
    internal int Episodes(string bus) => _buses.GetValueOrDefault(bus)?.Episodes ?? 0;

    /// <summary>Whether <paramref name="bus"/> is in a stall episode now.</summary>
    internal bool Stalled(string bus) => _buses.GetValueOrDefault(bus)?.Episode is not null;

    /// <summary>Takes one look at every bus at <paramref name="now"/>; says which to rebuild and which came back.</summary>
    internal (IReadOnlyList<Stall> Rebuild, IReadOnlyList<Recovery> Recovered) Watch(IReadOnlyCollection<Look> looks, TimeSpan now)
    {
        if (_lastLook is { } last && now - last > LateLook)
            foreach (var s in _buses.Values) s.Since += now - last;
        _lastLook = now;
        foreach (var gone in _buses.Keys.Where(b => looks.All(l => l.Bus != b)).ToList()) _buses.Remove(gone);

        var recovered = new List<Recovery>();
        foreach (var look in looks)
        {
            if (!_buses.TryGetValue(look.Bus, out var s)) _buses[look.Bus] = s = new State(look.Branch, look.Pictures, look.LateDrops, now);
            if (!ReferenceEquals(s.Branch, look.Branch))
            {
                (s.Branch, s.Pictures, s.LateDrops, s.Since) = (look.Branch, look.Pictures, look.LateDrops, now);
                continue;
            }
            if (look.LateDrops != s.LateDrops) (s.LateDrops, s.Since) = (look.LateDrops, now);
            if (look.Pictures == s.Pictures) continue;
            (s.Pictures, s.Since, s.LastPicture) = (look.Pictures, now, now);
            if (s.Episode is { } e) recovered.Add(new Recovery(look.Bus, now - e.Start, e.Rebuilds));
            s.Episode = null;
        }

        var rebuild = new List<Stall>();
        foreach (var look in looks)
        {
            var s = _buses[look.Bus];
            if (now - s.Since < look.Allowance || now < s.Episode?.NextAt) continue;
            var othersGoOn = looks.Any(o => o.Bus != look.Bus && _buses[o.Bus].LastPicture is { } last && now - last < o.GoingOn);
            if (looks.Count > 1 && !othersGoOn) continue;
            if (s.Episode is null)
            {
                s.Episode = new Episode(s.LastPicture ?? s.Since);
                s.Episodes++;
            }
            var e = s.Episode;
            e.Rebuilds++;
            var wait = look.Allowance * Math.Pow(2, e.Rebuilds);
            e.NextAt = now + (wait < MostBetweenRebuilds ? wait : MostBetweenRebuilds);
            rebuild.Add(new Stall(look.Bus, now - (s.LastPicture ?? s.Since), e.Rebuilds));
        }
        return (rebuild, recovered);
    }

    private sealed class State(object branch, long pictures, long lateDrops, TimeSpan since)
    {
        internal object Branch = branch;
        internal long Pictures = pictures;
        internal long LateDrops = lateDrops;
        // From when silence counts: the last picture or late drop, the branch's build, or later where looks were late.
        internal TimeSpan Since = since;
        internal TimeSpan? LastPicture;
        internal Episode? Episode;
        internal int Episodes;
    }

    private sealed class Episode(TimeSpan start)
    {
        internal readonly TimeSpan Start = start;
        internal int Rebuilds;
        internal TimeSpan NextAt;
    }
}
