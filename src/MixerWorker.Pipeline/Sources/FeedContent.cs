namespace MixerWorker.Pipeline.Sources;

/// <summary>
/// What one input connection has carried so far (bytes, and the tracks the demuxer found with their
/// codecs), so that a connection that never produced a picture is explained as what it is: no data,
/// no MPEG-TS, or a codec the engine cannot decode. Fed from the demuxer's streaming thread, read
/// from the supervisor's: every member locks.
/// </summary>
internal sealed class FeedContent
{
    /// <summary>What the engine decodes, for messages; keep in line with SrtSource's decoder chains.</summary>
    internal const string Decodes = "H.264 and H.265 video, AAC, MP2/MP3 and Opus audio";

    private readonly Lock _lock = new();
    private readonly List<(string Kind, string Codec, bool Decodable)> _tracks = [];

    /// <summary>A track the demuxer exposed; only video and audio count (data and subtitles are drained silently).</summary>
    internal void Track(string? mediaType, string caps, bool decodable)
    {
        var kind = KindOf(mediaType);
        if (kind is null) return;
        lock (_lock) _tracks.Add((kind, Codec(mediaType, caps), decodable));
    }

    /// <summary>
    /// Why a connection that has been up for <paramref name="waited"/> has not produced anything;
    /// null when it is not connected (its own error says why) or nothing better than "not ready" can be said.
    /// </summary>
    internal string? Explain(string input, bool connected, long bytes, TimeSpan waited)
    {
        if (!connected) return null;
        var seconds = $"{waited.TotalSeconds:0.#} s";
        if (bytes == 0) return $"input {input}: connected, but no data in {seconds}";
        List<(string Kind, string Codec, bool Decodable)> tracks;
        lock (_lock) tracks = [.. _tracks];
        if (tracks.Count == 0) return $"input {input}: connected, but no decodable MPEG-TS in {seconds} ({bytes} bytes received)";
        var undecodable = tracks.Where(t => !t.Decodable).ToList();
        if (undecodable.Count == tracks.Count)
            return $"input {input}: connected, but {Describe(undecodable)}, which the engine cannot decode (it decodes {Decodes})";
        var decodable = tracks.Where(t => t.Decodable).Select(t => $"{t.Codec} {t.Kind}").Distinct();
        return $"input {input}: connected, {string.Join(" and ", decodable)} found, but nothing decoded in {seconds} ({bytes} bytes received)";
    }

    /// <summary>For a connection that works through one track: each other track that cannot be decoded, as what is lost.</summary>
    internal IEnumerable<string> Lost(string input)
    {
        lock (_lock)
            return _tracks.Where(t => !t.Decodable).Select(t =>
                $"input {input}: its {t.Kind} is {t.Codec}, which the engine cannot decode (it decodes {Decodes}); the input goes on without it").ToList();
    }

    private static string Describe(List<(string Kind, string Codec, bool Decodable)> tracks) =>
        string.Join(" and ", tracks.Select(t => $"its {t.Kind} is {t.Codec}").Distinct());

    internal static string? KindOf(string? mediaType) => mediaType switch
    {
        null => null,
        _ when mediaType.StartsWith("video/", StringComparison.Ordinal) || mediaType.StartsWith("image/", StringComparison.Ordinal) => "video",
        _ when mediaType.StartsWith("audio/", StringComparison.Ordinal) => "audio",
        _ => null,
    };

    /// <summary>A codec's name as an operator knows it, from the demuxer's caps.</summary>
    internal static string Codec(string? mediaType, string caps) => mediaType switch
    {
        "video/x-h264" => "H.264",
        "video/x-h265" => "H.265",
        "video/mpeg" when caps.Contains("mpegversion=(int)4", StringComparison.Ordinal) => "MPEG-4 Part 2",
        "video/mpeg" => "MPEG-1/2 video",
        "audio/mpeg" when caps.Contains("mpegversion=(int)1", StringComparison.Ordinal) => "MP2/MP3",
        "audio/mpeg" => "AAC",
        "audio/x-opus" => "Opus",
        "audio/x-ac3" or "audio/ac3" => "AC-3",
        "audio/x-eac3" => "E-AC-3",
        "audio/x-dts" => "DTS",
        "audio/x-lpcm" or "audio/x-private-ts-lpcm" => "LPCM",
        "image/x-jpc" or "image/x-j2c" => "JPEG 2000",
        "video/x-dirac" => "Dirac",
        "video/x-cavs" => "AVS",
        "video/x-vc1" or "video/x-wmv" => "VC-1",
        _ => mediaType ?? "an unknown codec",
    };
}
