namespace MixerWorker.ControlPlane;

/// <summary>What this worker is doing with a project.</summary>
public enum ProjectRole
{
    /// <summary>Successor of a draining owner: building the project with its outputs held, not yet holding the lease.</summary>
    Preparing,
    /// <summary>Holds the lease: runs the project, publishes its outputs, carries out its commands.</summary>
    Owner,
    /// <summary>Holds the lease and stays on air while a successor prepares (drain).</summary>
    HandingOver,
    /// <summary>Gave the project up or lost it; nothing runs.</summary>
    Stopped,
}
