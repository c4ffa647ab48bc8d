using System.Diagnostics;
using System.Globalization;
using MixerWorker.Testbed;
using Xunit;

namespace MixerWorker.Tests;

/// <summary>
/// Workers and redis-servers started by the tests must not outlive a test host that is killed (a hang
/// the runner kills, Ctrl-C, kill -9): left behind, they hold ports and CPU and publish into other runs.
/// </summary>
public sealed class ChildProcessTests
{
    private static string TestbedDll => Path.Combine(AppContext.BaseDirectory, "MixerWorker.Testbed.dll");

    [Fact]
    public async Task A_child_dies_with_the_process_that_started_it_even_when_that_one_is_killed_with_kill_9()
    {
        // The testbed starts `sleep` through ChildProcesses and says its pid; then it is killed as a hung test host is.
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var a in (string[])[TestbedDll, "child", "--seconds", "120"]) psi.ArgumentList.Add(a);
        using var parent = Process.Start(psi)!;
        var line = await parent.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(60));
        Assert.StartsWith("child ", line);
        var child = int.Parse(line!["child ".Length..], CultureInfo.InvariantCulture);
        Assert.True(Alive(child), "the child should run while its parent does");

        parent.Kill(); // SIGKILL of the parent alone: nothing of its own runs to clean up
        await parent.WaitForExitAsync();
        var deadline = DateTime.UtcNow.AddSeconds(5);
        while (Alive(child) && DateTime.UtcNow < deadline) await Task.Delay(50);
        Assert.False(Alive(child), $"pid {child} outlived its parent");
    }

    [Fact]
    public async Task A_process_left_behind_by_an_owner_that_is_gone_is_killed_by_the_sweep()
    {
        // An owner that no longer runs: a process that has exited (its pid is not reused this soon).
        using var gone = Process.Start(new ProcessStartInfo("true") { UseShellExecute = false })!;
        await gone.WaitForExitAsync();
        var psi = new ProcessStartInfo("sleep", ["120"]) { UseShellExecute = false };
        psi.Environment[ChildProcesses.OwnerVariable] = gone.Id.ToString(CultureInfo.InvariantCulture);
        using var leftover = Process.Start(psi)!;
        var marked = new ProcessStartInfo("sleep", ["120"]) { UseShellExecute = false };
        marked.Environment[ChildProcesses.OwnerVariable] = Environment.ProcessId.ToString(CultureInfo.InvariantCulture);
        using var ours = Process.Start(marked)!; // its owner (this process) runs: the sweep leaves it alone
        try
        {
            ChildProcesses.KillOrphans(); // another test host's first start may have swept it already: both are fine
            Assert.True(leftover.WaitForExit(5000), "the leftover still runs");
            Assert.False(ours.HasExited, "a child of a live owner was killed");
        }
        finally
        {
            ours.Kill();
            if (!leftover.HasExited) leftover.Kill();
        }
    }

    // Running, not a zombie waiting for a parent that does not reap it.
    private static bool Alive(int pid)
    {
        try { return File.ReadAllText($"/proc/{pid}/stat").Split(')')[^1].TrimStart()[0] != 'Z'; }
        catch (IOException) { return false; }
    }
}
