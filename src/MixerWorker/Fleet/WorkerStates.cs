namespace MixerWorker.Fleet;

/// <summary>The <c>state</c> of a heartbeat record.</summary>
public static class WorkerStates
{
    /// <summary>Holds or prepares at least one project.</summary>
    public const string Active = "active";
    /// <summary>Holds nothing; takes projects that have no owner when it has room.</summary>
    public const string Standby = "standby";
    /// <summary>Stopping (SIGTERM): takes nothing, hands its projects over.</summary>
    public const string Draining = "draining";
}
