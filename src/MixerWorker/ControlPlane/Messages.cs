using System.Text.Json;
using System.Text.Json.Serialization;
using MixerWorker.Pipeline.Engine;
using MixerWorker.Pipeline.Scene;

namespace MixerWorker.ControlPlane;

/// <summary>JSON for everything on the control plane's channels and status keys (camelCase, enums as camelCase strings).</summary>
public static class ControlPlaneJson
{
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        TypeInfoResolver = WorkerJsonContext.Default.KeepingInitializers(),
        Converters = { JsonContracts.CamelCase<ConnectionState>() },
    };

    /// <summary>Strict reading of messages from other services: a misspelt field is an error, not a silent default.</summary>
    public static readonly JsonSerializerOptions Strict = new(Options) { UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow };

    public static string Write<T>(T value) => JsonSerializer.Serialize(value, Options.Info<T>());
}

/// <summary>Generated contracts of everything the host reads and writes as JSON besides scenes and commands.</summary>
[JsonSerializable(typeof(ProjectEvent))]
[JsonSerializable(typeof(ProjectStatus))]
[JsonSerializable(typeof(MediaMtxEvent))]
[JsonSerializable(typeof(AudioMeters))]
[JsonSerializable(typeof(Fleet.WorkerHeartbeat))]
[JsonSerializable(typeof(List<Fleet.WorkerHeartbeat>))]
[JsonSerializable(typeof(Dashboard.FleetView), TypeInfoPropertyName = "DashboardFleetView")]
[JsonSerializable(typeof(Headless.ShowScript))]
internal sealed partial class WorkerJsonContext : JsonSerializerContext;

/// <summary>Message types on mixer:{project}:events.</summary>
public static class EventTypes
{
    /// <summary>The desired state changed (sent by whoever wrote it); wakes the worker.</summary>
    public const string Desired = "desired";
    /// <summary>A command was added to the project's stream (sent by whoever added it); wakes the worker's reader.</summary>
    public const string Command = "command";
    /// <summary>The project was removed (sent by whoever removed it); the worker stops it.</summary>
    public const string Removed = "removed";
    public const string Applied = "applied";
    public const string CommandApplied = "commandApplied";
    public const string Status = "status";
    public const string Tally = "tally";
    public const string Meters = "meters";
    /// <summary>The worker stopped a removed project and deleted its status.</summary>
    public const string Stopped = "stopped";
    public const string Error = "error";
    /// <summary>A worker took the project's lease (written by the lease script itself): reason claim, handover or reacquired.</summary>
    public const string Claimed = "claimed";
    /// <summary>A worker gave the project's lease up: reason removed, shutdown or handover.</summary>
    public const string Released = "released";
    /// <summary>A worker's lease lapsed without a release (it died, hung or was cut off) and another worker claimed the project.</summary>
    public const string Lost = "lost";
    /// <summary>A draining worker offers the project to a successor.</summary>
    public const string HandOver = "handover";
}

/// <summary>Why a desired state or a command was refused.</summary>
public static class ErrorReasons
{
    public const string Oversized = "oversized";
    public const string InvalidScene = "invalid-scene";
    public const string WrongProject = "wrong-project";
    public const string StaleRevision = "stale-revision";
    public const string ApplyFailed = "apply-failed";
    /// <summary>A command that does not parse, has unknown or missing fields, or names an unknown bus, input or layer.</summary>
    public const string InvalidCommand = "invalid-command";
    /// <summary>A command whose "type" is not one of the known commands.</summary>
    public const string UnknownCommand = "unknown-command";
    /// <summary>A command older than WORKER__COMMANDMAXAGESECONDS when the worker first saw it.</summary>
    public const string Expired = "expired";
    /// <summary>Another writer kept replacing the desired state while the command was being stored.</summary>
    public const string Conflict = "conflict";
}

/// <summary>Any message on a project's events channel; fields not used by a type are left out.</summary>
public sealed record ProjectEvent
{
    public required string Type { get; init; }
    public required string Project { get; init; }
    public long? Revision { get; init; }
    public string? Worker { get; init; }
    /// <summary>commandApplied and command errors: the command's id, or its stream entry id when it has none.</summary>
    public string? Command { get; init; }
    /// <summary>commandApplied and command errors: the stream entry id.</summary>
    public string? Entry { get; init; }
    /// <summary>commandApplied: true when a command with this id had already been applied (at <see cref="Revision"/>); nothing was done.</summary>
    public bool? Duplicate { get; init; }
    public string? Reason { get; init; }
    public IReadOnlyList<string>? Errors { get; init; }
    public ProjectStatus? Status { get; init; }
    public IReadOnlyDictionary<string, BusTally>? Tally { get; init; }
    public AudioMeters? Meters { get; init; }
    /// <summary>The lease's epoch the event was written under (claimed/released/lost: the epoch of that lease).</summary>
    public long? Epoch { get; init; }
    /// <summary>claimed: the worker whose lease came before, if it lapsed or was handed over.</summary>
    public string? Previous { get; init; }
    /// <summary>lost, released by hand-over: the worker that took the project.</summary>
    public string? By { get; init; }
}

/// <summary>The status key's value: who runs the project, what it applied, and the state of every input and bus.</summary>
public sealed record ProjectStatus
{
    public required string Project { get; init; }
    /// <summary>The worker that runs the project (its lease holder); absent while the project is waiting.</summary>
    public string? Worker { get; init; }
    /// <summary>The epoch of the worker's lease (docs/fleet.md).</summary>
    public long? Epoch { get; init; }
    /// <summary>running, handing-over (its worker is draining and a successor prepares), or waiting (no worker can take it; see <see cref="Reason"/>).</summary>
    public string? State { get; init; }
    /// <summary>waiting: why (no-capacity).</summary>
    public string? Reason { get; init; }
    /// <summary>The project's estimated cost in CPUs.</summary>
    public double? CostCpus { get; init; }
    /// <summary>waiting: the fleet's numbers at the time.</summary>
    public WaitingReport? Waiting { get; init; }
    /// <summary>The revision on air (the desired state's, or the one the last command produced).</summary>
    public required long Revision { get; init; }
    public required DateTimeOffset UpdatedAt { get; init; }
    /// <summary>The stream entry id of the last command dealt with.</summary>
    public string? LastCommand { get; init; }
    public IReadOnlyDictionary<string, InputReport> Inputs { get; init; } = new Dictionary<string, InputReport>();
    public IReadOnlyDictionary<string, BusReport> Buses { get; init; } = new Dictionary<string, BusReport>();
    /// <summary>How far the buses other than Program give way to it (level, one frame in how many, since when, episodes); absent while no mixer runs.</summary>
    public SheddingStatus? Shedding { get; init; }
    /// <summary>Per bus: the inputs on air (both sides during a transition) and in preview.</summary>
    public IReadOnlyDictionary<string, BusTally>? Tally { get; init; }
    public AudioMeters? Meters { get; init; }
    /// <summary>The answer to the last command dealt with (commandApplied or error).</summary>
    public EventReport? LastAnswer { get; init; }
    /// <summary>The latest errors (refused desired states and commands, failures), oldest first; absent when none.</summary>
    public IReadOnlyList<EventReport>? Errors { get; init; }

    /// <summary>
    /// What an operator would call a change: states, errors, revision, MediaMTX's view, whether the other buses give way
    /// to Program (an episode's start and end, not each step); not counters, meters or timestamps.
    /// </summary>
    public string Signature() => string.Join("|",
        [Revision.ToString(), State ?? "", Worker ?? "", Epoch?.ToString() ?? "", Shedding is { Level: > 0 } ? "shed" : "", .. Inputs.OrderBy(i => i.Key).Select(i => $"{i.Key}={i.Value.State}:{i.Value.Ingest}:{i.Value.Error}"),
         .. Buses.OrderBy(b => b.Key).Select(b => $"{b.Key}={b.Value.Output}:{b.Value.Published}:{b.Value.Error}")]);
}

/// <summary>
/// An input: the engine's connection <paramref name="State"/> and, when MediaMTX told, whether the feed
/// is published there (<paramref name="Ingest"/>: online or offline; absent when no event was heard);
/// <paramref name="SoundDroppedLateSeconds"/>: its sound that came to the bus mixers after its time (<see cref="InputStatus"/>).
/// </summary>
public sealed record InputReport(ConnectionState State, string? Error, int Attempts, DateTimeOffset Since, string? Ingest = null,
    long FramesIn = 0, long DecodeErrors = 0, DateTimeOffset? LastFrameAt = null, double SoundDroppedLateSeconds = 0);

/// <summary>
/// A bus: the engine's output connection and, when MediaMTX told (OUTPUT_ONLINE/OUTPUT_OFFLINE),
/// whether viewers can read it (<paramref name="Published"/>); whether it makes its frames in time
/// (<paramref name="Lateness"/>: dropping, delivered fps, dropped frames, episodes); how often its pictures
/// stopped and it was rebuilt (<paramref name="Stalls"/>; <paramref name="Stalled"/> while one lasts).
/// </summary>
public sealed record BusReport(ConnectionState Output, string? Error, long FramesOut, string Encoder, bool? Published = null,
    int Attempts = 0, long BytesSent = 0, BusLateness? Lateness = null, int Stalls = 0, bool Stalled = false);

/// <summary>A commandApplied or error event as the status remembers it, with when it went out.</summary>
public sealed record EventReport(DateTimeOffset At, string Type, string? Command, string? Entry, long? Revision, string? Reason,
    IReadOnlyList<string>? Errors, bool? Duplicate)
{
    public static EventReport Of(ProjectEvent e, DateTimeOffset at) => new(at, e.Type, e.Command, e.Entry, e.Revision, e.Reason, e.Errors, e.Duplicate);
}

/// <summary>A MediaMTX lifecycle event relayed by the API on mixer:mediamtx-events.</summary>
public sealed record MediaMtxEvent(string Event, string Project, string Name, string Protocol)
{
    public const string IngestOnline = "INGEST_ONLINE";
    public const string IngestOffline = "INGEST_OFFLINE";
    public const string OutputOnline = "OUTPUT_ONLINE";
    public const string OutputOffline = "OUTPUT_OFFLINE";

    /// <summary>Reads one relayed event; null with <paramref name="error"/> saying why when it is malformed or incomplete.</summary>
    public static MediaMtxEvent? TryParse(string message, out string? error)
    {
        MediaMtxEvent? e;
        try { e = JsonSerializer.Deserialize(message, ControlPlaneJson.Strict.Info<MediaMtxEvent>()); }
        catch (JsonException ex)
        {
            error = ex.Message;
            return null;
        }
        error = e switch
        {
            null => "the event is empty (JSON null)",
            { Event: null or "" } => "the event has no \"event\"",
            { Project: null } => "the event has no \"project\"",
            { Name: null } => "the event has no \"name\"",
            _ => null,
        };
        return error is null ? e : null;
    }
}
