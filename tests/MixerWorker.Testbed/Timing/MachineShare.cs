using System.Diagnostics;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace MixerWorker.Testbed.Timing;

/// <summary>
/// What the machine did with its CPUs over a stretch of a test: how busy they were, how much of their time the
/// hypervisor gave to other guests (steal: the machine's own accounting never sees it, its threads just run later),
/// how much this process used, and whether it held this process off altogether (<see cref="HoldOffProbe"/>: a
/// hypervisor's pause with no steal reported, a cgroup's throttle, a stopped process). Beside them this process's own
/// garbage-collection pauses and its cgroup's CPU throttling. A timing test that fails says with it who had the CPU:
/// the show, another process, or nobody on this machine.
/// <code>
/// var from = MachineShare.NowWithProbes();
/// ... measure ...
/// output.WriteLine(MachineShare.Since(from).ToString());
/// </code>
/// </summary>
public readonly record struct MachineShare(double Seconds, int Cores, double BusyCores, double StolenCores, double ThisProcessCores, double Slowdown = 1, double WallPerCpu = 1)
{
    /// <summary>The longest the hold-off probe woke late (ms; 0 without the probe).</summary>
    public double LongestHoldOffMs { get; init; }
    /// <summary>How late the hold-off probe woke in all, counting only wake-ups at least <see cref="HoldOffProbe.HeldOffMs"/> late, and how many those were.</summary>
    public double HeldOffMs { get; init; }
    public int HoldOffs { get; init; }
    /// <summary>This process's garbage collectors' pauses (every thread stopped) and its full (gen 2) collections.</summary>
    public double GcPauseMs { get; init; }
    public int Gen2Collections { get; init; }
    /// <summary>The time this process's cgroup was held by its CPU quota, and in how many quota periods (0 without a quota).</summary>
    public double ThrottledMs { get; init; }
    public long ThrottledPeriods { get; init; }

    /// <summary>A reading of the counters to measure from, and the probes running until <see cref="Since"/>.</summary>
    public sealed record Reading(long Ticks, long Idle, long Steal, int Cores, TimeSpan ProcessCpu, long Timestamp, TimeSpan GcPause, int Gen2, CgroupThrottle Throttle,
        Yardstick? Yardstick = null, HoldOffProbe? HoldOffs = null);

    public static Reading Now()
    {
        var (ticks, idle, steal, cores) = ReadStat();
        return new Reading(ticks, idle, steal, cores, Process.GetCurrentProcess().TotalProcessorTime, Stopwatch.GetTimestamp(),
            GC.GetTotalPauseDuration(), GC.CollectionCount(2), CgroupThrottle.Read());
    }

    /// <summary>As <see cref="Now"/>, with a <see cref="Yardstick"/> and a <see cref="HoldOffProbe"/> running until <see cref="Since"/>.</summary>
    public static Reading NowWithProbes() => Now() with { Yardstick = Yardstick.Start(), HoldOffs = HoldOffProbe.Start() };

    /// <summary>The machine's use of its CPUs from <paramref name="from"/> until now, in cores.</summary>
    public static MachineShare Since(Reading from)
    {
        var (slowdown, wallPerCpu) = from.Yardstick?.Stop() ?? (1, 1);
        var holdOffs = from.HoldOffs?.Stop() ?? default;
        var to = Now();
        var seconds = Stopwatch.GetElapsedTime(from.Timestamp, to.Timestamp).TotalSeconds;
        // The machine's cores, not the runtime's count, which a CPU quota on this process lowers.
        var cores = to.Cores > 0 ? to.Cores : Environment.ProcessorCount;
        var ticks = Math.Max(1, to.Ticks - from.Ticks);
        double Share(long part) => cores * (double)part / ticks;
        return new MachineShare(seconds, cores, Share(ticks - (to.Idle - from.Idle) - (to.Steal - from.Steal)), Share(to.Steal - from.Steal),
            seconds <= 0 ? 0 : (to.ProcessCpu - from.ProcessCpu).TotalSeconds / seconds, slowdown, wallPerCpu)
        {
            LongestHoldOffMs = holdOffs.LongestMs,
            HeldOffMs = holdOffs.TotalMs,
            HoldOffs = holdOffs.Count,
            GcPauseMs = (to.GcPause - from.GcPause).TotalMilliseconds,
            Gen2Collections = to.Gen2 - from.Gen2,
            ThrottledMs = (to.Throttle.Usec - from.Throttle.Usec) / 1e3,
            ThrottledPeriods = to.Throttle.Periods - from.Throttle.Periods,
        };
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

    // The machine did not deliver where other processes or the hypervisor (the machine's steal) had TakenCores of it (a
    // 60 fps show needs about 0.7 of a core; a two-core virtual machine has lost half a core and more to its hypervisor
    // for tens of seconds at a time, and a suite run alone was slowed to half speed for two minutes with no process of
    // its own to show for it) ...
    private const double TakenCores = 0.5;
    // ... or its CPUs ran SlowMachine times slower than usual (this VM's at times deliver a third less with no steal
    // reported): a piece of work timed in its thread's own CPU time (Yardstick), which a busy machine does not slow.
    // Without heavy steal it read 0.89-1.10x on an idle and on a loaded machine (47 measurements) ...
    private const double SlowMachine = 1.25;
    // ... or it held this process off for HeldOffMsAtAStretch (HoldOffProbe; its cgroup's quota likewise): three
    // frame intervals, more than a show's one-frame tolerance absorbs. The probe read at most 11 ms on an idle machine
    // (22 with half a core stolen), 2-6 ms in most measurements with other processes busy on both cores (a sleeping
    // thread in another process: 7 ms at the median of 4 s windows, 160-320 ms at worst while five builds and test runs
    // shared the cores), and each pause as long as it was where the test host was stopped for 300-900 ms, which failed
    // every measurement it hit (with 50-150 ms pauses every 2 s, 5 of 7 passed at once while others took 1.3 cores).
    private const double HeldOffMsAtAStretch = 100;

    /// <summary>
    /// Why the machine did not deliver over this measurement, in words, or null where it did: then a timing verdict
    /// that failed over it is the show's, not the machine's.
    /// </summary>
    public string? NotDelivered
    {
        get
        {
            List<string> why = [];
            if (OthersCores >= TakenCores) why.Add($"{OthersCores:0.00} cores went to other processes and the hypervisor");
            if (Slowdown >= SlowMachine) why.Add($"its CPUs ran {Slowdown:0.00}x slower than usual");
            if (LongestHoldOffMs >= HeldOffMsAtAStretch) why.Add($"it held this process off for {LongestHoldOffMs:0} ms at a stretch");
            if (ThrottledMs >= HeldOffMsAtAStretch) why.Add($"this process's cgroup was throttled for {ThrottledMs:0} ms");
            if (GcPauseMs >= HeldOffMsAtAStretch) why.Add($"this process's garbage collector paused it for {GcPauseMs:0} ms");
            return why.Count == 0 ? null : string.Join(", ", why);
        }
    }

    /// <summary>One line: every reading, the probes' among them.</summary>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"machine over {Seconds:0.0} s: {BusyCores:0.00} of {Cores} cores busy, steal {StolenCores:0.00}, this process {ThisProcessCores:0.00}, others and steal {OthersCores:0.00}; " +
        $"yardstick {Slowdown:0.00}x its calibration in CPU time ({WallPerCpu:0.00}x that in wall time); " +
        $"held off longest {LongestHoldOffMs:0} ms, {HeldOffMs:0} ms in {HoldOffs} wake-ups {HoldOffProbe.HeldOffMs:0}+ ms late; " +
        $"GC paused {GcPauseMs:0} ms, {Gen2Collections} gen2; cgroup throttled {ThrottledMs:0} ms in {ThrottledPeriods} periods");
}

/// <summary>
/// A thread that sleeps <see cref="Nap"/> at a time and keeps how much later than asked it woke, beside a measurement.
/// It needs almost no CPU, so a machine whose cores are merely busy wakes it within a scheduler slice; a machine that
/// stops this process (a hypervisor's pause that reports no steal, a cgroup's CPU quota, SIGSTOP) wakes it as late as
/// the stop lasted. An engine that stalls leaves it on time. This process's own garbage-collection pauses, which hold
/// every managed thread, are taken out of each wake-up's lateness (they are counted apart).
/// </summary>
public sealed class HoldOffProbe
{
    /// <summary>How long each sleep is.</summary>
    public static readonly TimeSpan Nap = TimeSpan.FromMilliseconds(3);
    /// <summary>A wake-up at least this late counts as held off (a nap on an idle machine wakes about 0.1 ms late).</summary>
    public const double HeldOffMs = 1;
    private readonly Thread _thread;
    private volatile bool _stop;
    private double _longestMs, _totalMs;
    private int _count;

    private HoldOffProbe()
    {
        _thread = new Thread(Run) { IsBackground = true, Name = "hold-off probe" };
    }

    internal static HoldOffProbe Start()
    {
        var p = new HoldOffProbe();
        p._thread.Start();
        return p;
    }

    /// <summary>Stops the probe: the longest lateness, the lateness of every wake-up held off, and how many those were.</summary>
    internal (double LongestMs, double TotalMs, int Count) Stop()
    {
        _stop = true;
        _thread.Join();
        return (_longestMs, _totalMs, _count);
    }

    private void Run()
    {
        while (!_stop)
        {
            var gc = GC.GetTotalPauseDuration();
            var from = Stopwatch.GetTimestamp();
            Thread.Sleep(Nap);
            var late = (Stopwatch.GetElapsedTime(from) - Nap - (GC.GetTotalPauseDuration() - gc)).TotalMilliseconds;
            if (late < HeldOffMs) continue;
            _longestMs = Math.Max(_longestMs, late);
            _totalMs += late;
            _count++;
        }
    }
}

/// <summary>
/// The CPU throttling of this process's cgroup so far: the time its CPU quota held it and in how many quota periods
/// (cgroup v2's cpu.stat throttled_usec and nr_throttled; v1's cpu controller's throttled_time and nr_throttled). Zero
/// where the process has no such cgroup or it cannot be read.
/// </summary>
public readonly record struct CgroupThrottle(long Usec, long Periods)
{
    private static readonly string? StatFile = FindStatFile();

    public static CgroupThrottle Read()
    {
        if (StatFile is null) return default;
        try
        {
            long usec = 0, periods = 0;
            foreach (var line in File.ReadLines(StatFile))
            {
                var parts = line.Split(' ');
                if (parts.Length != 2 || !long.TryParse(parts[1], CultureInfo.InvariantCulture, out var value)) continue;
                switch (parts[0])
                {
                    case "throttled_usec": usec = value; break;
                    case "throttled_time": usec = value / 1000; break; // v1: ns
                    case "nr_throttled": periods = value; break;
                }
            }
            return new CgroupThrottle(usec, periods);
        }
        catch (IOException) { return default; }
        catch (UnauthorizedAccessException) { return default; }
    }

    // /proc/self/cgroup: "0::/path" for cgroup v2, "N:cpu,cpuacct:/path" for v1's cpu controller.
    private static string? FindStatFile()
    {
        try
        {
            foreach (var line in File.ReadAllLines("/proc/self/cgroup"))
            {
                var parts = line.Split(':', 3);
                if (parts.Length < 3) continue;
                // v1's controllers mounted together may be reached by either name ("cpu,cpuacct" or "cpu").
                var v1 = Path.Combine("/sys/fs/cgroup", parts[1]);
                string? root = parts[0] == "0" && parts[1] == "" ? "/sys/fs/cgroup"
                    : parts[1].Split(',').Contains("cpu") ? Directory.Exists(v1) ? v1 : "/sys/fs/cgroup/cpu" : null;
                if (root is null) continue;
                var stat = Path.Join(root, parts[2], "cpu.stat");
                if (File.Exists(stat) && File.ReadAllText(stat).Contains("throttled", StringComparison.Ordinal)) return stat;
            }
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return null;
    }
}

/// <summary>
/// A fixed piece of work (a floating-point dependency chain, as bench/yardstick.c's) timed in the CPU time of the thread
/// that runs it, every 100 ms on a thread of its own beside a measurement. Waiting for a CPU this machine's other threads
/// hold does not count, so a busy machine does not read slow; a CPU that delivers less does (this virtual machine's at
/// times deliver up to a third less with no steal reported, and whatever runs on them takes that much longer, the
/// piece too). Against the median of every piece timed in <see cref="Calibrate"/> in this process (before each show
/// starts): 1 is the machine at its usual speed. The median of all, not the fastest calibration: ten pieces' median
/// moves by a third from one calibration to the next on this VM, and the fastest read a machine at its usual speed as
/// up to 1.3x slower. The wall-clock time of the same pieces is kept beside it, to show how much of the time the
/// thread waited for a CPU.
/// </summary>
public sealed partial class Yardstick
{
    private const int CalibrationPieces = 10;
    private static readonly Lock Gate = new();
    private static readonly List<double> CalibrationMs = [];
    private readonly List<(double CpuMs, double WallMs)> _pieces = [];
    private readonly Thread _thread;
    private volatile bool _stop;

    private Yardstick()
    {
        _thread = new Thread(Run) { IsBackground = true, Name = "yardstick" };
    }

    /// <summary>
    /// Times <see cref="CalibrationPieces"/> pieces on the calling thread and adds them to the calibration; returns their
    /// median (ms of CPU time). Call while the machine runs nothing of the test's own.
    /// </summary>
    public static double Calibrate()
    {
        List<double> pieces = [.. Enumerable.Range(0, CalibrationPieces).Select(_ => Piece().CpuMs)];
        lock (Gate) CalibrationMs.AddRange(pieces);
        return Median(pieces);
    }

    internal static Yardstick Start()
    {
        bool calibrated;
        lock (Gate) calibrated = CalibrationMs.Count > 0;
        if (!calibrated) Calibrate();
        var y = new Yardstick();
        y._thread.Start();
        return y;
    }

    /// <summary>
    /// Stops timing: the median piece's CPU time over the calibration's (1: the CPUs ran at their usual speed), and
    /// its wall-clock time over its CPU time (1: the thread never waited for a CPU).
    /// </summary>
    internal (double Slowdown, double WallPerCpu) Stop()
    {
        _stop = true;
        _thread.Join();
        lock (Gate)
        {
            if (_pieces.Count == 0) return (1, 1);
            var cpu = Median([.. _pieces.Select(p => p.CpuMs)]);
            return (cpu / Median([.. CalibrationMs]), Median([.. _pieces.Select(p => p.WallMs)]) / cpu);
        }
    }

    private void Run()
    {
        while (!_stop)
        {
            var piece = Piece();
            lock (Gate) _pieces.Add(piece);
            Thread.Sleep(100);
        }
    }

    private static double Median(List<double> values)
    {
        values.Sort();
        return values.Count == 0 ? 0 : values[values.Count / 2];
    }

    // Compiled once, fully optimized: left to tiered compilation, the loop ran as on-stack-replaced code in the first
    // calibration (3 ms a piece) and as the method's later compilation afterwards (5-6 ms), which read as a machine at
    // half speed while a C copy of the loop in another process kept its 3 ms.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static (double CpuMs, double WallMs) Piece()
    {
        var wall = Stopwatch.GetTimestamp();
        var cpu = ThreadCpuMs();
        var x = 1.0;
        for (var i = 0; i < 1_000_000; i++) x = x * 1.0000001 + 0.5;
        // Used, so the compiler keeps the chain.
        if (double.IsNaN(x)) throw new InvalidOperationException("the yardstick's work went wrong");
        return (ThreadCpuMs() - cpu, Stopwatch.GetElapsedTime(wall).TotalMilliseconds);
    }

    private const int ThreadCpuClock = 3; // CLOCK_THREAD_CPUTIME_ID

    private static double ThreadCpuMs() =>
        ClockGetTime(ThreadCpuClock, out var t) == 0 ? t.Seconds * 1e3 + t.Nanoseconds / 1e6 : throw new InvalidOperationException("clock_gettime failed");

    [StructLayout(LayoutKind.Sequential)]
    private struct Timespec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    [LibraryImport("libc", EntryPoint = "clock_gettime")]
    private static partial int ClockGetTime(int clock, out Timespec time);
}
