using MixerWorker.Pipeline.Interop;

namespace MixerWorker.Pipeline.Sources;

/// <summary>
/// Tells an input's H.264 parser that each buffer tsdemux hands on is one whole access unit, buffer by
/// buffer, while the stream keeps to it (<see cref="AccessUnitCheck"/>): probes on the demuxer's video pad
/// push caps with <c>alignment=au</c> ahead of a buffer that may be declared so, and the demuxer's own caps
/// again ahead of one that may not. On tsdemux's streaming thread.
/// </summary>
/// <remarks>
/// Told nothing, <c>h264parse</c> ends a picture only once the next one's first NAL has come: each picture
/// waited a frame interval there (p50 32 ms at 30 fps, bench/results/2026-12-02-0549-vm-latency-main.md).
/// </remarks>
internal sealed class AccessUnitWatch : IDisposable
{
    private const string Whole = ", alignment=(string)au";
    private readonly AccessUnitCheck _units = new();
    private readonly Func<ReadOnlySpan<byte>, bool> _next;
    private readonly Pad _pes;
    private readonly Action _trusted, _broke;
    private bool _everWhole;
    private readonly ProbeHandle _caps, _buffers;
    private string? _plainCaps;
    private volatile bool _toldWhole;

    /// <param name="pes">The demuxer's H.264 pad (a reference of the caller's; the watch takes its own).</param>
    /// <param name="trusted">Called once, when the parser is first told whole access units.</param>
    /// <param name="broke">Called once, when the stream first breaks the rule.</param>
    internal AccessUnitWatch(Graph graph, Pad pes, Action trusted, Action broke)
    {
        _pes = Pad.FromBorrowed(pes.Handle);
        _trusted = trusted;
        _broke = broke;
        _next = _units.Next;
        _caps = graph.AddProbe(_pes, ProbeType.EventDownstream, OnEvent);
        _buffers = graph.AddProbe(_pes, ProbeType.Buffer, OnBuffer);
    }

    /// <summary>Whether the parser was last told whole access units.</summary>
    internal bool ToldWhole => _toldWhole;
    /// <summary>Whether the stream broke the rule: nothing is declared for it any more.</summary>
    internal bool Broken => _units.Broken;

    // Every caps event on its way, the demuxer's and ours: what the parser was last told.
    private ProbeReturn OnEvent(ProbeInfo info)
    {
        if (info.EventCaps is not { } caps) return ProbeReturn.Ok;
        _toldWhole = caps.EndsWith(Whole, StringComparison.Ordinal);
        if (!_toldWhole) _plainCaps = caps;
        return ProbeReturn.Ok;
    }

    private ProbeReturn OnBuffer(ProbeInfo info)
    {
        var wasBroken = _units.Broken;
        var whole = info.AnyBytes(_next);
        if (whole != _toldWhole && _plainCaps is { } plain) _pes.PushCaps(whole ? plain + Whole : plain);
        if (whole && !_everWhole)
        {
            _everWhole = true;
            _trusted();
        }
        if (_units.Broken && !wasBroken) _broke();
        return ProbeReturn.Ok;
    }

    public void Dispose()
    {
        _buffers.Dispose();
        _caps.Dispose();
        _pes.Dispose();
    }
}
