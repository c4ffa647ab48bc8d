namespace MixerWorker.Pipeline.Interop;

/// <summary>The pipeline clock as the live timing code reads it, and the QoS events it sends.</summary>
internal static class LiveTime
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
    /// Tells the element upstream of <paramref name="srcPad"/> that the data it made for
    /// <paramref name="runningTime"/> came <paramref name="lateNs"/> too late, the way a sink does:
    /// an aggregator then skips making output until it has caught up.
    /// </summary>
    internal static bool SendLateness(this Pad srcPad, ulong runningTime, long lateNs) =>
        srcPad.SendEvent(Native.gst_event_new_qos(1 /* GST_QOS_TYPE_UNDERFLOW */, 1.0, lateNs, runningTime));
}
