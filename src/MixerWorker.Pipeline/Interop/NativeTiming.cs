using System.Runtime.InteropServices;

namespace MixerWorker.Pipeline.Interop;

// Live timing: the pipeline clock, latency answers and QoS events.
internal static partial class Native
{
    // Clock time minus base time; GST_CLOCK_TIME_NONE while the element has no clock (since 1.18).
    [LibraryImport("libgstreamer-1.0.so.0")] internal static partial ulong gst_element_get_current_running_time(nint element);
    // The latency an aggregator waits for (its own plus upstream's), GST_CLOCK_TIME_NONE when not live.
    [LibraryImport("libgstbase-1.0.so.0")] internal static partial ulong gst_aggregator_get_latency(nint aggregator);
    // Whether an aggregator's sink pad has a buffer queued as the next thing (an empty GAP buffer too).
    // Takes the pad's own lock, as the aggregator's thread does to look (since 1.14.1).
    [LibraryImport("libgstbase-1.0.so.0")]
    [return: MarshalAs(UnmanagedType.I4)]
    internal static partial bool gst_aggregator_pad_has_buffer(nint aggregatorPad);
    // The buffer an aggregator's sink pad would hand its aggregator next (the oldest it holds), or 0; a new
    // reference. Takes the pad's own lock, which the aggregator's thread does not hold while it waits (since 1.14).
    [LibraryImport("libgstbase-1.0.so.0")] internal static partial nint gst_aggregator_pad_peek_buffer(nint aggregatorPad);
    // Whether an aggregator's sink pad has had EOS and holds nothing more; under the pad's own lock.
    [LibraryImport("libgstbase-1.0.so.0")]
    [return: MarshalAs(UnmanagedType.I4)]
    internal static partial bool gst_aggregator_pad_is_eos(nint aggregatorPad);
    // What the pad's latest push returned (GstFlowReturn, 0 = OK); under the pad's object lock.
    [LibraryImport("libgstreamer-1.0.so.0")] internal static partial int gst_pad_get_last_flow_return(nint pad);
    [LibraryImport("libgstreamer-1.0.so.0")]
    internal static partial void gst_query_set_latency(nint query, [MarshalAs(UnmanagedType.I4)] bool live, ulong min, ulong max);
    // F: consumed by gst_pad_send_event. type: GstQOSType (0 overflow, 1 underflow, 2 throttle).
    [LibraryImport("libgstreamer-1.0.so.0")]
    internal static partial nint gst_event_new_qos(int type, double proportion, long diff, ulong timestamp);
}
