namespace MixerWorker.Testbed.Timing;

/// <summary>
/// One media test at a time on this machine, across test assemblies. `dotnet test worker.sln` runs
/// the test projects side by side, and two live pipelines on a 2-core machine miss each other's
/// frame deadlines. The lock is an exclusive open of a file (flock on Linux): the kernel releases
/// it when the holder exits, so a crashed test run leaves nothing stale behind.
/// </summary>
public sealed class MediaTestLock : IDisposable
{
    private static readonly string LockPath = Path.Combine(Path.GetTempPath(), "mixerworker-media-tests.lock");
    private readonly FileStream _file;

    private MediaTestLock(FileStream file) => _file = file;

    public static MediaTestLock Acquire(TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            try { return new MediaTestLock(new FileStream(LockPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None)); }
            catch (IOException) when (DateTime.UtcNow < deadline) { Thread.Sleep(100); }
        }
    }

    public void Dispose() => _file.Dispose();
}
