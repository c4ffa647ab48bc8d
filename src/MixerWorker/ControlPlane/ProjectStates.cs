namespace MixerWorker.ControlPlane;

/// <summary>The <c>state</c> field of a project's status.</summary>
public static class ProjectStates
{
    public const string Running = "running";
    /// <summary>The owner is draining; a successor prepares and will replace its outputs.</summary>
    public const string HandingOver = "handing-over";
    /// <summary>No worker can take the project; <c>reason</c> says why.</summary>
    public const string Waiting = "waiting";
    /// <summary>The reason of a waiting project no worker has room for.</summary>
    public const string NoCapacity = "no-capacity";
}
