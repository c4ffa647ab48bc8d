using System.Text.Json;
using System.Text.Json.Serialization;
using MixerWorker.Pipeline.Engine;

namespace MixerWorker.ControlPlane;

/// <summary>JSON for everything on the control plane's channels and status keys (camelCase, enums as camelCase strings).</summary>
public static class ControlPlaneJson
{
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.CamelCase, allowIntegerValues: false) },
    };

    /// <summary>Strict reading of messages from other services: a misspelt field is an error, not a silent default.</summary>
    public static readonly JsonSerializerOptions Strict = new(Options) { UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow };

    public static string Write<T>(T value) => JsonSerializer.Serialize(value, Options);
}

/// <summary>Message types on mixer:{project}:events.</summary>
public static class EventTypes
{
    /// <summary>The desired state changed (sent by whoever wrote it); wakes the worker.</summary>
    public const string Desired = "desired";
    public const string Applied = "applied";
    public const string Status = "status";
    public const string Error = "error";
}

/// <summary>Why a desired state was refused.</summary>
public static class ErrorReasons
{
    public const string Oversized = "oversized";
    public const string InvalidScene = "invalid-scene";
    public const string WrongProject = "wrong-project";
    public const string StaleRevision = "stale-revision";
    public const string ApplyFailed = "apply-failed";
}

/// <summary>Any message on a project's events channel; fields not used by a type are left out.</summary>
public sealed record ProjectEvent
{
    public required string Type { get; init; }
    public required string Project { get; init; }
    public long? Revision { get; init; }
    public string? Worker { get; init; }
    public string? Reason { get; init; }
    public IReadOnlyList<string>? Errors { get; init; }
    public ProjectStatus? Status { get; init; }
}

/// <summary>The status key's value: who runs the project, what it applied, and the state of every input and bus.</summary>
public sealed record ProjectStatus(
    string Project,
    string Worker,
    long Revision,
    DateTimeOffset UpdatedAt,
    IReadOnlyDictionary<string, InputStatus> Inputs,
    IReadOnlyDictionary<string, BusStatus> Buses)
{
    public static ProjectStatus From(MixerStatus s, string worker) => new(s.Project, worker, s.Revision, DateTimeOffset.UtcNow, s.Inputs, s.Buses);

    /// <summary>What an operator would call a change: states, errors, revision; not frame counters or timestamps.</summary>
    public string Signature() => string.Join("|",
        [Revision.ToString(), .. Inputs.OrderBy(i => i.Key).Select(i => $"{i.Key}={i.Value.State}:{i.Value.Error}"),
         .. Buses.OrderBy(b => b.Key).Select(b => $"{b.Key}={b.Value.Output}:{b.Value.Error}")]);
}

/// <summary>A MediaMTX lifecycle event relayed by the API on mixer:mediamtx-events.</summary>
public sealed record MediaMtxEvent(string Event, string Project, string Name, string Protocol)
{
    public const string IngestOnline = "INGEST_ONLINE";
    public const string IngestOffline = "INGEST_OFFLINE";
    public const string OutputOnline = "OUTPUT_ONLINE";
    public const string OutputOffline = "OUTPUT_OFFLINE";
}
