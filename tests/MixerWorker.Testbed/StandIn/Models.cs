using System.Net;

namespace MixerWorker.Testbed.StandIn;

/// <summary>Settings of a <see cref="MediaMtxStandIn"/>. Passphrases must be 10–79 characters, like MediaMTX's srt*Passphrase.</summary>
public sealed record StandInOptions
{
    /// <summary>UDP port; 0 picks a free one (read it back from <see cref="MediaMtxStandIn.Port"/>).</summary>
    public int Port { get; init; }
    /// <summary>Address to bind. Loopback by default: the stand-in is for tests and the local demo.</summary>
    public IPAddress BindAddress { get; init; } = IPAddress.Loopback;
    /// <summary>Passphrase for every publisher and reader of <c>ingest/...</c> paths; null = no encryption.</summary>
    public string? IngestPassphrase { get; init; }
    /// <summary>Passphrase for every publisher and reader of <c>out/...</c> paths; null = no encryption.</summary>
    public string? OutputPassphrase { get; init; }
    /// <summary>When set, the streamid query must contain <c>token=&lt;value&gt;</c>.</summary>
    public string? RequiredToken { get; init; }
    /// <summary>How long an accepted-by-streamid connection may take to finish its handshake before it is recorded as not completed.</summary>
    public TimeSpan HandshakeTimeout { get; init; } = TimeSpan.FromSeconds(5);
    /// <summary>
    /// When set, a text file that gets when each publisher's pictures arrived (by PTS), when each connection's handshake
    /// was asked for and accepted, and every second each connection's SRT buffer figures (<see cref="StandInTrace"/>).
    /// </summary>
    public string? TracePath { get; init; }

    // Keep the passphrases out of the record's generated ToString.
    public override string ToString() =>
        $"StandInOptions {{ Port = {Port}, BindAddress = {BindAddress}, IngestPassphrase = {(IngestPassphrase is null ? "none" : "***")}, " +
        $"OutputPassphrase = {(OutputPassphrase is null ? "none" : "***")}, RequiredToken = {(RequiredToken is null ? "none" : "***")} }}";
}

public enum SrtAttemptOutcome
{
    /// <summary>Streamid accepted; the SRT handshake (encryption check) has not finished yet.</summary>
    Pending,
    /// <summary>Connection established and handed to the router.</summary>
    Accepted,
    /// <summary>Rejected by the stand-in in the listen callback (grammar, token, no publisher).</summary>
    Rejected,
    /// <summary>Streamid accepted but libsrt failed the handshake afterwards: in practice a passphrase mismatch
    /// (missing, wrong or unexpected encryption).</summary>
    HandshakeFailed,
}

/// <summary>One incoming connection attempt, as the stand-in saw it. Never contains a passphrase or a streamid password.</summary>
/// <param name="StreamId">The raw streamid, with the password field masked as <c>***</c> when present.</param>
public sealed record SrtConnectionAttempt(
    long Sequence,
    DateTimeOffset At,
    string Remote,
    string StreamId,
    string? Action,
    string? Path,
    string? User,
    string? Query,
    SrtAttemptOutcome Outcome,
    string? Reason,
    DateTimeOffset? ClosedAt);

/// <summary>Counters for one path.</summary>
/// <param name="BytesIn">Bytes received from publishers of this path (all of them, since start).</param>
/// <param name="BytesOut">Bytes handed to readers' send buffers.</param>
/// <param name="MessagesDropped">Messages not sent to a reader because its send buffer was full.</param>
/// <param name="ShortMessagesIn">Messages from publishers shorter than the payload size (1316 bytes: 7 TS packets).</param>
public sealed record PathStats(string Path, bool HasPublisher, int Readers, long BytesIn, long BytesOut, long MessagesDropped, long ShortMessagesIn);
