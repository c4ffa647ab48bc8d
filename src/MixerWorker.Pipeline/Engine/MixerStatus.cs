namespace MixerWorker.Pipeline.Engine;

/// <summary>
/// A snapshot of a running project, safe to serialise (no secrets in it); <paramref name="Shedding"/>: how far
/// the buses other than Program give way to it.
/// </summary>
public sealed record MixerStatus(
    string Project,
    long Revision,
    IReadOnlyDictionary<string, InputStatus> Inputs,
    IReadOnlyDictionary<string, BusStatus> Buses,
    SheddingStatus? Shedding = null);

/// <summary>
/// Program first (docs/architecture.md, "Live timing"): while Program is short of time, every other bus makes only
/// one frame in <paramref name="ShedEvery"/> (1: every frame). <paramref name="Level"/> is the step (0: none, 4: the
/// most, one in 15), <paramref name="Since"/> when the buses began to give way in the episode that lasts now (null
/// when none does), <paramref name="Episodes"/> how many times they began to since the mixer started.
/// </summary>
public sealed record SheddingStatus(int Level, int ShedEvery, long Episodes, DateTimeOffset? Since = null);

/// <summary>
/// An input's connection and what came through it: <paramref name="Attempts"/> connection attempts,
/// <paramref name="FramesIn"/> decoded pictures, <paramref name="DecodeErrors"/> errors and warnings
/// from its demuxer, parser and decoder, how long ago the last picture came (null: none yet), and
/// <paramref name="SoundDroppedLateSeconds"/> of its sound that came to the bus mixers after its time and was
/// dropped (at least what any one bus lost: each stretch counts once).
/// </summary>
public sealed record InputStatus(ConnectionState State, string? Error, int Attempts, DateTimeOffset Since,
    long FramesIn = 0, long DecodeErrors = 0, TimeSpan? SinceLastFrame = null, double SoundDroppedLateSeconds = 0);

/// <summary>
/// A bus's output connection and what it made: <paramref name="FramesOut"/> mixed pictures handed to
/// the encoder, <paramref name="BytesSent"/> MPEG-TS bytes handed to SRT, <paramref name="Attempts"/>
/// connection attempts, whether it makes its frames on time (<paramref name="Lateness"/>), and
/// <paramref name="EncoderFallbacks"/> times its encoder failed and the bus moved to the next backend
/// (<paramref name="Encoder"/> is the one in use), and <paramref name="Stalls"/> times its pictures
/// stopped leaving its muxer while the other buses went on, each time rebuilt (<paramref name="Stalled"/>:
/// one such episode lasts now). Counts are the bus's since the mixer started, over every branch it had
/// (<see cref="BusCounts"/>): a rebuild never makes them fall.
/// </summary>
public sealed record BusStatus(ConnectionState Output, string? Error, long FramesOut, string Encoder,
    int Attempts = 0, long BytesSent = 0, BusLateness? Lateness = null, int EncoderFallbacks = 0, int Stalls = 0, bool Stalled = false);

/// <summary>
/// Whether a bus makes its frames on time. While it cannot (<paramref name="Dropping"/>), it drops
/// frames rather than fall behind and delivers <paramref name="DeliveredFps"/> of its frame rate, <paramref name="Fps"/>;
/// <paramref name="Episodes"/> counts such spells since the mixer started. Sound that fell as far
/// behind is dropped too (a gap rather than a delay): <paramref name="DroppedAudioSeconds"/> of it so far.
/// Where its pictures leave it (into SRT), <paramref name="PicturesSent"/> so far, of which
/// <paramref name="PicturesSentLate"/> left more than two frame intervals past their deadline (the
/// bus's latency after their running time: issue 9's bound), and the 95th percentile of how late they
/// left over the last 5 s, <paramref name="SentLateP95Ms"/> (negative: ahead of the deadline).
/// A bus other than Program <paramref name="Shed"/> gives way to it: it makes one frame in <paramref name="ShedEvery"/>
/// (1: every frame), since <paramref name="ShedSince"/> (<see cref="SheddingStatus"/>).
/// </summary>
public sealed record BusLateness(bool Dropping, double DeliveredFps, long DroppedFrames, long Episodes, double DroppedAudioSeconds = 0,
    double? SentLateP95Ms = null, long PicturesSent = 0, long PicturesSentLate = 0, bool Shed = false, int ShedEvery = 1, DateTimeOffset? ShedSince = null,
    int Fps = 0);

/// <summary>
/// A bus's latest thumbnail: a small JPEG of its mixed picture. <paramref name="Sequence"/> grows with
/// every new picture, so a caller can tell a new one from the one it already has.
/// </summary>
public sealed record Thumbnail(int Width, int Height, byte[] Jpeg, long Sequence, DateTimeOffset TakenAt);

/// <summary>Peak and RMS in dBFS over the last metering interval; -inf (as -120) for silence.</summary>
public sealed record AudioLevel(double PeakDb, double RmsDb)
{
    public const double FloorDb = Interop.LevelReading.FloorDb;
    public static readonly AudioLevel Silence = new(FloorDb, FloorDb);
}

public sealed record AudioMeters(IReadOnlyDictionary<string, AudioLevel> Inputs, IReadOnlyDictionary<string, AudioLevel> Buses);

/// <summary>Replaces secret values in text that came from GStreamer or libsrt before it is logged or reported.</summary>
internal sealed class SecretRedactor(IEnumerable<string?> secrets)
{
    private readonly string[] _secrets = secrets.Where(s => !string.IsNullOrEmpty(s)).Select(s => s!).OrderByDescending(s => s.Length).ToArray();

    internal string Redact(string text)
    {
        foreach (var s in _secrets) text = text.Replace(s, "***", StringComparison.Ordinal);
        return text;
    }
}

/// <summary>Turns SRT error texts into what an operator can act on.</summary>
internal static class SrtErrorText
{
    internal static string Explain(string text, string passphraseVariable) => text switch
    {
        _ when text.Contains("passphrase", StringComparison.OrdinalIgnoreCase) || text.Contains("Password required", StringComparison.OrdinalIgnoreCase)
            => $"SRT authentication failed: wrong or missing passphrase (check {passphraseVariable}) [{text}]",
        _ when text.Contains("Rogue peer", StringComparison.OrdinalIgnoreCase) || text.Contains("reject", StringComparison.OrdinalIgnoreCase)
            => $"MediaMTX refused the connection: no stream on the path, a bad token, or a refused streamid [{text}]",
        // srtsink (GStreamer 1.22) does not read the reject reason: a refused handshake shows up as a
        // socket that no longer exists when the first buffer is written.
        _ when text.Contains("Connection does not exist", StringComparison.OrdinalIgnoreCase) || text.Contains("broken or closed", StringComparison.OrdinalIgnoreCase)
            => $"MediaMTX refused or closed the connection: a wrong passphrase (check {passphraseVariable}), a bad token, or a refused streamid [{text}]",
        _ when text.Contains("timed out", StringComparison.OrdinalIgnoreCase) || text.Contains("Connection setup failure", StringComparison.OrdinalIgnoreCase)
            => $"MediaMTX did not answer [{text}]",
        _ => text,
    };
}
