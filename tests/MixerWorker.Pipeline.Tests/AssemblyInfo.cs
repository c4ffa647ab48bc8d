using System.Runtime.CompilerServices;
using Xunit;

// Media tests measure frame timing on a 2-core machine; running them side by side would measure
// the neighbours instead.
[assembly: CollectionBehavior(DisableTestParallelization = true)]

namespace MixerWorker.Pipeline.Tests
{
    internal static class TestSwitches
    {
        // Every graph change off a mixer's control thread throws in these tests (Interop/Graph).
        [ModuleInitializer]
        internal static void CheckGraphThreads() => AppContext.SetSwitch(Interop.Graph.CheckSwitch, true);
    }
}
