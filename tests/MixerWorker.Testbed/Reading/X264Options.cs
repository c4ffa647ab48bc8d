using System.Text;

namespace MixerWorker.Testbed.Reading;

/// <summary>
/// The settings x264 actually encoded with, as it writes them into the stream: an SEI
/// user-data-unregistered message with its first picture only, holding
/// "x264 - core N - ... - options: cabac=0 ref=1 ...". Reading them from the stream proves what the
/// encoder did, whatever its properties and preset said.
/// </summary>
public static class X264Options
{
    private static readonly byte[] Marker = Encoding.ASCII.GetBytes("x264 - core ");
    private static readonly byte[] OptionsTag = Encoding.ASCII.GetBytes("options: ");

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
}
