using MixerWorker.Pipeline.Scene;
using StackExchange.Redis;

namespace MixerWorker.ControlPlane;

/// <summary>A command carried out on the mixer whose result is not stored yet (Redis failed, or the lease lapsed, in between).</summary>
internal sealed record PendingCommand(string Entry, string? Id, string Reference, long Revision, string NextPayload, string? PreviousScene)
{
    /// <summary>The command, for the metrics.</summary>
    public ShowCommand? Command { get; init; }
    /// <summary>The desired key's value the result replaces (null: the key did not exist).</summary>
    public RedisValue Before { get; set; }
    /// <summary>The stored cursor the result follows ("0-0" or null: none).</summary>
    public string? CursorBefore { get; set; }
    /// <summary>A store was refused because the lease was not this worker's (logged once).</summary>
    public bool Fenced { get; set; }
    /// <summary>For the log: time before the engine, on the engine, and the clock started at the entry.</summary>
    public (TimeSpan Before, TimeSpan Engine, System.Diagnostics.Stopwatch? Clock) Timing { get; init; }
}
