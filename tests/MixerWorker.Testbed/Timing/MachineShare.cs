using System.Diagnostics;
using System.Globalization;

namespace MixerWorker.Testbed.Timing;

/// <summary>
/// What the machine did with its CPUs over a stretch of a test: how busy they were, how much of their time the
/// hypervisor gave to other guests (steal: the machine's own accounting never sees it, its threads just run later),
/// and how much this process used. A timing test that fails says with it who had the CPU: the show, another
/// process, or nobody on this machine.
/// <code>
/// var from = MachineShare.Now();
/// ... measure ...
/// output.WriteLine(MachineShare.Since(from).ToString());
/// </code>
/// </summary>
public readonly record struct MachineShare(double Seconds, int Cores, double BusyCores, double StolenCores, double ThisProcessCores)
{
    /// <summary>A reading of the counters to measure from.</summary>
    public readonly record struct Reading(long Ticks, long Idle, long Steal, int Cores, TimeSpan ProcessCpu, long Timestamp);

    public static Reading Now()
    {
        var (ticks, idle, steal, cores) = ReadStat();
        return new Reading(ticks, idle, steal, cores, Process.GetCurrentProcess().TotalProcessorTime, Stopwatch.GetTimestamp());
    }

    /// <summary>The machine's use of its CPUs from <paramref name="from"/> until now, in cores.</summary>
    public static MachineShare Since(Reading from)
    {
        var to = Now();
        var seconds = Stopwatch.GetElapsedTime(from.Timestamp, to.Timestamp).TotalSeconds;
        // The machine's cores, not the runtime's count, which a CPU quota on this process lowers.
        var cores = to.Cores > 0 ? to.Cores : Environment.ProcessorCount;
        var ticks = Math.Max(1, to.Ticks - from.Ticks);
        double Share(long part) => cores * (double)part / ticks;
        return new MachineShare(seconds, cores, Share(ticks - (to.Idle - from.Idle) - (to.Steal - from.Steal)), Share(to.Steal - from.Steal),
            seconds <= 0 ? 0 : (to.ProcessCpu - from.ProcessCpu).TotalSeconds / seconds);
    }

    // The first line of /proc/stat, all cores together: user nice system idle iowait irq softirq steal, then guest
    // time already counted in user and nice; a "cpuN" line per core follows. Zeros where there is none, which leaves
    // every share at zero.
    private static (long Ticks, long Idle, long Steal, int Cores) ReadStat()
    {
        try
        {
            var lines = File.ReadAllLines("/proc/stat");
            var v = lines[0].Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1).Take(8)
                .Select(s => long.Parse(s, CultureInfo.InvariantCulture)).ToArray();
            var cores = lines.Count(l => l.Length > 3 && l.StartsWith("cpu", StringComparison.Ordinal) && char.IsAsciiDigit(l[3]));
            return v.Length < 8 ? default : (v.Sum(), v[3] + v[4], v[7], cores);
        }
        catch (IOException) { return default; }
        catch (UnauthorizedAccessException) { return default; }
    }

    /// <summary>Cores the show did not have: what other processes used and what the hypervisor took.</summary>
    public double OthersCores => Math.Max(0, BusyCores - ThisProcessCores) + StolenCores;

    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"machine over {Seconds:0.0} s: {BusyCores:0.00} of {Cores} cores busy, {StolenCores:0.00} taken by the hypervisor (steal), this process {ThisProcessCores:0.00}, others and steal {OthersCores:0.00}");
}
