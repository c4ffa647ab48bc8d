using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;
using MixerWorker.Testbed;
using Xunit.Abstractions;

namespace MixerWorker.Tests;

/// <summary>The worker executable run as operators run it (`dotnet MixerWorker.dll [args]`), its output captured.</summary>
public sealed class WorkerProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly List<string> _lines = [];
    private readonly List<string> _stdout = [];
    private readonly ITestOutputHelper? _output;

    public static string WorkerDll => Path.Combine(AppContext.BaseDirectory, "MixerWorker.dll");

    private WorkerProcess(Process process, ITestOutputHelper? output)
    {
        _process = process;
        _output = output;
        _process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is not null) lock (_stdout) _stdout.Add(e.Data);
            Add(e.Data);
        };
        _process.ErrorDataReceived += (_, e) => Add(e.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    public static WorkerProcess Start(IReadOnlyDictionary<string, string> environment, ITestOutputHelper? output, params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(WorkerDll);
        foreach (var a in args) psi.ArgumentList.Add(a);
        // Only what the test says: nothing from the developer's environment leaks into the worker's configuration.
        foreach (var key in psi.Environment.Keys.Where(k => k.Contains("__") || k.EndsWith("PASSPHRASE", StringComparison.Ordinal)).ToList())
            psi.Environment.Remove(key);
        // Fails the worker's graph changes made off its control thread, as in the engine's own tests.
        psi.Environment["MIXERWORKER_CHECK_GRAPH_THREAD"] = "1";
        foreach (var (k, v) in environment) psi.Environment[k] = v;
        return new WorkerProcess(ChildProcesses.Start(psi), output);
    }

    /// <summary>Runs a command (e.g. ctl) to its end and returns its exit code and output.</summary>
    public static async Task<(int ExitCode, string Output)> RunAsync(IReadOnlyDictionary<string, string> environment, TimeSpan timeout, params string[] args)
    {
        await using var p = Start(environment, null, args);
        var code = await p.WaitForExitAsync(timeout);
        return (code, string.Join("\n", p.Lines));
    }

    public IReadOnlyList<string> Lines { get { lock (_lines) return [.. _lines]; } }
    public string Output => string.Join("\n", Lines);
    /// <summary>Standard output alone (where the logs go), without what libraries print on standard error.</summary>
    public IReadOnlyList<string> StdoutLines { get { lock (_stdout) return [.. _stdout]; } }
    public bool HasExited => _process.HasExited;
    /// <summary>The worker's process id (e.g. to pin it to a core).</summary>
    public int Id => _process.Id;

    /// <summary>The first match of <paramref name="pattern"/> in the output (messages may span lines) that <paramref name="accept"/> takes.</summary>
    public async Task<Match> WaitForOutputAsync(Regex pattern, Func<Match, bool> accept, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            // An exited process's last lines can still be in the pipe: read it to its end before the last look.
            var exited = _process.HasExited;
            if (exited) await ReadToEndAsync();
            var hit = pattern.Matches(Output).FirstOrDefault(accept);
            if (hit is not null) return hit;
            if (exited) throw new TimeoutException($"the worker exited (code {_process.ExitCode}) without logging /{pattern}/ as expected");
            if (DateTime.UtcNow >= deadline) break;
            await Task.Delay(50);
        }
        throw new TimeoutException($"the worker did not log /{pattern}/ as expected within {timeout.TotalSeconds:F0} s");
    }

    // WaitForExitAsync returns once the output pipes reached their end too; bounded, for a child the worker left holding them.
    private async Task ReadToEndAsync()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        try { await _process.WaitForExitAsync(cts.Token); }
        catch (OperationCanceledException) { }
    }

    /// <summary>Kills the process as a crash or an OOM kill would (SIGKILL): no shutdown, nothing flushed.</summary>
    public async Task KillAsync()
    {
        if (_process.HasExited) return;
        _process.Kill(entireProcessTree: true);
        await _process.WaitForExitAsync();
    }

    /// <summary>Sends SIGTERM, as Docker and Kubernetes do.</summary>
    public void Terminate()
    {
        if (kill(_process.Id, 15) != 0) throw new InvalidOperationException($"kill failed: errno {Marshal.GetLastPInvokeError()}");
    }

    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        await _process.WaitForExitAsync(cts.Token);
        return _process.ExitCode;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
        _process.Dispose();
    }

    private void Add(string? line)
    {
        if (line is null) return;
        lock (_lines) _lines.Add(line);
        try { _output?.WriteLine("[worker] " + line); } catch (InvalidOperationException) { /* test already finished */ }
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int kill(int pid, int signal);
}
