using System.Diagnostics;
using System.Globalization;

namespace MixerWorker.Testbed.Timing;

/// <summary>
/// Starves a process of CPU for real: every thread of it is pinned to one core (taskset), and busy
/// processes pinned to the same core compete with it there, so it gets the share of that core the
/// kernel's scheduler leaves it. Whatever else runs on the machine, the starved process never gets
/// more than one core. Disposing stops the busy processes and gives the process every core back.
/// </summary>
public sealed class CpuStarvation : IDisposable
{
    private readonly int _pid;
    private readonly List<Process> _busy = [];

    /// <summary>The core the process and the busy processes share.</summary>
    public int Core { get; }

    private CpuStarvation(int pid, int core) { _pid = pid; Core = core; }

    /// <summary>Whether taskset is there (util-linux); without it nothing can be pinned.</summary>
    public static bool Available => File.Exists("/usr/bin/taskset");

    /// <summary>Pins <paramref name="pid"/> (all its threads) to core 0 and starts <paramref name="busyProcesses"/> busy loops there.</summary>
    public static CpuStarvation Start(int pid, int busyProcesses)
    {
        var s = new CpuStarvation(pid, 0);
        try
        {
            Pin(pid, s.Core.ToString(CultureInfo.InvariantCulture));
            for (var i = 0; i < busyProcesses; i++)
            {
                var psi = new ProcessStartInfo("taskset") { RedirectStandardOutput = true, RedirectStandardError = true };
                foreach (var a in (string[])["-c", s.Core.ToString(CultureInfo.InvariantCulture), "sh", "-c", "while :; do :; done"]) psi.ArgumentList.Add(a);
                s._busy.Add(ChildProcesses.Start(psi));
            }
        }
        catch
        {
            s.Dispose();
            throw;
        }
        return s;
    }

    // -a: every thread the process has now; threads it starts later inherit the affinity of the one that starts them.
    private static void Pin(int pid, string cores)
    {
        var psi = new ProcessStartInfo("taskset") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in (string[])["-a", "-p", "-c", cores, pid.ToString(CultureInfo.InvariantCulture)]) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi) ?? throw new InvalidOperationException("taskset did not start");
        var error = p.StandardError.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0) throw new InvalidOperationException($"taskset could not pin process {pid}: {error.Trim()}");
    }

    public void Dispose()
    {
        foreach (var p in _busy)
        {
            try { if (!p.HasExited) { p.Kill(); p.WaitForExit(5000); } }
            catch (InvalidOperationException) { /* already gone */ }
            p.Dispose();
        }
        _busy.Clear();
        try { Pin(_pid, $"0-{Environment.ProcessorCount - 1}"); }
        catch (InvalidOperationException) { /* the process has ended */ }
    }
}
