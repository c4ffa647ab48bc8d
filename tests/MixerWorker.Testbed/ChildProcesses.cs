using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;

namespace MixerWorker.Testbed;

/// <summary>
/// Starts the processes a test or a bench runs (workers, redis-server, gst-launch) so that none outlives
/// the process that started it, however that one ends (a hung test host killed by the runner, kill -9,
/// Ctrl-C): each child is started through <c>setpriv --pdeathsig KILL</c>, so the kernel kills it when
/// its parent dies. Linux sends that signal when the <em>thread</em> that forked the child exits, so every
/// fork happens on one thread that lives as long as the process. Children also carry
/// <see cref="OwnerVariable"/> = this process's id; <see cref="KillOrphans"/> (run once, on the first
/// start) kills those whose owner is gone, for leftovers of a machine without setpriv.
/// </summary>
public static class ChildProcesses
{
    /// <summary>The environment variable that names the process that started a child.</summary>
    public const string OwnerVariable = "MIXERWORKER_TEST_OWNER";

    private static readonly BlockingCollection<(ProcessStartInfo Start, TaskCompletionSource<Process> Started)> Requests = [];
    private static readonly Lazy<bool> SetprivPresent = new(() => File.Exists("/usr/bin/setpriv"));
    private static readonly Lazy<int> Swept = new(KillOrphans);

    static ChildProcesses()
    {
        var spawner = new Thread(() =>
        {
            foreach (var (start, started) in Requests.GetConsumingEnumerable())
            {
                try { started.SetResult(Process.Start(start) ?? throw new InvalidOperationException($"{start.FileName} did not start")); }
                catch (Exception e) { started.SetException(e); }
            }
        })
        { IsBackground = true, Name = "child-process spawner" };
        spawner.Start();
    }

    /// <summary>Starts <paramref name="start"/> (UseShellExecute false) as a child that dies with this process.</summary>
    public static Process Start(ProcessStartInfo start)
    {
        _ = Swept.Value;
        start.UseShellExecute = false;
        start.Environment[OwnerVariable] = Environment.ProcessId.ToString(CultureInfo.InvariantCulture);
        if (OperatingSystem.IsLinux() && SetprivPresent.Value)
        {
            // setpriv sets the death signal on itself and then execs the program: same pid, same signals.
            var args = start.ArgumentList.ToList();
            start.ArgumentList.Clear();
            foreach (var a in (string[])["--pdeathsig", "KILL", "--", start.FileName, .. args]) start.ArgumentList.Add(a);
            start.FileName = "/usr/bin/setpriv";
        }
        var started = new TaskCompletionSource<Process>(TaskCreationOptions.RunContinuationsAsynchronously);
        Requests.Add((start, started));
        return started.Task.GetAwaiter().GetResult();
    }

    /// <summary>Kills every process that carries <see cref="OwnerVariable"/> naming a process that no longer runs. Returns how many.</summary>
    public static int KillOrphans()
    {
        if (!OperatingSystem.IsLinux()) return 0;
        var killed = 0;
        var marker = OwnerVariable + "=";
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out var pid) || pid == Environment.ProcessId) continue;
            string environ;
            try { environ = File.ReadAllText(Path.Combine(dir, "environ")); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { continue; } // gone, or not ours
            var entry = environ.Split('\0').FirstOrDefault(v => v.StartsWith(marker, StringComparison.Ordinal));
            if (entry is null || !int.TryParse(entry.AsSpan(marker.Length), NumberStyles.None, CultureInfo.InvariantCulture, out var owner)) continue;
            if (Directory.Exists($"/proc/{owner}")) continue;
            try
            {
                using var orphan = Process.GetProcessById(pid);
                orphan.Kill();
                killed++;
            }
            catch (Exception e) when (e is ArgumentException or InvalidOperationException or System.ComponentModel.Win32Exception) { }
        }
        return killed;
    }
}
