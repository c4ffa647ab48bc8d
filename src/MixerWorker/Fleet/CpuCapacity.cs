using System.Globalization;

namespace MixerWorker.Fleet;

/// <summary>
/// How many CPUs this worker may use: the container's CPU quota (cgroup v2 cpu.max, or v1
/// cpu.cfs_quota_us / cpu.cfs_period_us), else the machine's cores. Fractions are kept (--cpus 1.5 is
/// 1.5, where .NET's ProcessorCount would round up to 2).
/// </summary>
public static class CpuCapacity
{
    public sealed record Detected(double Cpus, string Source);

    /// <summary>Reads the quota under <paramref name="root"/> (the real file system unless a test points elsewhere).</summary>
    public static Detected Detect(string root = "/", int? processorCount = null)
    {
        var cores = processorCount ?? Environment.ProcessorCount;
        foreach (var dir in CgroupV2Dirs(root))
            if (ReadV2(Path.Combine(dir, "cpu.max")) is { } quota)
                return new Detected(Math.Min(quota, cores), $"cgroup v2 cpu.max ({dir})");
        foreach (var dir in new[] { "sys/fs/cgroup/cpu,cpuacct", "sys/fs/cgroup/cpu" })
            if (ReadV1(Path.Combine(root, dir)) is { } quota)
                return new Detected(Math.Min(quota, cores), $"cgroup v1 cfs quota ({Path.Combine(root, dir)})");
        return new Detected(cores, "processor count");
    }

    // The container's own cgroup (its namespace root), then the process's cgroup path from /proc/self/cgroup.
    private static IEnumerable<string> CgroupV2Dirs(string root)
    {
        var mount = Path.Combine(root, "sys/fs/cgroup");
        yield return mount;
        var self = Path.Combine(root, "proc/self/cgroup");
        if (!File.Exists(self)) yield break;
        foreach (var line in File.ReadLines(self))
            if (line.StartsWith("0::/", StringComparison.Ordinal) && line.Length > 4)
                yield return Path.Combine(mount, line[4..]);
    }

    /// <summary>cpu.max is "$MAX $PERIOD"; "max" means no limit.</summary>
    internal static double? ReadV2(string file)
    {
        if (!File.Exists(file)) return null;
        var parts = File.ReadAllText(file).Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (parts.Length != 2 || parts[0] == "max") return null;
        return double.TryParse(parts[0], NumberStyles.Float, CultureInfo.InvariantCulture, out var max)
            && double.TryParse(parts[1], NumberStyles.Float, CultureInfo.InvariantCulture, out var period) && max > 0 && period > 0
            ? max / period : null;
    }

    /// <summary>cpu.cfs_quota_us is -1 without a limit.</summary>
    internal static double? ReadV1(string dir)
    {
        var quotaFile = Path.Combine(dir, "cpu.cfs_quota_us");
        var periodFile = Path.Combine(dir, "cpu.cfs_period_us");
        if (!File.Exists(quotaFile) || !File.Exists(periodFile)) return null;
        return long.TryParse(File.ReadAllText(quotaFile).Trim(), CultureInfo.InvariantCulture, out var quota)
            && long.TryParse(File.ReadAllText(periodFile).Trim(), CultureInfo.InvariantCulture, out var period) && quota > 0 && period > 0
            ? (double)quota / period : null;
    }
}
