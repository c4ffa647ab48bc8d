using System.Runtime.InteropServices;

namespace MixerWorker.Pipeline.Interop;

/// <summary>
/// Keeps an encoder from being asked how to allocate for caps it has not accepted. x264enc answers an
/// allocation query by asking libx264 how many frames it holds back, on the encoder it opens when it
/// accepts its caps: one that refused them (settings libx264 cannot open) passes a null encoder, and
/// the process dies (SIGSEGV in x264_encoder_maximum_delayed_frames; GStreamer 1.22 and 1.26 alike).
/// Most elements never send that query past a refusal: a serialized query leaving a source pad first
/// sends the pad's caps again, and fails with them. A tee does: it puts the query to each branch's
/// peer pad itself, and a bus's raw tee feeds its encoder. The refused query tells the element asking
/// to allocate without the encoder's advice; the caps it refused fail its next buffer as before, and
/// that error is what moves the bus to the next encoder.
/// </summary>
internal static unsafe class AllocationGuard
{
    /// <summary>
    /// Refuses, on <paramref name="element"/>'s sink pad, every allocation query for caps other than
    /// those the pad accepted (a sink pad keeps a caps event only once its element took it). Lives as
    /// long as the pad; holds nothing.
    /// </summary>
    internal static void RefuseAllocationForUnacceptedCaps(this Element element)
    {
        using var sink = element.StaticPad("sink");
        Native.gst_pad_add_probe(sink.Handle, (int)(ProbeType.QueryDownstream | ProbeType.Push), &OnQuery, 0, null);
    }

    // Runs on whichever thread queries (a streaming thread); touches nothing but the pad and the query.
    [UnmanagedCallersOnly]
    private static int OnQuery(nint pad, nint info, nint data)
    {
        var query = Native.gst_pad_probe_info_get_query(info);
        if (query == 0 || (QueryType)Abi.Read<int>(query, Abi.QueryTypeOffset) != QueryType.Allocation) return (int)ProbeReturn.Ok;
        Native.gst_query_parse_allocation(query, out var asked, out _);
        var accepted = Native.gst_pad_get_current_caps(pad);
        try
        {
            // Drop, for a query: not passed on, and answered "no" (Handled would answer "yes").
            return accepted != 0 && asked != 0 && Native.gst_caps_is_equal(accepted, asked) ? (int)ProbeReturn.Ok : (int)ProbeReturn.Drop;
        }
        finally
        {
            if (accepted != 0) Native.gst_caps_unref(accepted);
        }
    }
}
