using System.Collections.Concurrent;
using MixerWorker.Pipeline.Engine;

namespace MixerWorker.ControlPlane;

/// <summary>
/// What a <see cref="ProjectRuntime"/> knows about its show. Only the runtime and its helpers
/// (<see cref="SceneConvergence"/>, <see cref="CommandExecutor"/>) touch it, under the runtime's gate,
/// except where a member says otherwise.
/// </summary>
internal sealed class ProjectShow
{
    public IProjectMixer? Mixer { get; set; }
    /// <summary>The revision on air: the desired state's, or the one the last command produced.</summary>
    public long Revision { get; set; }
    /// <summary>The last desired payload looked at, so that a refused one is reported once and the worker's own write is no change.</summary>
    public string? SeenPayload { get; set; }
    /// <summary>The canonical JSON of the scene on air (revision included).</summary>
    public string? AppliedScene { get; set; }
    /// <summary>The last commands stream entry dealt with; null until read from Redis. Read without the gate by the status.</summary>
    public volatile string? Cursor;
    /// <summary>A command carried out whose result is not stored yet; stored before any other entry is read.</summary>
    public PendingCommand? Pending { get; set; }
    /// <summary>Per input: true after INGEST_ONLINE, false after INGEST_OFFLINE (any thread).</summary>
    public ConcurrentDictionary<string, bool> IngestOnline { get; } = new();
    /// <summary>Per bus: true after OUTPUT_ONLINE, false after OUTPUT_OFFLINE (any thread).</summary>
    public ConcurrentDictionary<string, bool> OutputPublished { get; } = new();
    /// <summary>The last command answer and the latest errors published (any thread).</summary>
    public ProjectNotices Notices { get; } = new();
}
