using MixerWorker.Testbed.Feeds;

namespace MixerWorker.Testbed.Reading;

/// <summary>When a PES of an output began to arrive: its stream's PTS (ns, unwrapped) and the arrival of its first TS packet (Unix µs).</summary>
public readonly record struct PesArrival(bool Sound, long PtsNs, long ArrivalUs);

/// <summary>
/// The first TS packet of every sound and picture PES of an output, by the PTS it carries, read from
/// the TS as it arrives (before the demuxer, which hands a PES on only once the next one begins, and
/// retimes it). Sound and pictures share the stream's clock, so sound with PTS t and pictures with PTS
/// t are the same instant of the bus: what the sound timeline and the sound-behind-picture offset are
/// measured from (<see cref="Stamps.SoundAnalysis"/>). Fed by the reader's streaming thread, read by
/// the test's: the caller locks.
/// </summary>
internal sealed class PesArrivals
{
    // Four minutes of a bus's 50 sound and 30 picture PES a second; older ones are forgotten.
    private const int Kept = 20_000;
    private const long Wrap90k = 1L << 33;
    private readonly Queue<PesArrival> _seen = new();
    private readonly long?[] _last90k = new long?[2];
    private readonly long[] _wraps = new long[2];

    private readonly Dictionary<int, int> _continuity = [];

    internal IReadOnlyList<PesArrival> Seen => [.. _seen];

    /// <summary>TS packets that did not follow their PID's previous one (continuity counter): packets lost on the way.</summary>
    internal int Discontinuities { get; private set; }

    internal void Clear() => _seen.Clear();

    /// <summary>Notes the PES that begin in <paramref name="ts"/>, which arrived at <paramref name="arrivalUs"/>.</summary>
    internal void Note(ReadOnlySpan<byte> ts, long arrivalUs)
    {
        for (var i = 0; i + TsPacket.Size <= ts.Length; i += TsPacket.Size)
        {
            var p = ts.Slice(i, TsPacket.Size);
            if (p[0] != TsPacket.Sync) continue;
            NoteContinuity(p);
            if (TsPacket.PesTimestampOffsets(p) is not { Pts: >= 0 and var at }) continue;
            bool sound;
            if (TsPacket.IsVideoPes(p)) sound = false;
            else if (TsPacket.IsAudioPes(p)) sound = true;
            else continue;
            _seen.Enqueue(new PesArrival(sound, Unwrap(sound ? 1 : 0, TsPacket.ReadTimestamp(p[at..])) * 100_000 / 9, arrivalUs));
            while (_seen.Count > Kept) _seen.Dequeue();
        }
    }

    private void NoteContinuity(ReadOnlySpan<byte> p)
    {
        var pid = ((p[1] & 0x1F) << 8) | p[2];
        if (pid == 0x1FFF || (p[3] & 0x10) == 0) return; // null packets and packets without payload do not count
        var cc = p[3] & 0x0F;
        if (_continuity.TryGetValue(pid, out var last) && cc != ((last + 1) & 0x0F) && cc != last) Discontinuities++;
        _continuity[pid] = cc;
    }

    // A 33-bit PTS that falls back by more than half its range has wrapped (every 26.5 hours).
    private long Unwrap(int stream, long pts90k)
    {
        if (_last90k[stream] is { } last && last - pts90k > Wrap90k / 2) _wraps[stream]++;
        _last90k[stream] = pts90k;
        return pts90k + _wraps[stream] * Wrap90k;
    }
}
