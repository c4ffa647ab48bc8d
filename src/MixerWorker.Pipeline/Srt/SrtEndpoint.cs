using System.Text.RegularExpressions;
using MixerWorker.Pipeline.Scene;

namespace MixerWorker.Pipeline.Srt;

/// <summary>How the engine reaches MediaMTX over SRT. Passphrases and the token are secrets:
/// <see cref="ToString"/> never shows them.</summary>
public sealed partial record MediaMtxConnection
{
    public string Host { get; init; } = "mediamtx";
    public int SrtPort { get; init; } = 8000;
    /// <summary>Passphrase of ingest/... paths (MediaMTX srtReadPassphrase there); null when none is set.</summary>
    public string? IngestPassphrase { get; init; }
    /// <summary>Passphrase of out/... paths (MediaMTX srtPublishPassphrase there); null when none is set.</summary>
    public string? OutputPassphrase { get; init; }
    /// <summary>Presented in the streamid query as token=...; MediaMTX hands the query to the auth server.</summary>
    public string? Token { get; init; }
    public int LatencyMs { get; init; } = 120;

    [GeneratedRegex(@"^[A-Za-z0-9._~+/=-]{1,400}\z")]
    private static partial Regex TokenPattern();

    [GeneratedRegex(@"^[A-Za-z0-9.-]{1,253}\z")]
    private static partial Regex HostPattern();

    /// <summary>Lists what is wrong, without ever quoting a secret.</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (!HostPattern().IsMatch(Host ?? "")) errors.Add($"MediaMTX host {Names.Quote(Host)} is not a host name or IP address");
        if (SrtPort is < 1 or > 65535) errors.Add($"MediaMTX SRT port {SrtPort} is out of range 1-65535");
        CheckPassphrase(IngestPassphrase, "INGEST_SRT_PASSPHRASE", errors);
        CheckPassphrase(OutputPassphrase, "OUTPUT_SRT_PASSPHRASE", errors);
        // ':' would split the streamid into more parts and '&' would forge query keys (MediaMTX grammar).
        if (Token is not null && !TokenPattern().IsMatch(Token))
            errors.Add("the MediaMTX token must be 1-400 characters of A-Z a-z 0-9 . _ ~ + / = - (it travels inside the SRT streamid)");
        if (LatencyMs is < 20 or > 8000) errors.Add($"SRT latency {LatencyMs} ms must be between 20 and 8000");
        return errors;
    }

    // MediaMTX refuses passphrases outside 10-79 characters; so does libsrt.
    private static void CheckPassphrase(string? value, string name, List<string> errors)
    {
        if (value is not null && value.Length is < 10 or > 79)
            errors.Add($"{name} must be 10 to 79 characters long (it has {value.Length})");
    }

    public SrtEndpoint Ingest(string project, string input) =>
        new(Host, SrtPort, StreamId("read", $"ingest/{Names.Require(project, "project")}/{Names.Require(input, "input")}"), IngestPassphrase, LatencyMs, HasToken: Token is not null);

    public SrtEndpoint Output(string project, string bus) =>
        Names.IsBus(bus)
            ? new(Host, SrtPort, StreamId("publish", $"out/{Names.Require(project, "project")}/{bus}"), OutputPassphrase, LatencyMs, HasToken: Token is not null)
            : throw new ArgumentException($"'{bus}' is not a bus name");

    // MediaMTX grammar: action:path[:query]. The query is taken verbatim by MediaMTX.
    private string StreamId(string action, string path) => Token is null ? $"{action}:{path}" : $"{action}:{path}:token={Token}";

    public override string ToString() =>
        $"srt://{Host}:{SrtPort} (latency {LatencyMs} ms, ingest passphrase {(IngestPassphrase is null ? "none" : "set")}, " +
        $"output passphrase {(OutputPassphrase is null ? "none" : "set")}, token {(Token is null ? "none" : "set")})";
}

/// <summary>One SRT caller connection: where, which streamid, which passphrase.</summary>
public sealed record SrtEndpoint(string Host, int Port, string StreamId, string? Passphrase, int LatencyMs, bool HasToken)
{
    public string Uri => $"srt://{Host}:{Port}";

    /// <summary>The streamid with the token's value replaced, fit for logs and status.</summary>
    public string RedactedStreamId
    {
        get
        {
            var i = StreamId.IndexOf(":token=", StringComparison.Ordinal);
            return i < 0 ? StreamId : StreamId[..(i + 7)] + "***";
        }
    }

    public override string ToString() => $"{Uri} streamid={RedactedStreamId}{(Passphrase is null ? "" : " (encrypted)")}";
}
