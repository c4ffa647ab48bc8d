namespace MixerWorker.ControlPlane;

/// <summary>
/// Why a project waits: what it would cost, the most room any live worker has, how many workers
/// were considered (draining ones do not count).
/// </summary>
public sealed record WaitingReport(double CostCpus, double LargestFreeCpus, int Workers, DateTimeOffset Since);
