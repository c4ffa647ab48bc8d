using MixerWorker.Pipeline.Builders;

namespace MixerWorker.Pipeline.Engine;

/// <summary>An input's or bus's connection as the engine keeps it. Control thread only.</summary>
internal abstract class Runtime
{
    internal ConnectionState State { get; private set; } = ConnectionState.Connecting;
    internal string? Error { get; private set; }
    internal DateTimeOffset Since { get; private set; } = DateTimeOffset.UtcNow;
    /// <summary>Keeps the connection alive; made on the control thread, started and stopped by the change path around the graph change.</summary>
    internal ConnectionSupervisor? Supervisor { get; set; }
    /// <summary>The live SRT connection (source or output), owned by the supervisor's open/close.</summary>
    internal IDisposable? Connection { get; set; }

    internal void Report(ConnectionState state, string? error)
    {
        if (state != State) Since = DateTimeOffset.UtcNow;
        State = state;
        if (error is not null || state == ConnectionState.Connected) Error = error;
    }
}

internal sealed class InputRuntime(InputBranch branch) : Runtime
{
    internal InputBranch Branch { get; } = branch;
    internal string Name => Branch.Name;
    internal bool IsLive => State == ConnectionState.Connected;
    /// <summary>When the input last stopped being live; null while it has never been.</summary>
    internal DateTimeOffset? LostAt { get; set; }
    /// <summary>
    /// Whether its first connection is over (live, failed or stopped). Until then a box of it shows no
    /// "no signal" card: most inputs are live within that first try, and each card drawn and dropped meanwhile
    /// (one per bus and box size) only cost start-up time and memory the process then kept.
    /// </summary>
    internal bool FirstTryOver { get; set; }
    /// <summary>Errors and warnings from the input's connection bins (demuxer, parser, decoder).</summary>
    internal long DecodeErrors { get; set; }
    /// <summary>Its sound that came to the bus mixers after its time.</summary>
    internal LateSound LateSound { get; } = new();
}

internal sealed class BusRuntime(BusBranch branch) : Runtime
{
    /// <summary>Replaced when the bus's encoder fails and it is rebuilt on the next backend.</summary>
    internal BusBranch Branch { get; set; } = branch;
    internal string Name => Branch.Name;
    /// <summary>When the bus was last rebuilt on another backend (Environment.TickCount64), 0 never.</summary>
    internal long ReplacedAt { get; set; }
    /// <summary>
    /// From when (Environment.TickCount64) the bus builds "no signal" cards: a new bus holds them until its
    /// output has connected or <see cref="ProjectGraph.CardHold"/> has passed, whichever comes first.
    /// </summary>
    internal long CardsFrom { get; set; }
}
