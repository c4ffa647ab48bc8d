using System.Diagnostics;

namespace MixerWorker.Fleet;

/// <summary>
/// This process's CPU use: user + system time over wall time, smoothed (about 5 s). GStreamer runs
/// inside the process, so its threads are counted; nothing else on the machine is.
/// </summary>
public sealed class ProcessCpuMeter : ICpuMeter
{
    private readonly Lock _lock = new();
    private TimeSpan _lastCpu = Process.GetCurrentProcess().TotalProcessorTime;
    private long _lastAt = Stopwatch.GetTimestamp();
    private double _cpus;

    public double Cpus
    {
        get
        {
            lock (_lock)
            {
                var now = Stopwatch.GetTimestamp();
                var wall = Stopwatch.GetElapsedTime(_lastAt, now);
                // Sampled when read (every heartbeat); a sample shorter than 200 ms is too noisy to count.
                if (wall < TimeSpan.FromMilliseconds(200)) return _cpus;
                var cpu = Process.GetCurrentProcess().TotalProcessorTime;
                var sample = (cpu - _lastCpu).TotalSeconds / wall.TotalSeconds;
                var weight = Math.Min(1, wall.TotalSeconds / 5);
                _cpus += (sample - _cpus) * weight;
                (_lastCpu, _lastAt) = (cpu, now);
                return _cpus;
            }
        }
    }
}
