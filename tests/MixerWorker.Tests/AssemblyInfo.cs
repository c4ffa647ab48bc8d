using Xunit;

// Each test runs a worker with a live pipeline; on a 2-core machine side-by-side runs would starve each other.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
