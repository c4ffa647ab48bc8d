using System.Runtime.InteropServices;

namespace MixerWorker.Pipeline.Interop;

/// <summary>The pipeline clock as the live timing code reads it, and the QoS and gap events it sends.</summary>
internal static unsafe class LiveTime
{
    /// <summary>The element's running time now (clock minus base time), or null before it has a clock.</summary>
    internal static ulong? RunningTimeNow(this Element element)
    {
        var now = Native.gst_element_get_current_running_time(element.Handle);
        return now == Abi.ClockTimeNone ? null : now;
    }

    /// <summary>How long an aggregator (compositor, audiomixer) waits past a frame's running time: its own latency plus upstream's; null when it does not wait for the clock.</summary>
    internal static TimeSpan? AggregatorLatency(this Element aggregator)
    {
        var ns = Native.gst_aggregator_get_latency(aggregator.Handle);
        return ns == Abi.ClockTimeNone ? null : ClockTime.ToTimeSpan((long)ns);
    }

    /// <summary>
    /// The running time that the oldest buffer a TS muxer's (mpegtsmux's) sink pad holds starts at, or null when it holds
    /// none: with the end of its newest, what the muxer counts as the pad's fill. Looking clips that buffer as the muxer's
    /// own look does, and the muxer's clipping puts its PTS in running time (GStreamer 1.22 to 1.26).
    /// </summary>
    internal static ulong? OldestHeldRunningTime(this Pad tsMuxSinkPad)
    {
        var buffer = Native.gst_aggregator_pad_peek_buffer(tsMuxSinkPad.Handle);
        if (buffer == 0) return null;
        var pts = Abi.Read<ulong>(buffer, Abi.BufferPtsOffset);
        Native.gst_mini_object_unref(buffer);
        return pts == Abi.ClockTimeNone ? null : pts;
    }

    /// <summary>
    /// Tells the element upstream of <paramref name="srcPad"/> that the data it made for
    /// <paramref name="runningTime"/> came <paramref name="lateNs"/> too late, the way a sink does:
    /// an aggregator then skips making output until it has caught up.
    /// </summary>
    internal static bool SendLateness(this Pad srcPad, ulong runningTime, long lateNs) =>
        srcPad.SendEvent(Native.gst_event_new_qos(1 /* GST_QOS_TYPE_UNDERFLOW */, 1.0, lateNs, runningTime));

    /// <summary>
    /// Tells what is downstream of <paramref name="srcPad"/> that its stream has nothing from
    /// <paramref name="pts"/> for <paramref name="durationNs"/>, right after the buffer being pushed
    /// through it now has been handed on: call from a probe on its peer, while that push is under way
    /// (sent from the probe itself, it would overtake that buffer). It is told with an empty buffer
    /// flagged GAP, what an aggregator makes of a GAP event (and mpegtsmux writes nothing for), pushed
    /// like any buffer: a GAP event would be turned into that buffer on the aggregator's own thread,
    /// which then waits for room in the pad's queue that only it can make. On a pad found idle (no push
    /// under way) it goes as <see cref="SendGapAside"/> sends it.
    /// Only for a pad that one thread pushes through: the gap is pushed from an idle probe's callback,
    /// and GStreamer (1.22 to 1.26) holds every push through a pad with any probe while an idle callback
    /// runs on it, and wakes the pushes held only when a probe comes or goes, not when that callback
    /// returns. A second thread's push held there waits until the next probe, and a callback whose
    /// pad holds another probe (the second thread's gap still to come) waits in its own push for itself.
    /// </summary>
    internal static void SendGapAfterThisPush(this Pad srcPad, ulong pts, ulong durationNs)
    {
        var pending = (nint*)NativeMemory.Alloc((nuint)(2 * sizeof(nint)));
        pending[0] = NewGap(pts, durationNs);
        pending[1] = Native.gst_object_ref(srcPad.Handle);
        // An idle probe added while the pad pushes runs on the pushing thread as soon as the push returns.
        Native.gst_pad_add_probe(srcPad.Handle, (int)ProbeType.Idle, &PushGap, (nint)pending, &ReleaseGap);
    }

    /// <summary>
    /// The same gap, pushed through <paramref name="srcPad"/> by a thread of its own, for a pad that more
    /// than one thread pushes through, or for a thread that feeds another stream into the same aggregator
    /// (a bus's sound into its muxer): that thread must never wait for the aggregator's pad. The thread
    /// pushing through <paramref name="srcPad"/> holds that pad's stream lock while it waits for room in
    /// its queue, and the room comes only once the aggregator has the other stream's next data: pushed by
    /// the other stream's thread, the gap would wait for that lock and the data behind it would never come
    /// (mpegtsmux has no live timeout). Called from a probe on the aggregator's pad while a buffer goes in,
    /// the gap follows that buffer: the probe runs under the pad's stream lock, which the gap's push takes.
    /// No probe of ours waits on the pad (<see cref="SendGapAfterThisPush"/> says why that matters). A gap
    /// still waiting when another comes for the same pad goes with the one that reaches further (it tells
    /// all the other did).
    /// </summary>
    internal static void SendGapAside(this Pad srcPad, ulong pts, ulong durationNs) =>
        QueueAside(Native.gst_object_ref(srcPad.Handle), NewGap(pts, durationNs));

    // Takes over a reference to `pad` and `gap`.
    private static void QueueAside(nint pad, nint gap)
    {
        lock (AsideLock)
        {
            if (Aside.TryGetValue(pad, out var older))
            {
                Native.gst_object_unref(pad);
                if (End(older) > End(gap))
                {
                    Native.gst_mini_object_unref(gap);
                    return;
                }
                Native.gst_mini_object_unref(older);
            }
            Aside[pad] = gap;
            if (AsideThread is null)
            {
                AsideThread = new Thread(PushAside) { IsBackground = true, Name = "gaps" };
                AsideThread.Start();
            }
        }
        AsideWaiting.Release();
    }

    /// <summary>Whether a gap sent aside through <paramref name="srcPad"/> still waits for the gap thread to take it.</summary>
    internal static bool HasGapWaitingAside(this Pad srcPad)
    {
        lock (AsideLock) return Aside.ContainsKey(srcPad.Handle);
    }

    private static readonly Lock AsideLock = new();
    // Pads (a reference of our own each) and the gap to push through each.
    private static readonly Dictionary<nint, nint> Aside = [];
    private static readonly SemaphoreSlim AsideWaiting = new(0);
    private static Thread? AsideThread;

    private static void PushAside()
    {
        while (true)
        {
            AsideWaiting.Wait();
            nint pad, gap;
            lock (AsideLock)
            {
                if (Aside.Count == 0) continue;
                (pad, gap) = Aside.First();
                Aside.Remove(pad);
            }
            Native.gst_pad_push(pad, gap);
            Native.gst_object_unref(pad);
        }
    }

    private static ulong End(nint gap) => Abi.Read<ulong>(gap, Abi.BufferPtsOffset) + Abi.Read<ulong>(gap, Abi.BufferDurationOffset);

    private static nint NewGap(ulong pts, ulong durationNs)
    {
        var gap = Native.gst_buffer_new();
        Abi.Write(gap, Abi.BufferPtsOffset, pts);
        Abi.Write(gap, Abi.BufferDurationOffset, durationNs);
        Abi.Write(gap, Abi.MiniObjectFlagsOffset, Abi.Read<uint>(gap, Abi.MiniObjectFlagsOffset) | (uint)(Abi.BufferFlagGap | Abi.BufferFlagDroppable));
        return gap;
    }

    [UnmanagedCallersOnly]
    private static int PushGap(nint pad, nint info, nint pending)
    {
        // Removed before it pushes: the push ends idle too, and would call it again, and again.
        var buffer = Native.gst_mini_object_ref(((nint*)pending)[0]);
        var target = Native.gst_object_ref(((nint*)pending)[1]);
        Native.gst_pad_remove_probe(pad, Abi.Read<nuint>(info, Abi.ProbeInfoIdOffset));
        // Found idle when the probe was added, GStreamer calls it at once, from gst_pad_add_probe, and
        // holds every push through the pad that meets a probe until it returns: this one's too, for good,
        // should the pad have any other probe. The gap goes aside.
        if (((ProbeType)Abi.Read<int>(info, Abi.ProbeInfoTypeOffset) & ProbeType.Push) == 0)
        {
            QueueAside(target, buffer);
            return (int)ProbeReturn.Ok;
        }
        Native.gst_pad_push(target, buffer);
        Native.gst_object_unref(target);
        return (int)ProbeReturn.Ok;
    }

    // The probe's own references, when it is removed (after pushing, or with the pad, unpushed).
    [UnmanagedCallersOnly]
    private static void ReleaseGap(nint pending)
    {
        Native.gst_mini_object_unref(((nint*)pending)[0]);
        Native.gst_object_unref(((nint*)pending)[1]);
        NativeMemory.Free((void*)pending);
    }
}
