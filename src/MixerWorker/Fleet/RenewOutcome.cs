namespace MixerWorker.Fleet;

/// <summary>What a renewal found: still ours, gone (lapsed, or an emptied Redis), another worker's, or no answer in time.</summary>
public enum RenewOutcome { Renewed, Missing, Taken, Unknown }
