namespace MixerWorker.Testbed.StandIn;

/// <summary>
/// One publisher's time on a path, as the stand-in saw it: from its first message (MediaMTX reads a
/// new publisher's tracks before adding it to the path) until its connection was closed, and why. With
/// MediaMTX's overridePublisher a new publisher replaces the current one at that first message: the old
/// session then ends with <see cref="MediaMtxStandIn.ReplacedReason"/> at the instant the new one starts.
/// A publisher that connected but never sent anything never had a session.
/// </summary>
public sealed record PublishSession(long Sequence, string Path, string Remote, DateTimeOffset Started, DateTimeOffset? Ended, string? EndReason)
{
    public bool WasReplaced => EndReason == MediaMtxStandIn.ReplacedReason;

    /// <summary>
    /// Sessions of one path that overlapped for longer than <paramref name="instant"/>: an earlier
    /// session still open when a later one started, except for the replacement that ended it.
    /// </summary>
    public static IReadOnlyList<(PublishSession Earlier, PublishSession Later)> Overlaps(IReadOnlyList<PublishSession> sessions, TimeSpan instant)
    {
        var ordered = sessions.OrderBy(s => s.Started).ToList();
        var overlaps = new List<(PublishSession, PublishSession)>();
        for (var i = 0; i < ordered.Count; i++)
            for (var j = i + 1; j < ordered.Count; j++)
            {
                var (a, b) = (ordered[i], ordered[j]);
                var aEnd = a.Ended ?? DateTimeOffset.MaxValue;
                if (aEnd <= b.Started) continue;
                if (a.WasReplaced && aEnd - b.Started <= instant) continue;
                overlaps.Add((a, b));
            }
        return overlaps;
    }
}
