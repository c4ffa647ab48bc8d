namespace MixerWorker.Tests;

/// <summary>The repository the tests were built from (files in deploy/, docker/; artifacts/ for screenshots).</summary>
internal static class Repo
{
    public static string Root
    {
        get
        {
            var dir = new DirectoryInfo(AppContext.BaseDirectory);
            while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "worker.sln"))) dir = dir.Parent;
            return dir?.FullName ?? throw new DirectoryNotFoundException("worker.sln not found above the test's directory");
        }
    }

    public static string PathOf(string relative) => Path.Combine(Root, relative);
}
