using System.Runtime.InteropServices;

namespace MixerWorker.Pipeline.Interop;

// Bindings used per output frame (aggregator signals, typed property values, buffer lists). Kept apart from the
// string-based property path in GstObject.Set, which is too slow to run dozens of times per frame.
internal static partial class Native
{
    private const string GstLib = "libgstreamer-1.0.so.0";
    private const string GObjectLib = "libgobject-2.0.so.0";

    /// <summary>Maps a position in <paramref name="segment"/> (borrowed GstSegment*) to running time.</summary>
    [LibraryImport(GstLib)] internal static partial ulong gst_segment_to_running_time(nint segment, int format, ulong position);

    /// <summary>The pad's sticky event of <paramref name="type"/> (F: a new reference), or 0.</summary>
    [LibraryImport(GstLib)] internal static partial nint gst_pad_get_sticky_event(nint pad, int type, uint index);
    /// <summary>Points <paramref name="segment"/> at the event's segment (N: valid while the event lives).</summary>
    [LibraryImport(GstLib)] internal static partial void gst_event_parse_segment(nint segmentEvent, out nint segment);
    /// <summary>The buffer an aggregator pad contributes to the frame being made (N: borrowed, not to be unref'd), or 0; only valid during aggregation.</summary>
    [LibraryImport("libgstvideo-1.0.so.0")] internal static partial nint gst_video_aggregator_pad_get_current_buffer(nint pad);

    [LibraryImport(GstLib)] internal static partial uint gst_buffer_list_length(nint list);
    /// <summary>The buffer at <paramref name="index"/> (N: borrowed from the list).</summary>
    [LibraryImport(GstLib)] internal static partial nint gst_buffer_list_get(nint list, uint index);
    [LibraryImport(GstLib)] internal static partial nint gst_buffer_list_new_sized(uint size); // F
    /// <summary>Inserts <paramref name="buffer"/> (taking its reference) at <paramref name="index"/>, -1: at the end.</summary>
    [LibraryImport(GstLib)] internal static partial void gst_buffer_list_insert(nint list, int index, nint buffer);
    /// <summary>A new buffer of <paramref name="size"/> bytes in system memory (F); allocator and params 0: the defaults.</summary>
    [LibraryImport(GstLib)] internal static partial nint gst_buffer_new_allocate(nint allocator, nuint size, nint parameters);
    /// <summary>Copies <paramref name="size"/> bytes from <paramref name="offset"/> of the buffer to <paramref name="dest"/>; the bytes copied.</summary>
    [LibraryImport(GstLib)] internal static partial nuint gst_buffer_extract(nint buffer, nuint offset, nint dest, nuint size);
    /// <summary>Copies what <paramref name="flags"/> names (GstBufferCopyFlags) of <paramref name="source"/> into <paramref name="dest"/> (writable).</summary>
    [LibraryImport(GstLib)] [return: MarshalAs(UnmanagedType.I4)]
    internal static partial bool gst_buffer_copy_into(nint dest, nint source, int flags, nuint offset, nuint size);
    [LibraryImport(GstLib)] internal static partial nint gst_mini_object_ref(nint obj);
    /// <summary>Removes <paramref name="length"/> buffers from <paramref name="index"/> on (the list must be writable), dropping their references.</summary>
    [LibraryImport(GstLib)] internal static partial void gst_buffer_list_remove(nint list, uint index, uint length);

    // A caps event's caps, edited on a copy: an event's caps are shared and read-only.
    /// <summary>Points <paramref name="caps"/> at the event's caps (N: valid while the event lives).</summary>
    [LibraryImport(GstLib)] internal static partial void gst_event_parse_caps(nint capsEvent, out nint caps);
    [LibraryImport(GstLib)] internal static partial nint gst_caps_copy(nint caps); // F
    /// <summary>A new caps event (F); the caps are not taken (transfer none).</summary>
    [LibraryImport(GstLib)] internal static partial nint gst_event_new_caps(nint caps);
    [LibraryImport(GstLib, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial void gst_structure_remove_field(nint structure, string field);
    [LibraryImport(GstLib)] internal static partial nint gst_value_array_get_type();
    [LibraryImport(GstLib)] internal static partial uint gst_value_array_get_size(nint value);
    /// <summary>The GValue at <paramref name="index"/> of a GstValueArray GValue (N).</summary>
    [LibraryImport(GstLib)] internal static partial nint gst_value_array_get_value(nint value, uint index);

    // A picture's plane layout when its producer wrote one (GstVideoMeta); without it the layout is GStreamer's default.
    /// <summary>The buffer's first meta of the API type (N: borrowed from the buffer), or 0.</summary>
    [LibraryImport(GstLib)] internal static partial nint gst_buffer_get_meta(nint buffer, nint api);
    [LibraryImport(GstVideo)] internal static partial nint gst_video_meta_api_get_type();
    /// <summary>Adds a video meta (N: owned by the buffer); <paramref name="offsets"/> and <paramref name="strides"/> hold one per plane.</summary>
    [LibraryImport(GstVideo)] internal static partial nint gst_buffer_add_video_meta_full(nint buffer, int flags, int format,
        uint width, uint height, uint planes, nuint[] offsets, int[] strides);

    [LibraryImport(GObjectLib)] internal static partial void g_value_set_int(nint value, int v);
    [LibraryImport(GObjectLib)] internal static partial void g_value_set_uint(nint value, uint v);
    [LibraryImport(GObjectLib)] internal static partial void g_value_set_int64(nint value, long v);
    [LibraryImport(GObjectLib)] internal static partial void g_value_set_uint64(nint value, ulong v);
    [LibraryImport(GObjectLib)] internal static partial void g_value_set_float(nint value, float v);
    [LibraryImport(GObjectLib)] internal static partial void g_value_set_double(nint value, double v);
}
