namespace MixerWorker.Fleet;

/// <summary>
/// An acquisition's outcome: <paramref name="Acquired"/> is the caller's new lease, or null with
/// <paramref name="Holder"/> the current holder (null too when the answer never came and reading the
/// owner did not settle it).
/// </summary>
public sealed record AcquireResult(LeaseToken? Acquired, LeaseToken? Holder, string? Error = null)
{
    /// <summary>
    /// After an answered acquisition: the last lease value taken before this one ("released" after a release,
    /// "" when Redis has no record of one); null when not known (the answer was lost and settled by reading the lease).
    /// </summary>
    public string? Previous { get; init; }
}
