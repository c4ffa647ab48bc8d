namespace MixerWorker.Fleet;

/// <summary>A renewal's outcome; <paramref name="Holder"/> is who holds the lease when it is <see cref="RenewOutcome.Taken"/>.</summary>
public sealed record RenewResult(RenewOutcome Outcome, LeaseToken? Holder = null, string? Error = null);
