using System.Diagnostics;
using MixerWorker.Pipeline.Interop;
using MixerWorker.Pipeline.Scene;

namespace MixerWorker.Pipeline.Builders;

/// <summary>
/// A bus's way in for its sound: a branch of a mix chain's tee (<see cref="BusAudio"/>, maybe shared
/// with other buses) → the bus's muxer, pushed by the chain's own thread. A muxer that holds its sound
/// (waiting for pictures) never holds the chain, and every other bus on it, back: past a bound the bus's
/// sound is dropped before it (<see cref="MayHold"/>).
/// Moving to another chain is seamless: chains run on the same clock, so the bus switches where, by
/// running time, the new one's sound takes over from the old one's (<see cref="SoundSeam"/>), and until
/// then hears the old one (<see cref="Hear"/>).
/// </summary>
internal sealed class SoundFeed : IDisposable
{
    private readonly Graph _graph;
    private readonly Element _entry, _pass;
    private readonly Pad _entrySink;
    private readonly ProbeHandle _caps;
    private readonly Pad? _muxAudio;
    private readonly Action<LevelReading> _meter;
    private Pad? _teePad;

    /// <summary>The chain the bus hears now.</summary>
    internal BusAudio? Current { get; private set; }
    /// <summary>The chain the bus is to hear: <see cref="Current"/>, or one it moves to at the seam.</summary>
    internal BusAudio? Target { get; private set; }
    /// <summary>The entry's output into the muxer, where the bus's own checks on its sound sit.</summary>
    internal Pad Output { get; }
    /// <summary>The pad whose push carries each block through <see cref="Output"/>: what follows a block goes after its push here.</summary>
    internal Pad Through { get; }
    internal Element Entry => _entry;
    /// <summary>Whether the muxer has the sound's caps, so it announces the stream with its sound (<see cref="BusBranch"/>). Any thread.</summary>
    internal bool AtMuxer => _muxAudio?.CurrentCaps() is not null;
    /// <summary>
    /// Whether the bus hears its chain alone, so its director may set the chain's gains per frame
    /// (a crossfade, the end of a cut); a shared chain keeps the gains its buses' definitions give it.
    /// </summary>
    internal volatile bool Alone;

    /// <param name="meter">Gets the level of the sound the bus hears (<see cref="BusAudio.Listen"/>).</param>
    internal SoundFeed(Graph graph, ElementName bus, TimeSpan heldMost, Element mux, Action<LevelReading> meter)
    {
        _graph = graph;
        _meter = meter;
        _lookAtSeam = LookAtSeam;
        // No queue: the chain's thread pushes into the muxer itself. Starved of CPU, a queue's thread
        // waited for the next quota period before the muxer had the sound, and the bus's pictures waited
        // at the muxer for it. What the queue was for, a chain never held back by one bus's muxer, the
        // bound below keeps.
        HoldAtMost(heldMost);
        var name = bus.Child("asound");
        _entry = Element.NewBin(name);
        _pass = Element.Make("identity", name.Child("pass"));
        _pass.Set("signal-handoffs", false);
        _entry.Add(_pass);
        using (var passSink = _pass.StaticPad("sink")) _entrySink = Pad.Ghost("sink", passSink);
        Through = _pass.StaticPad("src");
        Output = Pad.Ghost("src", Through);
        // A refusal from the muxer (stopped, failed) reaches the chain's thread in the same push; handed
        // back to the chain's tee it would stop the chain, and every bus sharing it would lose its sound
        // with this one. The bin's pad answers OK instead, and drops the bus's sound from then on.
        graph.StopRefusals(_entrySink, () => false);
        _entry.AddPad(_entrySink);
        _entry.AddPad(Output);
        graph.Add(_entry);
        _entry.Link(mux);
        // Every chain the bus may hear makes the same format (AudioMixKey: codec, bitrate), and each
        // brings its own caps along when the bus moves to it. GStreamer 1.22's TS muxer takes any caps
        // event on an Opus stream it already has as a change of stream type and errors ("Stream type
        // change from 06 to 8f"): the muxer's first caps are its last.
        _muxAudio = Output.Peer();
        _caps = graph.AddProbe(Output, ProbeType.EventDownstream, info =>
            info.Event == EventType.Caps && _muxAudio?.CurrentCaps() is not null ? ProbeReturn.Drop : ProbeReturn.Ok);
    }

    // The muxer holds up to its latency of each stream (plus the least upstream latency) and then blocks the
    // thread that pushes more: here the chain's, which other buses may share. Past a bound on what it holds
    // (the muxer stopped, its output connecting or gone, its pictures stopped) the sound is dropped here
    // instead. Not counted as sound dropped late: no reader gets this bus's output meanwhile. What the muxer
    // holds is measured as it measures it, by running time from the start of the oldest buffer its sound pad
    // holds to the end of this block, not as the blocks' durations added up: sound dropped late between them
    // (a machine short of CPU) leaves holes that count too, and a muxer stopped after such holes filled its
    // latency with fewer blocks and blocked the chain. A muxer whose sound pad is empty holds nothing,
    // whatever it last wrote. Read from the pad itself, not counted from the muxer's last write: what it
    // still held when it wrote (a picture, while its sound pad was full) went uncounted, and with a bound at
    // the muxer's own latency (GStreamer 1.26) a stopped muxer's pad filled and held the chain, and every
    // other bus on it lost its sound. A block dropped late is followed by an empty GAP buffer all the same
    // (BusBranch), which the muxer takes in and writes nothing for, and which counts like a block.
    private long _heldMostNs;

    /// <summary>Sets the most sound the muxer may hold before the chain's thread would wait at it. Control thread.</summary>
    internal void HoldAtMost(TimeSpan most) => Interlocked.Exchange(ref _heldMostNs, most.Ticks * 100);

    /// <summary>
    /// Whether a block of sound from <paramref name="startNs"/> (running time), <paramref name="durationNs"/>
    /// long, may go into the muxer, the last check on its way there (sound dropped by an earlier one is not
    /// held; of a block dropped late, the gap that says where it ended). The chain's streaming thread.
    /// </summary>
    internal bool MayHold(long startNs, long durationNs)
    {
        var from = _muxAudio?.OldestHeldRunningTime() is { } oldest && (long)oldest < startNs ? (long)oldest : startNs;
        return startNs + durationNs - from <= Interlocked.Read(ref _heldMostNs);
    }

    // The running time the sound handed to the muxer reaches, -1 before the first: written by the chain's
    // thread, read by the control thread to place the seam.
    private long _heardEndNs = -1;
    // A move waiting for its seam, and whether a look at it is posted to the control thread.
    private volatile PendingMove? _pending;
    private int _lookPosted;
    private readonly Action _lookAtSeam;

    private sealed class PendingMove(BusAudio chain, Action<Action> toControlThread, Action moved)
    {
        internal BusAudio Chain => chain;
        internal Action<Action> ToControlThread => toControlThread;
        internal Action Moved => moved;
        // When the chain was first seen with sound (Stopwatch ticks), 0 before.
        internal long SoundSince;
    }

    /// <summary>
    /// Whether a block of sound from <paramref name="startNs"/> (running time) may go on into the muxer:
    /// not sound from before what it already has (what a move overlaps, <see cref="SoundSeam.Covered"/>).
    /// The chain's streaming thread.
    /// </summary>
    internal bool Takes(long startNs, long durationNs)
    {
        if (SoundSeam.Covered(startNs, Interlocked.Read(ref _heardEndNs))) return false;
        Interlocked.Exchange(ref _heardEndNs, startNs + durationNs);
        // The old chain caught up a block: maybe as far as the new one.
        if (_pending is not null) _lookAtSeam();
        return true;
    }

    /// <summary>
    /// Makes the bus hear <paramref name="chain"/>: at once if it hears nothing yet, else on the control
    /// thread (<paramref name="toControlThread"/>) at the seam, once the chain has sound (<see cref="SoundSeam.MayMove"/>);
    /// <paramref name="moved"/> runs there after each move, for the chain left behind. Control thread.
    /// </summary>
    internal void Hear(BusAudio chain, Action<Action> toControlThread, Action moved)
    {
        Target = chain;
        if (_pending?.Chain == chain) return;
        StopWaiting();
        if (Current == chain) return;
        if (Current is null)
        {
            MoveTo(chain);
            moved();
            return;
        }
        _pending = new PendingMove(chain, toControlThread, moved);
        chain.Watch(_lookAtSeam);
        MoveAtSeam();
    }

    // Any thread: each block either chain hands on may bring the seam.
    private void LookAtSeam()
    {
        if (_pending is not { } pending || Interlocked.Exchange(ref _lookPosted, 1) == 1) return;
        pending.ToControlThread(() =>
        {
            Interlocked.Exchange(ref _lookPosted, 0);
            MoveAtSeam();
        });
    }

    // Control thread.
    private void MoveAtSeam()
    {
        if (_pending is not { } pending) return;
        if (Target != pending.Chain || _teePad is null)
        {
            StopWaiting();
            return;
        }
        if (!MayMove(pending)) return;
        // The new chain's thread waits at its tee while the seam is placed again and the bus takes its branch there: a
        // block handed on in between (a chain catching up in a burst, a control thread a loaded machine held) reached
        // the other buses on the chain and not this one, a hole past the seam (seen: 36.9 ms for at most 27.5).
        using (pending.Chain.HoldAtTee())
        {
            if (!MayMove(pending)) return;
            StopWaiting();
            MoveTo(pending.Chain);
        }
        pending.Moved();
    }

    private bool MayMove(PendingMove pending)
    {
        var chainEnd = pending.Chain.EncodedEndNs;
        if (chainEnd >= 0 && pending.SoundSince == 0) pending.SoundSince = Stopwatch.GetTimestamp();
        var waited = pending.SoundSince == 0 ? TimeSpan.Zero : Stopwatch.GetElapsedTime(pending.SoundSince);
        return SoundSeam.MayMove(Interlocked.Read(ref _heardEndNs), chainEnd, waited);
    }

    /// <summary>
    /// Runs on the control thread as the bus moves, after it left its chain and before it takes the new one's branch
    /// (tests: a control thread held there, as a loaded machine holds it).
    /// </summary>
    internal Action? BetweenChains;

    private void StopWaiting()
    {
        if (_pending is not { } pending) return;
        pending.Chain.Unwatch(_lookAtSeam);
        _pending = null;
    }

    private void MoveTo(BusAudio chain)
    {
        Detach();
        BetweenChains?.Invoke();
        _teePad = chain.Output.RequestPad("src_%u");
        _teePad.Link(_entrySink);
        chain.Listen(_meter);
        Current = chain;
    }

    /// <summary>
    /// Takes the bus off its chain, before its queue or muxer stop: a tee whose branch answers
    /// "flushing" stops pushing altogether, and the chain may be shared.
    /// </summary>
    internal void Detach()
    {
        if (Current is not { } chain || _teePad is null) return;
        chain.Unlisten(_meter);
        _teePad.Unlink(_entrySink);
        chain.Output.ReleaseRequestPad(_teePad);
        _teePad.Dispose();
        _teePad = null;
        Current = null;
    }

    public void Dispose()
    {
        StopWaiting();
        Detach();
        Target = null;
        _caps.Dispose();
        _muxAudio?.Dispose();
        _entry.SetState(State.Null);
        _graph.Remove(_entry);
        _entrySink.Dispose();
        Output.Dispose();
        Through.Dispose();
        _pass.Dispose();
        _entry.Dispose();
    }
}
