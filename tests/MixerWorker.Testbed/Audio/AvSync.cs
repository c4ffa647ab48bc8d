using MixerWorker.Testbed.Reading;

namespace MixerWorker.Testbed.Audio;

/// <summary>
/// Lip sync read at an output, from a feed's flash-and-beep marker (<see cref="Feeds.FeedSpec.FlashEvery"/>):
/// when each flash picture and each beep begin in the stream's own time (PTS), and how far apart.
/// </summary>
public static class AvSync
{
    private const float Loud = 0.1f;
    private static readonly TimeSpan QuietBefore = TimeSpan.FromMilliseconds(50);
    private const ulong HoleNs = 1_000_000; // more than a decoder's rounding of block timestamps

    /// <summary>
    /// The PTS (ns) of the first picture of each run of pictures that <paramref name="isFlash"/> says are flashes.
    /// A flash right after pictures missing from the recording is not placed: its first picture may be among them; nor
    /// one the recording starts inside.
    /// </summary>
    public static IReadOnlyList<ulong> Flashes(IReadOnlyList<RgbFrame> frames, Func<RgbFrame, bool> isFlash)
    {
        var ordered = frames.Where(f => f.Pts is not null).OrderBy(f => f.Pts).ToList();
        var intervals = ordered.Zip(ordered.Skip(1), (a, b) => b.Pts!.Value - a.Pts!.Value).Order().ToList();
        var hole = intervals.Count == 0 ? ulong.MaxValue : intervals[intervals.Count / 2] * 3 / 2;
        var found = new List<ulong>();
        // A recording that starts inside a flash does not place it.
        var previous = true;
        ulong? last = null;
        foreach (var f in ordered)
        {
            var flash = isFlash(f);
            var afterHole = last is { } l && f.Pts!.Value - l > hole;
            if (flash && !previous && !afterHole) found.Add(f.Pts!.Value);
            previous = flash;
            last = f.Pts;
        }
        return found;
    }

    /// <summary>
    /// The PTS (ns) where each beep starts: a loud sample after at least 50 ms heard without one (first channel).
    /// Sound missing from the recording (a packet lost on the way, which no decoder conceals here) counts as unheard:
    /// a beep that starts right after it may have started inside it, so it is not placed; so is the sound before the
    /// recording began.
    /// </summary>
    public static IReadOnlyList<ulong> Beeps(IReadOnlyList<PcmChunk> audio, int channels, int rate)
    {
        var found = new List<ulong>();
        var quietNeeded = (long)(QuietBefore.TotalSeconds * rate);
        // A recording that starts inside a beep does not place it: the tone's samples near its zero crossings are not
        // loud, so a beep is only where 50 ms of the recording were quiet before it.
        var quiet = 0L;
        ulong? next = null;
        foreach (var chunk in audio.Where(c => c.Pts is not null).OrderBy(c => c.Pts))
        {
            if (next is { } expected && chunk.Pts!.Value > expected + HoleNs) quiet = 0;
            next = chunk.Pts!.Value + (ulong)(chunk.Samples.Length / channels * 1e9 / rate);
            for (var i = 0; i < chunk.Samples.Length / channels; i++)
            {
                var loud = Math.Abs(chunk.Samples[i * channels]) >= Loud;
                if (loud && quiet >= quietNeeded) found.Add(chunk.Pts!.Value + (ulong)(i * 1e9 / rate));
                quiet = loud ? 0 : quiet + 1;
            }
        }
        return found;
    }

    /// <summary>For each flash, the nearest beep's start minus the flash's (ms), if one lies within half a <paramref name="period"/>.</summary>
    public static IReadOnlyList<double> OffsetsMs(IReadOnlyList<ulong> flashes, IReadOnlyList<ulong> beeps, TimeSpan period) =>
        [.. flashes.Select(f => beeps.Select(b => ((double)b - f) / 1e6).OrderBy(Math.Abs).Cast<double?>().FirstOrDefault())
            .Where(o => o is { } ms && Math.Abs(ms) < period.TotalMilliseconds / 2).Select(o => o!.Value)];
}
