using System.Text;
using MixerWorker.Testbed.Feeds;

namespace MixerWorker.Testbed.Reading;

/// <summary>
/// The settings x264 actually encoded with, as it writes them into the stream: an SEI
/// user-data-unregistered message at the start of the stream (and, from x264enc, at each keyframe it
/// repeats headers) holding "x264 - core N - ... - options: cabac=0 ref=1 ...". Reading them from the
/// published MPEG-TS proves what the encoder did, whatever its properties and preset said.
/// </summary>
public static class X264Options
{
    private static readonly byte[] Marker = Encoding.ASCII.GetBytes("x264 - core ");
    private static readonly byte[] OptionsTag = Encoding.ASCII.GetBytes("options: ");

    /// <summary>The options of the first x264 SEI found in <paramref name="ts"/> (MPEG-TS), or null if there is none.</summary>
    public static IReadOnlyDictionary<string, string>? FromTransportStream(ReadOnlySpan<byte> ts)
    {
        foreach (var payload in Payloads(ts).Values)
            if (FromElementaryStream(payload.ToArray()) is { } options) return options;
        return null;
    }

    /// <summary>The options of the first x264 SEI in an H.264 byte stream, or null.</summary>
    public static IReadOnlyDictionary<string, string>? FromElementaryStream(ReadOnlySpan<byte> es)
    {
        var at = es.IndexOf(Marker);
        if (at < 0) return null;
        var text = es[at..];
        var end = text.IndexOf((byte)0);
        if (end >= 0) text = text[..end];
        var options = text.IndexOf(OptionsTag);
        if (options < 0) return null;
        return Encoding.ASCII.GetString(text[(options + OptionsTag.Length)..])
            .Split(' ', StringSplitOptions.RemoveEmptyEntries)
            .Select(kv => kv.Split('=', 2))
            .Where(kv => kv.Length == 2)
            .GroupBy(kv => kv[0])
            .ToDictionary(g => g.Key, g => g.First()[1]);
    }

    // Each PID's payload bytes in order (PES headers included: the SEI text is found by its marker).
    private static Dictionary<int, MemoryStream> Payloads(ReadOnlySpan<byte> ts)
    {
        var byPid = new Dictionary<int, MemoryStream>();
        for (var i = 0; i + TsPacket.Size <= ts.Length; i += TsPacket.Size)
        {
            var p = ts.Slice(i, TsPacket.Size);
            if (p[0] != TsPacket.Sync) { i -= TsPacket.Size - 1; continue; } // resynchronise byte by byte
            if (TsPacket.PayloadOffset(p) is not { } start) continue;
            var pid = ((p[1] & 0x1F) << 8) | p[2];
            if (!byPid.TryGetValue(pid, out var s)) byPid[pid] = s = new MemoryStream();
            s.Write(p[start..]);
        }
        return byPid;
    }
}
