namespace MixerWorker.Fleet;

/// <summary>The CPUs this worker has been using lately (its own threads, GStreamer's included).</summary>
public interface ICpuMeter
{
    /// <summary>CPUs used, averaged over the last few seconds.</summary>
    double Cpus { get; }
}
