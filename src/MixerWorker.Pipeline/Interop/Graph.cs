namespace MixerWorker.Pipeline.Interop;

/// <summary>
/// A project's GStreamer pipeline as the builders use it. Elements are added to and removed from the
/// pipeline through it; callbacks registered through it report their faults to its owner (one
/// project's logger) rather than to every project in the process; and while the graph-thread check
/// is on (tests turn it on) every structural change asserts it runs on the thread that owns the
/// graph, so a build or teardown from a streaming, bus or pool thread fails the test that caused it.
/// </summary>
internal sealed class Graph : IDisposable
{
    /// <summary>AppContext switch (or environment variable MIXERWORKER_CHECK_GRAPH_THREAD=1) that turns the check on.</summary>
    internal const string CheckSwitch = "MixerWorker.Pipeline.CheckGraphThread";

    private readonly Func<bool>? _isOwnerThread;
    private readonly Action<Exception>? _onCallbackFault;
    private int _faults;

    /// <param name="name">Names the owner in assertion messages, e.g. the project.</param>
    /// <param name="onCallbackFault">Receives exceptions thrown by handlers inside native callbacks.</param>
    /// <param name="isOwnerThread">Says whether the calling thread may change the graph; null: any thread may (test rigs).</param>
    internal Graph(string name, Action<Exception>? onCallbackFault = null, Func<bool>? isOwnerThread = null)
    {
        Name = name;
        _onCallbackFault = onCallbackFault;
        _isOwnerThread = isOwnerThread;
        Pipeline = Element.NewPipeline();
    }

    internal string Name { get; }

    /// <summary>The pipeline itself, for state changes and the bus.</summary>
    internal Element Pipeline { get; }

    /// <summary>Faults of this graph's callbacks so far.</summary>
    internal int CallbackFaults => Volatile.Read(ref _faults);

    internal static bool CheckThreads =>
        (AppContext.TryGetSwitch(CheckSwitch, out var on) && on) || Environment.GetEnvironmentVariable("MIXERWORKER_CHECK_GRAPH_THREAD") == "1";

    /// <summary>Throws when the check is on and the calling thread does not own the graph.</summary>
    internal void AssertOwnerThread()
    {
        if (CheckThreads && _isOwnerThread is { } isOwner && !isOwner())
            throw new InvalidOperationException(
                $"graph {Name} changed from thread '{Thread.CurrentThread.Name ?? Environment.CurrentManagedThreadId.ToString()}': only its control thread may change it");
    }

    internal void Add(Element element)
    {
        AssertOwnerThread();
        Pipeline.Add(element);
    }

    internal void Remove(Element element)
    {
        AssertOwnerThread();
        Pipeline.Remove(element);
    }

    /// <summary>
    /// Raised on the owner thread right before the pipeline is set to a state: a streaming thread held in managed code
    /// (a compositor waiting for its inputs) lets go first, for the pipeline waits for every streaming thread as it
    /// deactivates their pads.
    /// </summary>
    internal event Action<State>? StateChanging;

    internal StateChange SetState(State state)
    {
        AssertOwnerThread();
        StateChanging?.Invoke(state);
        return Pipeline.SetState(state);
    }

    /// <summary>Works out the pipeline's latency again, as a latency message asks.</summary>
    internal void RecalculateLatency()
    {
        AssertOwnerThread();
        Pipeline.RecalculateLatency();
    }

    internal ProbeHandle AddProbe(Pad pad, ProbeType mask, Func<ProbeInfo, ProbeReturn> handler) =>
        Callbacks.AddProbe(pad, mask, handler, OnFault);

    /// <inheritdoc cref="Callbacks.StopRefusals"/>
    internal RefusalStop StopRefusals(Pad ghost, Func<bool> alsoDrop) => Callbacks.StopRefusals(ghost, alsoDrop, OnFault);

    internal nuint ConnectPadAdded(Element element, Action<Pad> handler) => Callbacks.ConnectPadAdded(element, handler, OnFault);

    /// <inheritdoc cref="Callbacks.ConnectSamplesSelected"/>
    internal nuint ConnectSamplesSelected(Element aggregator, Action<ulong> handler) => Callbacks.ConnectSamplesSelected(aggregator, handler, OnFault);

    /// <inheritdoc cref="Callbacks.ConnectOverrun"/>
    internal nuint ConnectOverrun(Element queue, Action handler) => Callbacks.ConnectOverrun(queue, handler, OnFault);

    private void OnFault(Exception e)
    {
        Interlocked.Increment(ref _faults);
        _onCallbackFault?.Invoke(e);
    }

    public void Dispose() => Pipeline.Dispose();
}
