using System.Diagnostics;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

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
public readonly record struct MachineShare(double Seconds, int Cores, double BusyCores, double StolenCores, double ThisProcessCores, double Slowdown = 1, double WallPerCpu = 1)
{
    /// <summary>A reading of the counters to measure from, and the yardstick running until <see cref="Since"/>.</summary>
    public sealed record Reading(long Ticks, long Idle, long Steal, int Cores, TimeSpan ProcessCpu, long Timestamp, Yardstick? Yardstick = null);

    public static Reading Now()
    {
        var (ticks, idle, steal, cores) = ReadStat();
        return new Reading(ticks, idle, steal, cores, Process.GetCurrentProcess().TotalProcessorTime, Stopwatch.GetTimestamp());
    }

    /// <summary>As <see cref="Now"/>, with a <see cref="Yardstick"/> timing its piece of work until <see cref="Since"/>.</summary>
    public static Reading NowWithYardstick() => Now() with { Yardstick = Yardstick.Start() };

    /// <summary>The machine's use of its CPUs from <paramref name="from"/> until now, in cores.</summary>
    public static MachineShare Since(Reading from)
    {
        var (slowdown, wallPerCpu) = from.Yardstick?.Stop() ?? (1, 1);
        var to = Now();
        var seconds = Stopwatch.GetElapsedTime(from.Timestamp, to.Timestamp).TotalSeconds;
        // The machine's cores, not the runtime's count, which a CPU quota on this process lowers.
        var cores = to.Cores > 0 ? to.Cores : Environment.ProcessorCount;
        var ticks = Math.Max(1, to.Ticks - from.Ticks);
        double Share(long part) => cores * (double)part / ticks;
        return new MachineShare(seconds, cores, Share(ticks - (to.Idle - from.Idle) - (to.Steal - from.Steal)), Share(to.Steal - from.Steal),
            seconds <= 0 ? 0 : (to.ProcessCpu - from.ProcessCpu).TotalSeconds / seconds, slowdown, wallPerCpu);
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
        $"machine over {Seconds:0.0} s: {BusyCores:0.00} of {Cores} cores busy, {StolenCores:0.00} taken by the hypervisor (steal), this process {ThisProcessCores:0.00}, others and steal {OthersCores:0.00}, " +
        $"yardstick {Slowdown:0.00}x its calibration in CPU time ({WallPerCpu:0.00}x that in wall time)");
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
