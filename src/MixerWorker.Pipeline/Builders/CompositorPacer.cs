using MixerWorker.Pipeline.Interop;

namespace MixerWorker.Pipeline.Builders;

/// <summary>
/// Has a bus's compositor wait for its next frame's inputs rather than on the clock. A live aggregator that finds a
/// pad empty waits on the clock for its deadline, and every buffer reaching any of its pads ends that wait: it looks,
/// finds another pad still empty and waits again, about once per box picture and background buffer, 7–8 times per
/// frame on eight 360p buses, where each frame is made as soon as its last picture is in
/// (bench/results/2026-12-03-2300-vm-compositor-pacer-inputs-in.md). After each frame's push has returned (an idle probe
/// on the compositor's source pad, on its thread: the frame encoded and in the muxer), the pacer looks at the pads it
/// tracks (the background's and the boxes' the bus's director makes) and waits until each one that held nothing has
/// received a buffer or an event, woken by the last one only, or until a millisecond before the aggregator's own
/// deadline for the next frame (its running time plus the aggregator's latency), whichever comes first. The aggregator
/// then goes on as before, and decides alone whatever is left (a late input, the pads not tracked: veils, graphics,
/// cards, multiview tiles).
/// <para>
/// It never waits for a pad whose pictures come late (one ending before the frame the compositor makes next, as a starved
/// scaler or decoder brings them) until a second of them has come in time. The aggregator drops a late picture that is
/// in the pad's queue when it starts its next frame (GStreamer 1.22's skip_buffers), but shows one that comes while it
/// waits, a frame late, in place of the picture missing. Waiting here for such a pad, the aggregator found every late
/// picture already queued and dropped them all: a box fed by a scaler held to 22 pictures a second showed 10 a second
/// (OverloadTests). Left to the aggregator, it shows them as it did before the pacer.
/// </para>
/// </summary>
/// <remarks>
/// It waits only where the aggregator would have waited: never for a pad holding a buffer or at EOS, never past the
/// deadline, not after a frame the bus drops or a push not taken (downstream flushing or failed), not for a frame a
/// shedding bus does not make, and not once the pipeline or the bus is going down (<see cref="Graph.StateChanging"/>,
/// <see cref="Stop"/>): deactivating the compositor's source pad waits for its thread. Its lock is taken by the
/// compositor's thread (looking at the pads under it: nothing holds an aggregator pad's lock while it waits for a probe
/// of that pad), the threads bringing buffers (a probe per tracked pad) and the control thread (pads tracked and left).
/// </remarks>
internal sealed class CompositorPacer : IDisposable
{
    // Wakes this long before the aggregator's deadline, so the aggregator, not the pacer, makes a frame an input missed.
    private const long MarginNs = 1_000_000;
    // A pad whose pictures came late is waited for again after this many in time in a row: a second at 30 fps.
    private const int InTimeToWaitAgain = 30;

    private readonly Graph _graph;
    private readonly Element _compositor;
    private readonly Pad _src;
    private readonly ulong _frameNs;
    private readonly Func<TimeSpan> _latency;
    private readonly Func<ulong, bool> _makes;
    private readonly ProbeHandle _idle;
    private readonly object _lock = new();
    // Guarded by _lock.
    private Input[] _inputs = [];
    private int _missing;
    private bool _halted, _stopped;
    // Compositor streaming thread only: the frame just pushed, set before its push, read once after it.
    private int _pushingThread;
    private long _nextFrame = -1;
    // The running time of the frame the compositor makes next, for the threads bringing pictures.
    private long _frameDue = -1;
    private long _waits, _cutShort;

    /// <param name="latency">How long the aggregator waits past a frame's running time (its latency, upstream's included).</param>
    /// <param name="makes">Whether the bus makes its frame at a running time (<see cref="LatenessGuard.Makes"/>).</param>
    internal CompositorPacer(Graph graph, Element compositor, int fps, Func<TimeSpan> latency, Func<ulong, bool> makes)
    {
        _graph = graph;
        _compositor = compositor;
        _frameNs = ClockTime.Frame(fps);
        _latency = latency;
        _makes = makes;
        _src = compositor.StaticPad("src");
        graph.StateChanging += OnStateChanging;
        _idle = graph.AddProbe(_src, ProbeType.Idle, OnIdle);
    }

    /// <summary>Times the compositor's thread waited for its inputs, and of those, the waits the deadline ended. For tests and benches.</summary>
    internal (long Waits, long CutShort) Counts => (Interlocked.Read(ref _waits), Interlocked.Read(ref _cutShort));

    /// <summary>Waits for <paramref name="pad"/> (a sink pad of the compositor) after each frame. Control thread, after the pad is requested.</summary>
    internal void Track(Pad pad)
    {
        var input = new Input(Pad.FromBorrowed(pad.Handle));
        input.Probe = _graph.AddProbe(input.Pad, ProbeType.Buffer | ProbeType.BufferList | ProbeType.EventDownstream, info => Arrived(input, info));
        lock (_lock) _inputs = [.. _inputs, input];
    }

    /// <summary>Stops waiting for <paramref name="pad"/>; a wait under way goes on for the others. Control thread, before the pad is released.</summary>
    internal void Untrack(Pad pad)
    {
        Input? gone;
        lock (_lock)
        {
            gone = Array.Find(_inputs, i => i.Pad.Handle == pad.Handle);
            if (gone is null) return;
            _inputs = [.. _inputs.Where(i => i != gone)];
            Settle(gone);
        }
        gone.Probe?.Dispose();
        gone.Pad.Dispose();
    }

    /// <summary>Lets the compositor's thread go, and never holds it again: the bus is going down. Control thread.</summary>
    internal void Stop()
    {
        lock (_lock)
        {
            _stopped = true;
            Monitor.PulseAll(_lock);
        }
    }

    /// <summary>The compositor pushes its frame at <paramref name="runningTime"/> (one it keeps). Its streaming thread, before the push.</summary>
    internal void Pushing(ulong runningTime)
    {
        _pushingThread = Environment.CurrentManagedThreadId;
        _nextFrame = (long)(runningTime + _frameNs);
        Volatile.Write(ref _frameDue, _nextFrame);
    }

    // Called when the pad is idle: by its streaming thread after each push (events too), and by whoever adds the probe.
    private ProbeReturn OnIdle(ProbeInfo info)
    {
        if (Environment.CurrentManagedThreadId != _pushingThread || _nextFrame < 0) return ProbeReturn.Ok;
        var next = (ulong)_nextFrame;
        _nextFrame = -1;
        if (_src.LastPushTaken && _makes(next)) AwaitInputs(next);
        return ProbeReturn.Ok;
    }

    private void AwaitInputs(ulong next)
    {
        var deadline = (long)next + _latency().Ticks * 100 - MarginNs;
        lock (_lock)
        {
            if (_halted || _stopped) return;
            _missing = 0;
            // A buffer on its way in now waits in its probe for this lock: it is not in the pad yet, so the pad
            // reads empty and the probe counts it once we wait.
            foreach (var input in _inputs)
            {
                input.Awaited = input.InTime >= InTimeToWaitAgain && !input.Pad.ReadyForAggregator;
                if (input.Awaited) _missing++;
            }
            if (_missing == 0) return;
            Interlocked.Increment(ref _waits);
            while (_missing > 0 && !_halted && !_stopped)
            {
                var leftMs = _compositor.RunningTimeNow() is { } now ? (deadline - (long)now) / 1_000_000 : 0;
                if (leftMs <= 0)
                {
                    Interlocked.Increment(ref _cutShort);
                    break;
                }
                Monitor.Wait(_lock, (int)Math.Min(leftMs, int.MaxValue));
            }
            foreach (var input in _inputs) input.Awaited = false;
            _missing = 0;
        }
    }

    // The thread bringing a tracked pad a buffer or an event, before the pad has it.
    private ProbeReturn Arrived(Input input, ProbeInfo info)
    {
        var late = info.BufferRunningTime(input.Pad) is { } rt && Volatile.Read(ref _frameDue) is var due and >= 0 &&
            rt + (ulong)(info.BufferDurationNs ?? (long)_frameNs) <= (ulong)due;
        lock (_lock)
        {
            if (late) input.InTime = 0;
            else if (info.BufferPts is not null && input.InTime < InTimeToWaitAgain) input.InTime++;
            Settle(input);
        }
        return ProbeReturn.Ok;
    }

    // The pad is waited for no more; the last one wakes the compositor's thread. Caller holds _lock.
    private void Settle(Input input)
    {
        if (!input.Awaited) return;
        input.Awaited = false;
        if (--_missing == 0) Monitor.Pulse(_lock);
    }

    private void OnStateChanging(State state)
    {
        lock (_lock)
        {
            _halted = state != State.Playing;
            Monitor.PulseAll(_lock);
        }
    }

    public void Dispose()
    {
        Stop();
        _graph.StateChanging -= OnStateChanging;
        _idle.Dispose();
        Input[] inputs;
        lock (_lock) (inputs, _inputs) = (_inputs, []);
        foreach (var input in inputs)
        {
            input.Probe?.Dispose();
            input.Pad.Dispose();
        }
        _src.Dispose();
    }

    private sealed class Input(Pad pad)
    {
        internal Pad Pad { get; } = pad;
        internal ProbeHandle? Probe { get; set; }
        // Guarded by the pacer's lock: the compositor's thread waits for this pad's next buffer or event.
        internal bool Awaited { get; set; }
        // Guarded by the pacer's lock: its pictures in time in a row since the last late one (waited for from InTimeToWaitAgain).
        internal int InTime { get; set; } = InTimeToWaitAgain;
    }
}
