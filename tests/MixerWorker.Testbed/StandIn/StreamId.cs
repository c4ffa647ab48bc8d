namespace MixerWorker.Testbed.StandIn;

/// <summary>A streamid as MediaMTX v1.20 understands it.</summary>
/// <param name="Action"><c>read</c> or <c>publish</c> (the standard form's <c>m=request</c> maps to read).</param>
/// <param name="Query">Verbatim query part (no URL decoding), null when absent.</param>
/// <param name="Password">Kept only to show the grammar is parsed the same way; the stand-in never records or logs it.</param>
public sealed record ParsedStreamId(string Action, string Path, string? User, string? Password, string? Query)
{
    public bool IsPublish => Action == StreamIdParser.Publish;

    // Records print their members; keep the password out of ToString so it can't reach a log by accident.
    public override string ToString() =>
        $"{Action}:{Path} user={User ?? "-"} query={Query ?? "-"}{(Password is null ? "" : " pass=***")}";
}

/// <summary>
/// MediaMTX's SRT streamid grammar (internal/servers/srt/streamid.go) plus its path-name rule
/// (internal/conf/path.go). Written from the fact sheet, not copied.
/// </summary>
public static class StreamIdParser
{
    public const string Read = "read";
    public const string Publish = "publish";
    private const string FeedbackPlaySuffix = "#feedbackplay";
    private const string StandardPrefix = "#!::";

    /// <summary>Parses <paramref name="raw"/>; on failure returns false and a human-readable reason.</summary>
    public static bool TryParse(string raw, out ParsedStreamId? parsed, out string? error)
    {
        parsed = null;
        if (raw.StartsWith(StandardPrefix, StringComparison.Ordinal))
        {
            if (!TryParseStandard(raw[StandardPrefix.Length..], out parsed, out error)) return false;
        }
        else if (!TryParseColon(raw, out parsed, out error)) return false;

        if (!IsValidPathName(parsed!.Path, out var pathError))
        {
            parsed = null;
            error = pathError;
            return false;
        }
        error = null;
        return true;
    }

    private static bool TryParseColon(string raw, out ParsedStreamId? parsed, out string? error)
    {
        parsed = null;
        var parts = raw.Split(':');
        if (parts.Length is < 2 or > 5)
        {
            error = "stream ID must be 'action:pathname[:query]' or 'action:pathname:user:pass[:query]'";
            return false;
        }
        // MediaMTX lets players append #feedbackplay to the streamid; it is not part of any field.
        var last = parts[^1];
        if (last.EndsWith(FeedbackPlaySuffix, StringComparison.Ordinal))
            parts[^1] = last[..^FeedbackPlaySuffix.Length];

        if (parts[0] is not (Read or Publish))
        {
            error = $"unsupported action '{parts[0]}' (want read or publish)";
            return false;
        }
        string? user = null, pass = null, query = null;
        if (parts.Length >= 4) { user = parts[2]; pass = parts[3]; }
        if (parts.Length == 3) query = parts[2];
        else if (parts.Length == 5) query = parts[4];
        parsed = new ParsedStreamId(parts[0], parts[1], user, pass, query);
        error = null;
        return true;
    }

    private static bool TryParseStandard(string body, out ParsedStreamId? parsed, out string? error)
    {
        parsed = null;
        string action = Read, path = "";
        string? user = null, pass = null;
        foreach (var kv in body.Split(','))
        {
            int eq = kv.IndexOf('=');
            if (eq < 0)
            {
                error = $"invalid key=value item '{kv}'";
                return false;
            }
            var key = kv[..eq];
            var value = kv[(eq + 1)..];
            switch (key)
            {
                case "r": path = value; break;
                case "u": user = value; break;
                case "s": pass = value; break;
                case "m":
                    if (value == "request") action = Read;
                    else if (value == "publish") action = Publish;
                    else { error = $"unsupported mode '{value}'"; return false; }
                    break;
                default: break; // h, t and unknown keys are ignored, as MediaMTX does
            }
        }
        parsed = new ParsedStreamId(action, path, user, pass, null);
        error = null;
        return true;
    }

    /// <summary>MediaMTX path name rule: <c>[0-9a-zA-Z_\-/.]</c>, no leading/trailing '/', no '.' or '..' segment.</summary>
    public static bool IsValidPathName(string path, out string? error)
    {
        error = null;
        if (path.Length == 0) error = "empty path name";
        else if (path[0] == '/') error = "path name can't begin with a slash";
        else if (path[^1] == '/') error = "path name can't end with a slash";
        else
        {
            foreach (var c in path)
            {
                if (!(char.IsAsciiLetterOrDigit(c) || c is '_' or '-' or '/' or '.'))
                {
                    error = $"path name contains an invalid character '{c}'";
                    break;
                }
            }
            if (error is null && path.Split('/').Any(s => s is "." or ".."))
                error = "path name can't contain '.' or '..' segments";
        }
        return error is null;
    }

    /// <summary>
    /// The streamid with its password field (4/5-part form's 4th part, standard form's <c>s=</c>) replaced by
    /// <c>***</c>, so attempt records and logs never hold a credential. Unparseable input is returned as is.
    /// </summary>
    public static string MaskPassword(string raw)
    {
        if (raw.StartsWith(StandardPrefix, StringComparison.Ordinal))
        {
            var items = raw[StandardPrefix.Length..].Split(',');
            for (int i = 0; i < items.Length; i++)
                if (items[i].StartsWith("s=", StringComparison.Ordinal)) items[i] = "s=***";
            return StandardPrefix + string.Join(',', items);
        }
        var parts = raw.Split(':');
        if (parts.Length is 4 or 5)
        {
            parts[3] = parts.Length == 4 && parts[3].EndsWith(FeedbackPlaySuffix, StringComparison.Ordinal) ? "***" + FeedbackPlaySuffix : "***";
            return string.Join(':', parts);
        }
        return raw;
    }

    /// <summary>True when the '&amp;'-separated query has an item exactly <c>token=&lt;value&gt;</c>.</summary>
    public static bool QueryHasToken(string? query, string token)
    {
        if (query is null) return false;
        foreach (var item in query.Split('&'))
            if (item.StartsWith("token=", StringComparison.Ordinal) && item.AsSpan(6).SequenceEqual(token))
                return true;
        return false;
    }
}
