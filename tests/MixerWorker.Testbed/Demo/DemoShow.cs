namespace MixerWorker.Testbed.Demo;

internal static class DemoShow
{
    internal static Task<int> RunAsync(string outDir) => Task.FromResult(0);
}
