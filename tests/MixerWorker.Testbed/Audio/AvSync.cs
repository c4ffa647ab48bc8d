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

    /// <summary>The PTS (ns) of the first picture of each run of pictures that <paramref name="isFlash"/> says are flashes.</summary>
    public static IReadOnlyList<ulong> Flashes(IReadOnlyList<RgbFrame> frames, Func<RgbFrame, bool> isFlash)
    {
        var found = new List<ulong>();
        var previous = false;
        foreach (var f in frames.Where(f => f.Pts is not null).OrderBy(f => f.Pts))
        {
            var flash = isFlash(f);
            if (flash && !previous) found.Add(f.Pts!.Value);
            previous = flash;
        }
        return found;
    }

    /// <summary>The PTS (ns) where each beep starts: a loud sample after at least 50 ms without one (first channel).</summary>
    public static IReadOnlyList<ulong> Beeps(IReadOnlyList<PcmChunk> audio, int channels, int rate)
    {
        var found = new List<ulong>();
        var quietNeeded = (long)(QuietBefore.TotalSeconds * rate);
        var quiet = quietNeeded; // a recording that starts inside a beep does not count it
        var started = false;
        foreach (var chunk in audio.Where(c => c.Pts is not null).OrderBy(c => c.Pts))
        {
            for (var i = 0; i < chunk.Samples.Length / channels; i++)
            {
                var loud = Math.Abs(chunk.Samples[i * channels]) >= Loud;
                if (loud && quiet >= quietNeeded && started) found.Add(chunk.Pts!.Value + (ulong)(i * 1e9 / rate));
                quiet = loud ? 0 : quiet + 1;
                started |= !loud;
            }
        }
        return found;
    }

    /// <summary>For each flash, the nearest beep's start minus the flash's (ms), if one lies within half a <paramref name="period"/>.</summary>
    public static IReadOnlyList<double> OffsetsMs(IReadOnlyList<ulong> flashes, IReadOnlyList<ulong> beeps, TimeSpan period) =>
        [.. flashes.Select(f => beeps.Select(b => ((double)b - f) / 1e6).OrderBy(Math.Abs).Cast<double?>().FirstOrDefault())
            .Where(o => o is { } ms && Math.Abs(ms) < period.TotalMilliseconds / 2).Select(o => o!.Value)];
}
