using System.Diagnostics;

// The deployment runs on Linux containers and these tests exec /bin/sh scripts; no other OS is meaningful.
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]

namespace MixerWorker.Deploy.Tests;

/// <summary>Locates the files under test in the checkout the tests were built from.</summary>
internal static class Repo
{
    public static string Root { get; } = FindRoot();

    public static string PathOf(string relative) => Path.Combine(Root, relative);

    public static string Read(string relative) => File.ReadAllText(PathOf(relative));

    private static string FindRoot()
    {
        // The test binaries live under tests/<project>/bin/...; the checkout root is the folder with worker.sln.
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "worker.sln")))
            {
                return dir.FullName;
            }
        }
        throw new InvalidOperationException($"worker.sln not found above {AppContext.BaseDirectory}");
    }
}

internal sealed record ProcessResult(int ExitCode, string StdOut, string StdErr);

internal static class Processes
{
    /// <summary>
    /// Runs an executable directly (no shell) with the current environment plus <paramref name="env"/>,
    /// the way MediaMTX starts hooks: os.Environ() followed by the hook variables.
    /// </summary>
    public static ProcessResult Run(string fileName, IEnumerable<string> args,
        IReadOnlyDictionary<string, string>? env = null, TimeSpan? timeout = null)
    {
        var psi = new ProcessStartInfo(fileName)
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
        };
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }
        foreach (var (k, v) in env ?? new Dictionary<string, string>())
        {
            psi.Environment[k] = v;
        }
        using var p = Process.Start(psi) ?? throw new InvalidOperationException($"could not start {fileName}");
        p.StandardInput.Close();
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(timeout ?? TimeSpan.FromSeconds(30)))
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"{fileName} did not finish in time");
        }
        p.WaitForExit();
        return new ProcessResult(p.ExitCode, stdout.Result, stderr.Result);
    }

    /// <summary>Finds an executable on PATH, or fails the test naming the Debian package that provides it.</summary>
    public static string Require(string program, string debianPackage)
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            var candidate = Path.Combine(dir, program);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }
        throw new InvalidOperationException(
            $"'{program}' is not on PATH; these tests run it the way production does. Install it: apt-get install {debianPackage}");
    }
}
