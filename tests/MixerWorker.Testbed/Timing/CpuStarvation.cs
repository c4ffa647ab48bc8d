using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;

namespace MixerWorker.Testbed.Timing;

/// <summary>
/// Starves a process of CPU for real, down to a set share of one core, the way a container's CPU
/// limit does: its threads may run for that share of every <see cref="Period"/> and are held for the
/// rest, whatever else runs on the machine.
/// <list type="bullet">
/// <item>Preferably a CPU quota: a cgroup of its own under the cgroup v1 <c>cpu</c> controller
/// (<c>cpu.cfs_quota_us</c>) or cgroup v2 (<c>cpu.max</c>), where the test may create one.</item>
/// <item>Otherwise the same throttling by hand: the process is pinned to one core (taskset) and stopped
/// and continued (SIGSTOP/SIGCONT) on the same period.</item>
/// </list>
/// Busy processes competing on the worker's core do not do it: the scheduler gives each of the
/// worker's many threads a share of its own, so with three busy loops the worker still got what it
/// needed and dropped nothing. Disposing gives the process back its cgroup, every core and its
/// freedom to run.
/// </summary>
public sealed class CpuStarvation : IDisposable
{
    public static readonly TimeSpan Period = TimeSpan.FromMilliseconds(20);
    private const int SigStop = 19, SigCont = 18;

    private readonly int _pid;
    private string? _cgroup, _parentProcs;
    private Thread? _throttle;
    private volatile bool _stop;

    /// <summary>How the process is held back, in words for the test's output.</summary>
    public string Method { get; private set; } = "";
    private string? _quotaFile;
    private volatile float _share;

    /// <summary>The share of one core the process may use; it can be changed while starved.</summary>
    public double CoreShare
    {
        get => _share;
        set
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(value, 0.01);
            ArgumentOutOfRangeException.ThrowIfGreaterThan(value, 1.0);
            _share = (float)value;
            if (_quotaFile is not null) File.WriteAllText(_quotaFile, QuotaText);
        }
    }

    private static long PeriodUs => (long)Period.TotalMicroseconds;
    private long QuotaUs => (long)(_share * PeriodUs);
    // cgroup v2's cpu.max takes "quota period"; v1's cpu.cfs_quota_us the quota alone.
    private string QuotaText => _quotaFile?.EndsWith("cpu.max", StringComparison.Ordinal) == true ? $"{QuotaUs} {PeriodUs}" : $"{QuotaUs}";

    private CpuStarvation(int pid, double coreShare) { _pid = pid; _share = (float)coreShare; }

    /// <summary>Limits <paramref name="pid"/> to <paramref name="coreShare"/> of one core (0.01–1).</summary>
    public static CpuStarvation Start(int pid, double coreShare)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(coreShare, 0.01);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(coreShare, 1.0);
        var s = new CpuStarvation(pid, coreShare);
        try
        {
            if (!s.TryCgroup()) s.StartThrottling();
        }
        catch
        {
            s.Dispose();
            throw;
        }
        return s;
    }

    /// <summary>CPU time the process has used so far (user + system, every thread).</summary>
    public static TimeSpan CpuTime(int pid)
    {
        // /proc/<pid>/stat: the command name is in parentheses and may hold spaces; utime and stime are fields 14 and 15.
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        var ticks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
        return TimeSpan.FromSeconds(ticks / 100.0); // USER_HZ is 100 on Linux
    }

    /// <summary>How many cores the process uses over <paramref name="span"/>.</summary>
    public static async Task<double> MeasureCoresAsync(int pid, TimeSpan span)
    {
        var cpu = CpuTime(pid);
        var wall = Stopwatch.StartNew();
        await Task.Delay(span);
        return (CpuTime(pid) - cpu) / wall.Elapsed;
    }

    private bool TryCgroup()
    {
        foreach (var line in File.ReadAllLines($"/proc/{_pid}/cgroup"))
        {
            var parts = line.Split(':', 3);
            if (parts.Length < 3) continue;
            string root, quota;
            if (parts[1].Split(',').Contains("cpu"))
            {
                root = Path.Combine("/sys/fs/cgroup", parts[1]);
                if (!Directory.Exists(root)) root = "/sys/fs/cgroup/cpu";
                quota = "cpu.cfs_quota_us";
            }
            else if (parts[0] == "0" && parts[1] == "" && File.Exists("/sys/fs/cgroup/cgroup.controllers"))
            {
                root = "/sys/fs/cgroup";
                quota = "cpu.max";
            }
            else continue;
            var parent = Path.Join(root, parts[2]);
            var dir = Path.Combine(parent, $"mixerworker-starved-{_pid}");
            try
            {
                Directory.CreateDirectory(dir);
                _cgroup = dir;
                if (quota != "cpu.max") File.WriteAllText(Path.Combine(dir, "cpu.cfs_period_us"), $"{PeriodUs}");
                _quotaFile = Path.Combine(dir, quota);
                File.WriteAllText(_quotaFile, QuotaText);
                File.WriteAllText(Path.Combine(dir, "cgroup.procs"), _pid.ToString(CultureInfo.InvariantCulture));
                _parentProcs = Path.Combine(parent, "cgroup.procs");
                Method = $"a CPU quota per {PeriodUs} µs (cgroup {dir})";
                return true;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                _quotaFile = null;
                RemoveCgroup();
            }
        }
        return false;
    }

    private void StartThrottling()
    {
        Pin("0");
        _throttle = new Thread(() =>
        {
            var clock = Stopwatch.StartNew();
            var next = TimeSpan.Zero;
            while (!_stop)
            {
                var run = Period * _share;
                kill(_pid, SigCont);
                next += run;
                SleepUntil(clock, next);
                if (_stop) break;
                kill(_pid, SigStop);
                next += Period - run;
                SleepUntil(clock, next);
            }
            kill(_pid, SigCont);
        })
        { IsBackground = true, Name = $"throttle {_pid}", Priority = ThreadPriority.Highest };
        _throttle.Start();
        Method = $"pinned to core 0 and stopped for the rest of every {Period.TotalMilliseconds:F0} ms (SIGSTOP/SIGCONT: no cgroup could be made)";
    }

    private static void SleepUntil(Stopwatch clock, TimeSpan at)
    {
        var left = at - clock.Elapsed;
        if (left > TimeSpan.Zero) Thread.Sleep(left);
    }

    // -a: every thread the process has now; threads it starts later inherit the affinity of the one that starts them.
    private void Pin(string cores)
    {
        var psi = new ProcessStartInfo("taskset") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in (string[])["-a", "-p", "-c", cores, _pid.ToString(CultureInfo.InvariantCulture)]) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi) ?? throw new InvalidOperationException("taskset did not start");
        var error = p.StandardError.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0) throw new InvalidOperationException($"taskset could not pin process {_pid}: {error.Trim()}");
    }

    private void RemoveCgroup()
    {
        if (_cgroup is null) return;
        try
        {
            if (_parentProcs is not null && File.Exists($"/proc/{_pid}/stat"))
                File.WriteAllText(_parentProcs, _pid.ToString(CultureInfo.InvariantCulture));
            Directory.Delete(_cgroup); // a cgroup directory goes with rmdir once empty; its files are the kernel's
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { /* the process has ended meanwhile and the group is emptying */ }
        _cgroup = null;
    }

    public void Dispose()
    {
        RemoveCgroup();
        if (_throttle is not null)
        {
            _stop = true;
            _throttle.Join();
            _throttle = null;
            try { Pin($"0-{Environment.ProcessorCount - 1}"); }
            catch (InvalidOperationException) { /* the process has ended */ }
        }
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int kill(int pid, int signal);
}
