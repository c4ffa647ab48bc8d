namespace MixerWorker.ControlPlane;

/// <summary>Why a project stops on this worker; each says what is written to Redis on the way out.</summary>
public enum StopReason
{
    /// <summary>The operator removed it: a "stopped" event, the status goes, the lease is released.</summary>
    Removed,
    /// <summary>Another worker holds its lease now: nothing is written (it could not be anyway).</summary>
    Lost,
    /// <summary>A successor took it over (drain): the outputs stay until the successor has replaced them.</summary>
    HandedOver,
    /// <summary>The worker stops and nobody took the project over: the lease is released so another can claim it at once.</summary>
    Shutdown,
    /// <summary>A hand-over this worker prepared for did not happen.</summary>
    Abandoned,
}
