using MixerWorker.Fleet;

namespace MixerWorker.Tests.Fleet;

/// <summary>
/// In-process workers share one process, whose measured CPU would be every worker's (and the test's):
/// they each get a meter that reads what the test says instead.
/// </summary>
public sealed class FixedCpuMeter(double cpus) : ICpuMeter
{
    public double Cpus { get; set; } = cpus;
}
