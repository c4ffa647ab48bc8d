using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace MixerWorker.ControlPlane;

/// <summary>The Redis section (env REDIS__CONFIGURATION, REDIS__PREFIX).</summary>
public sealed class RedisOptions
{
    public const string Section = "Redis";

    /// <summary>A StackExchange.Redis configuration string, e.g. "redis:6379,password=...,ssl=true". Holds a secret: never logged.</summary>
    public string? Configuration { get; set; }
    public string Prefix { get; set; } = "mixer";

    /// <summary>Parses <see cref="Configuration"/> for a long-lived connection that survives Redis restarts.</summary>
    internal ConfigurationOptions ToClientOptions()
    {
        var o = ConfigurationOptions.Parse(Configuration!);
        // Keep trying in the background instead of failing the start, and fail commands at once while
        // disconnected: waiting and retrying is the job of the Polly pipeline, which backs off with jitter.
        o.AbortOnConnectFail = false;
        o.BacklogPolicy = BacklogPolicy.FailFast;
        o.ConnectTimeout = Math.Min(o.ConnectTimeout, 3000);
        o.ReconnectRetryPolicy ??= new ExponentialRetry(250, 5000);
        o.ClientName ??= "mixerworker";
        return o;
    }

    /// <summary>Where to point an operator when the connection fails, without the password.</summary>
    internal string Describe() => string.Join(",", ToClientOptions().EndPoints.Select(e => e.ToString()));

    internal sealed class Validator : IValidateOptions<RedisOptions>
    {
        public ValidateOptionsResult Validate(string? name, RedisOptions o)
        {
            var errors = new List<string>();
            if (string.IsNullOrWhiteSpace(o.Configuration))
                errors.Add("REDIS__CONFIGURATION is required (a StackExchange.Redis configuration string, e.g. redis:6379,password=...)");
            else
            {
                // The parser's message may quote the string, password included: say only which variable is wrong.
                try { if (ConfigurationOptions.Parse(o.Configuration).EndPoints.Count == 0) errors.Add("REDIS__CONFIGURATION names no endpoint (host:port)"); }
                catch (Exception e) when (e is ArgumentException or FormatException or NotSupportedException)
                { errors.Add("REDIS__CONFIGURATION is not a valid StackExchange.Redis configuration string"); }
            }
            if (string.IsNullOrWhiteSpace(o.Prefix) || o.Prefix.Any(c => c is '{' or '}' or ' ' or '*' or '?' or '[' or ']'))
                errors.Add("REDIS__PREFIX must be non-empty, without spaces, braces or glob characters");
            return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
        }
    }
}

/// <summary>The Worker section (env WORKER__ID, WORKER__RESYNCSECONDS, WORKER__STATUSINTERVALMS, WORKER__STATUSTTLSECONDS, WORKER__MAXSCENEBYTES, WORKER__COMMAND*, WORKER__METERSINTERVALMS, WORKER__INGESTPOLLSECONDS).</summary>
public sealed class WorkerOptions
{
    public const string Section = "Worker";

    public string Id { get; set; } = Environment.MachineName;
    /// <summary>How often every desired state is read again, so that a missed notification costs at most this long.</summary>
    public double ResyncSeconds { get; set; } = 5;
    public int StatusIntervalMs { get; set; } = 1000;
    /// <summary>A status key outlives its worker by at most this long.</summary>
    public int StatusTtlSeconds { get; set; } = 15;
    public int MaxSceneBytes { get; set; } = 256 * 1024;
    /// <summary>How often each running project's command stream is read without a wake-up (a writer that does not PUBLISH).</summary>
    public int CommandPollMs { get; set; } = 250;
    /// <summary>A command older than this when the worker first sees it is refused as expired, not carried out late.</summary>
    public double CommandMaxAgeSeconds { get; set; } = 30;
    public int MaxCommandBytes { get; set; } = 64 * 1024;
    /// <summary>Meters events per project at most this often; 0 turns them off (the status key still has the meters).</summary>
    public int MetersIntervalMs { get; set; } = 500;
    /// <summary>An input MediaMTX reported offline is tried this often until INGEST_ONLINE.</summary>
    public double IngestPollSeconds { get; set; } = 30;

    internal sealed class Validator : IValidateOptions<WorkerOptions>
    {
        public ValidateOptionsResult Validate(string? name, WorkerOptions o)
        {
            var errors = new List<string>();
            // It is part of lease values ("epoch:nonce:worker"), key names and JSON built in Lua.
            if (string.IsNullOrWhiteSpace(o.Id) || o.Id.Length > 64 || !o.Id.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.'))
                errors.Add("WORKER__ID must be 1-64 characters of A-Z, a-z, 0-9, '-', '_' and '.'");
            if (o.ResyncSeconds is < 0.1 or > 3600) errors.Add("WORKER__RESYNCSECONDS must be 0.1-3600");
            if (o.StatusIntervalMs is < 50 or > 60_000) errors.Add("WORKER__STATUSINTERVALMS must be 50-60000");
            if (o.StatusTtlSeconds * 1000 < 2 * o.StatusIntervalMs) errors.Add("WORKER__STATUSTTLSECONDS must cover at least two status intervals");
            if (o.MaxSceneBytes is < 1024 or > 64 * 1024 * 1024) errors.Add("WORKER__MAXSCENEBYTES must be 1024-67108864");
            if (o.CommandPollMs is < 10 or > 60_000) errors.Add("WORKER__COMMANDPOLLMS must be 10-60000");
            if (o.CommandMaxAgeSeconds is < 1 or > 86_400) errors.Add("WORKER__COMMANDMAXAGESECONDS must be 1-86400");
            if (o.MaxCommandBytes is < 256 or > 16 * 1024 * 1024) errors.Add("WORKER__MAXCOMMANDBYTES must be 256-16777216");
            if (o.MetersIntervalMs is not 0 and (< 100 or > 60_000)) errors.Add("WORKER__METERSINTERVALMS must be 0 (off) or 100-60000");
            if (o.IngestPollSeconds is < 1 or > 3600) errors.Add("WORKER__INGESTPOLLSECONDS must be 1-3600");
            return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
        }
    }
}

/// <summary>The Shutdown section (env SHUTDOWN__GRACESECONDS): how long SIGTERM may take before the process exits anyway.</summary>
public sealed class ShutdownOptions
{
    public const string Section = "Shutdown";
    public double GraceSeconds { get; set; } = 20;

    internal sealed class Validator : IValidateOptions<ShutdownOptions>
    {
        public ValidateOptionsResult Validate(string? name, ShutdownOptions o) => o.GraceSeconds is >= 1 and <= 600
            ? ValidateOptionsResult.Success
            : ValidateOptionsResult.Fail("SHUTDOWN__GRACESECONDS must be 1-600");
    }
}
