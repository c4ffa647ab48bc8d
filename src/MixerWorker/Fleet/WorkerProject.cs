namespace MixerWorker.Fleet;

/// <summary>A project in a heartbeat record: its epoch (when held), what the worker is doing with it, and its estimated CPUs.</summary>
public sealed record WorkerProject(string Project, long? Epoch, string Role, double Cpus);
