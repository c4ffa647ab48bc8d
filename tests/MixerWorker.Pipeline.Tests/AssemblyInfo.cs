using Xunit;

// Media tests measure frame timing on a 2-core machine; running them side by side would measure
// the neighbours instead.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
