namespace MixerWorker.Testbed.Timing;

/// <summary>
/// One process running media tests at a time on this machine. `run.sh test` runs the test projects
/// one after the other, but `dotnet test worker.sln` (and two engineers' runs) put them side by side,
/// and two live pipelines on a 2-core machine miss each other's frame deadlines. The lock is an exclusive open of a file (flock on Linux), taken by a process's first
/// media test and kept until the process exits, when the kernel releases it: released per test, the
/// other process's polling would lose the race to the next test every time. It only improves
/// timing: after the timeout the test runs without it instead of failing.
/// </summary>
public static class MediaTestLock
{
    private static readonly string LockPath = Path.Combine(Path.GetTempPath(), "mixerworker-media-tests.lock");
    private static readonly Lock Gate = new();
    private static FileStream? _file;
    private static bool _tried;

    public static void Acquire(TimeSpan timeout)
    {
        lock (Gate)
        {
            if (_tried) return;
            _tried = true;
            var deadline = DateTime.UtcNow + timeout;
            while (_file is null && DateTime.UtcNow < deadline)
            {
                try { _file = new FileStream(LockPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None); }
                catch (IOException) { Thread.Sleep(100); }
            }
        }
    }
}
