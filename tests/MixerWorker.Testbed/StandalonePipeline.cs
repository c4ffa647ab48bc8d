using MixerWorker.Pipeline.Interop;

namespace MixerWorker.Testbed;

/// <summary>A small self-contained pipeline for test tools: owns its elements, records its errors.</summary>
internal sealed class StandalonePipeline : IDisposable
{
    private readonly List<Element> _owned = [];
    private readonly BusReader _bus;
    private readonly List<string> _errors = [];

    internal Element Pipeline { get; } = Element.NewPipeline();

    internal StandalonePipeline()
    {
        GstRuntime.Init();
        _bus = new BusReader(Pipeline, m =>
        {
            if (m.Type is MessageType.Error or MessageType.Eos)
                lock (_errors) _errors.Add(m.Type == MessageType.Eos ? "end of stream" : $"{m.SourcePath}: {m.Text} {m.Debug}");
        });
    }

    internal IReadOnlyList<string> Errors { get { lock (_errors) return [.. _errors]; } }
    internal bool Failed { get { lock (_errors) return _errors.Count > 0; } }

    internal Element Add(string factory, string? name = null, params (string Key, object Value)[] properties)
    {
        var e = Element.Make(factory, name);
        foreach (var (k, v) in properties) e.Set(k, v);
        return Add(e);
    }

    /// <summary>Adds an element made elsewhere (a builder's), and owns it from here on.</summary>
    internal Element Add(Element e)
    {
        Pipeline.Add(e);
        _owned.Add(e);
        return e;
    }

    internal Element AddChain(params Element[] chain)
    {
        Element.LinkMany(chain);
        return chain[^1];
    }

    internal void Play()
    {
        if (Pipeline.SetState(State.Playing) == StateChange.Failure)
            throw new InvalidOperationException("pipeline failed to start: " + string.Join("; ", Errors));
    }

    private int _disposed;

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        Pipeline.SetState(State.Null);
        _bus.Dispose();
        foreach (var e in _owned) e.Dispose();
        Pipeline.Dispose();
    }
}
