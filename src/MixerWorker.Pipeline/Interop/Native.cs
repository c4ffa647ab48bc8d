using System.Runtime.InteropServices;

namespace MixerWorker.Pipeline.Interop;

// The GStreamer, GObject and GLib functions the engine uses, bound with LibraryImport.
//
// Ownership rules (GStreamer 1.22 annotations), which every caller in this folder follows:
//   F  = transfer full: the caller owns the result and must unref/free it.
//   N  = transfer none: borrowed; never free it, copy it before the owner may go away.
//   fl = floating reference: sink it (gst_object_ref_sink) to own it, or hand it to gst_bin_add,
//        which sinks it.
// Strings: a `string` *return* would be freed by the marshaller with free(), which is wrong for
// both borrowed (N) and g_malloc'ed (F) strings, so every string result is bound as nint and copied
// with Utf8 helpers in NativeString; F strings are then released with g_free. `string` parameters
// are marshalled as UTF-8 and are safe.
internal static partial class Native
{
    private const string Gst = "libgstreamer-1.0.so.0";
    private const string GObject = "libgobject-2.0.so.0";
    private const string GLib = "libglib-2.0.so.0";
    private const string GstApp = "libgstapp-1.0.so.0";
    private const string GstVideo = "libgstvideo-1.0.so.0";

    // ---- lifecycle
    [LibraryImport(Gst)] [return: MarshalAs(UnmanagedType.I4)]
    internal static partial bool gst_init_check(nint argc, nint argv, out nint error); // error: F (g_error_free)
    [LibraryImport(Gst)] internal static partial void gst_version(out uint major, out uint minor, out uint micro, out uint nano);

    // ---- objects and elements
    [LibraryImport(Gst, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial nint gst_element_factory_make(string factory, string? name); // fl
    [LibraryImport(Gst, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial nint gst_element_factory_find(string name); // F
    [LibraryImport(Gst)] internal static partial nint gst_pipeline_new(nint name); // fl
    [LibraryImport(Gst, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial nint gst_bin_new(string name); // fl
    [LibraryImport(Gst)] internal static partial nint gst_object_ref(nint obj);
    [LibraryImport(Gst)] internal static partial nint gst_object_ref_sink(nint obj);
    [LibraryImport(Gst)] internal static partial void gst_object_unref(nint obj);
    [LibraryImport(Gst)] internal static partial nint gst_object_get_name(nint obj); // F string
    [LibraryImport(Gst)] internal static partial nint gst_object_get_path_string(nint obj); // F string
    [LibraryImport(Gst)] internal static partial nint gst_object_get_parent(nint obj); // F (may be 0)

    [LibraryImport(Gst)] [return: MarshalAs(UnmanagedType.I4)]
    internal static partial bool gst_bin_add(nint bin, nint element); // sinks a floating ref
    [LibraryImport(Gst)] [return: MarshalAs(UnmanagedType.I4)]
    internal static partial bool gst_bin_remove(nint bin, nint element); // drops the bin's ref
    [LibraryImport(Gst, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial nint gst_bin_get_by_name(nint bin, string name); // F
    [LibraryImport(Gst)] internal static partial nint gst_bin_iterate_recurse(nint bin); // F (gst_iterator_free)
    // Fills `item` (a GValue holding the element, owned by it: g_value_reset before the next call).
    [LibraryImport(Gst)] internal static partial int gst_iterator_next(nint iterator, nint item);
    [LibraryImport(Gst)] internal static partial void gst_iterator_resync(nint iterator);
    [LibraryImport(Gst)] internal static partial void gst_iterator_free(nint iterator);
    [LibraryImport(GObject)] internal static partial nint g_value_get_object(nint value); // N
    [LibraryImport(GObject)] internal static partial nint g_value_reset(nint value);

    [LibraryImport(Gst)] internal static partial int gst_element_set_state(nint element, int state);
    [LibraryImport(Gst)] internal static partial int gst_element_get_state(nint element, out int state, out int pending, ulong timeout);
    [LibraryImport(Gst)] [return: MarshalAs(UnmanagedType.I4)]
    internal static partial bool gst_element_sync_state_with_parent(nint element);
    [LibraryImport(Gst)] [return: MarshalAs(UnmanagedType.I4)]
    internal static partial bool gst_element_link(nint src, nint dest);
    [LibraryImport(Gst, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial nint gst_element_get_static_pad(nint element, string name); // F
    [LibraryImport(Gst, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial nint gst_element_request_pad_simple(nint element, string name); // F
    [LibraryImport(Gst)] internal static partial void gst_element_release_request_pad(nint element, nint pad); // caller's ref stays
    [LibraryImport(Gst)] [return: MarshalAs(UnmanagedType.I4)]
    internal static partial bool gst_element_send_event(nint element, nint ev); // consumes ev
    [LibraryImport(Gst)] internal static partial nint gst_element_get_bus(nint element); // F
    [LibraryImport(Gst)] [return: MarshalAs(UnmanagedType.I4)]
    internal static partial bool gst_element_add_pad(nint element, nint pad); // sinks a floating pad
    [LibraryImport(Gst)] internal static partial nint gst_element_get_factory(nint element); // N
    [LibraryImport(Gst)] internal static partial uint gst_plugin_feature_get_rank(nint feature);

    // ---- pads
    [LibraryImport(Gst, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial nint gst_ghost_pad_new(string name, nint target); // fl
    [LibraryImport(Gst)] [return: MarshalAs(UnmanagedType.I4)]
    internal static partial bool gst_pad_set_active(nint pad, [MarshalAs(UnmanagedType.I4)] bool active);
    [LibraryImport(Gst)] internal static partial int gst_pad_link(nint src, nint sink); // 0 = OK
    [LibraryImport(Gst)] [return: MarshalAs(UnmanagedType.I4)]
    internal static partial bool gst_pad_unlink(nint src, nint sink);
    [LibraryImport(Gst)] [return: MarshalAs(UnmanagedType.I4)]
    internal static partial bool gst_pad_is_linked(nint pad);
    [LibraryImport(Gst)] internal static partial nint gst_pad_get_peer(nint pad); // F
    [LibraryImport(Gst)] internal static unsafe partial void gst_pad_set_chain_function_full(nint pad,
        delegate* unmanaged<nint, nint, nint, int> chain, nint userData, delegate* unmanaged<nint, void> notify);
    [LibraryImport(Gst)] internal static unsafe partial void gst_pad_set_chain_list_function_full(nint pad,
        delegate* unmanaged<nint, nint, nint, int> chainList, nint userData, delegate* unmanaged<nint, void> notify);
    // The ghost pad's own chain functions (parent: N; buffer / list: F, taken).
    [LibraryImport(Gst)] internal static partial int gst_proxy_pad_chain_default(nint pad, nint parent, nint buffer);
    [LibraryImport(Gst)] internal static partial int gst_proxy_pad_chain_list_default(nint pad, nint parent, nint list);
    [LibraryImport(Gst)] internal static partial nint gst_pad_get_current_caps(nint pad); // F
    [LibraryImport(Gst)] internal static partial nint gst_pad_query_caps(nint pad, nint filter); // F
    [LibraryImport(Gst)] [return: MarshalAs(UnmanagedType.I4)]
    internal static partial bool gst_pad_send_event(nint pad, nint ev); // consumes ev
    [LibraryImport(Gst)] [return: MarshalAs(UnmanagedType.I4)]
    internal static partial bool gst_pad_push_event(nint pad, nint ev); // consumes ev
    [LibraryImport(Gst)] internal static unsafe partial nuint gst_pad_add_probe(nint pad, int mask,
        delegate* unmanaged<nint, nint, nint, int> callback, nint userData, delegate* unmanaged<nint, void> destroy);
    [LibraryImport(Gst)] internal static partial void gst_pad_remove_probe(nint pad, nuint id);
    [LibraryImport(Gst)] internal static partial nint gst_pad_probe_info_get_event(nint info); // N
    [LibraryImport(Gst)] internal static partial nint gst_pad_probe_info_get_buffer(nint info); // N
    [LibraryImport(Gst)] internal static partial nint gst_pad_probe_info_get_buffer_list(nint info); // N
    [LibraryImport(Gst)] internal static partial nuint gst_buffer_list_calculate_size(nint list);

    // ---- caps and structures
    [LibraryImport(Gst, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial nint gst_caps_from_string(string caps); // F
    [LibraryImport(Gst)] internal static partial nint gst_caps_to_string(nint caps); // F string
    [LibraryImport(Gst)] internal static partial void gst_caps_unref(nint caps);
    [LibraryImport(Gst)] internal static partial nint gst_caps_get_structure(nint caps, uint index); // N
    [LibraryImport(Gst)] internal static partial uint gst_caps_get_size(nint caps);
    [LibraryImport(Gst)] [return: MarshalAs(UnmanagedType.I4)]
    internal static partial bool gst_caps_is_equal(nint caps1, nint caps2);
    // caps: N (the query's own, 0 when it has none).
    [LibraryImport(Gst)] internal static partial void gst_query_parse_allocation(nint query, out nint caps, [MarshalAs(UnmanagedType.I4)] out bool needPool);
    [LibraryImport(Gst)] internal static partial nint gst_structure_get_name(nint structure); // N string

    // ---- events, buffers, samples
    [LibraryImport(Gst)] internal static partial nint gst_event_new_eos(); // F (consumed by send_event)
    [LibraryImport(Gst)] internal static partial nint gst_event_new_flush_start(); // F (consumed by send_event)
    [LibraryImport(Gst)] internal static partial nint gst_buffer_new(); // F
    [LibraryImport(Gst)] internal static partial nint gst_buffer_copy_deep(nint buffer); // F
    [LibraryImport(Gst)] [return: MarshalAs(UnmanagedType.I4)]
    internal static partial bool gst_buffer_is_all_memory_writable(nint buffer);
    [LibraryImport(Gst)] internal static partial int gst_pad_push(nint pad, nint buffer); // consumes buffer; GstFlowReturn
    [LibraryImport(Gst)] internal static partial void gst_mini_object_unref(nint obj);
    [LibraryImport(Gst)] internal static partial nuint gst_buffer_get_size(nint buffer);
    [LibraryImport(Gst)] [return: MarshalAs(UnmanagedType.I4)]
    internal static partial bool gst_buffer_map(nint buffer, nint mapInfo, int flags);
    [LibraryImport(Gst)] internal static partial void gst_buffer_unmap(nint buffer, nint mapInfo);
    [LibraryImport(Gst)] internal static partial nint gst_sample_get_buffer(nint sample); // N
    [LibraryImport(Gst)] internal static partial nint gst_sample_get_caps(nint sample); // N
    [LibraryImport(GstApp)] internal static partial nint gst_app_sink_try_pull_sample(nint appsink, ulong timeout); // F (or 0)
    [LibraryImport(GstVideo)] internal static partial nint gst_video_event_new_upstream_force_key_unit(
        ulong runningTime, [MarshalAs(UnmanagedType.I4)] bool allHeaders, uint count); // F
    [LibraryImport(GstVideo)] [return: MarshalAs(UnmanagedType.I4)]
    internal static partial bool gst_video_event_is_force_key_unit(nint ev);

    // ---- bus and messages
    [LibraryImport(Gst)] internal static partial nint gst_bus_timed_pop_filtered(nint bus, ulong timeout, int types); // F
    [LibraryImport(Gst)] [return: MarshalAs(UnmanagedType.I4)]
    internal static partial bool gst_bus_have_pending(nint bus);
    // The handler runs on whichever thread posts, before the message is queued; it returns a GstBusSyncReply
    // (0 drop, 1 pass) and must not keep the message. notify frees userData once no post can call it again.
    [LibraryImport(Gst)] internal static unsafe partial void gst_bus_set_sync_handler(nint bus,
        delegate* unmanaged<nint, nint, nint, int> handler, nint userData, delegate* unmanaged<nint, void> notify);
    [LibraryImport(Gst)] internal static partial void gst_message_unref(nint message);
    [LibraryImport(Gst)] internal static partial void gst_message_parse_error(nint message, out nint error, out nint debug); // F, F
    [LibraryImport(Gst)] internal static partial void gst_message_parse_warning(nint message, out nint error, out nint debug); // F, F
    [LibraryImport(Gst)] internal static partial void gst_message_parse_qos(nint message, [MarshalAs(UnmanagedType.I4)] out bool live,
        out ulong runningTime, out ulong streamTime, out ulong timestamp, out ulong duration);
    [LibraryImport(Gst)] internal static partial nint gst_message_new_application(nint src, nint structure); // F; takes the structure
    [LibraryImport(Gst, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial nint gst_structure_new_empty(string name); // F

    // ---- values (property access that reports failure, unlike gst_util_set_object_arg)
    [LibraryImport(Gst, StringMarshalling = StringMarshalling.Utf8)] [return: MarshalAs(UnmanagedType.I4)]
    internal static partial bool gst_value_deserialize(nint value, string text);
    [LibraryImport(Gst)] internal static partial nint gst_value_serialize(nint value); // F string

    // ---- GObject
    [LibraryImport(GObject, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial nint g_object_class_find_property(nint objectClass, string name); // N
    [LibraryImport(GObject)] internal static partial nint g_value_init(nint value, nint gtype);
    [LibraryImport(GObject)] internal static partial void g_value_unset(nint value);
    [LibraryImport(GObject, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial void g_value_set_string(nint value, string? text);
    [LibraryImport(GObject)] internal static partial nint g_value_get_string(nint value); // N string
    [LibraryImport(GObject, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial void g_object_set_property(nint obj, string name, nint value);
    [LibraryImport(GObject, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial void g_object_get_property(nint obj, string name, nint value);
    [LibraryImport(GObject)] internal static partial nint g_type_fundamental(nint gtype);
    [LibraryImport(GObject)] [return: MarshalAs(UnmanagedType.I4)]
    internal static partial bool g_param_value_validate(nint pspec, nint value); // true = value was out of range and got changed
    [LibraryImport(GObject)] internal static partial nint g_type_name(nint gtype); // N string
    [LibraryImport(GObject, StringMarshalling = StringMarshalling.Utf8)]
    internal static unsafe partial nuint g_signal_connect_data(nint instance, string signal, nint handler, nint data,
        delegate* unmanaged<nint, nint, void> destroyData, int flags);
    [LibraryImport(GObject)] internal static partial void g_signal_handler_disconnect(nint instance, nuint id);

    // ---- GLib
    [LibraryImport(GLib)] internal static partial void g_free(nint mem);
    [LibraryImport(GLib)] internal static partial void g_error_free(nint error);
    [LibraryImport(GLib)] internal static partial nint g_quark_to_string(uint quark); // N string
}

internal static partial class Native
{
    [LibraryImport("libgstreamer-1.0.so.0")] [return: MarshalAs(UnmanagedType.I4)]
    internal static partial bool gst_bin_recalculate_latency(nint bin);
}

// Feeding appsrc from a thread of our own (the SRT input reader, test images). gst_app_src_push_buffer
// is thread-safe and never blocks with block=false; it returns a GstFlowReturn (0 = OK, -2 = FLUSHING
// once appsrc is stopping) and takes the buffer in every case, so the caller never unrefs it.
internal static partial class Native
{
    [LibraryImport("libgstreamer-1.0.so.0")] internal static partial nint gst_buffer_new_memdup(nint data, nuint size); // F; copies data
    [LibraryImport("libgstapp-1.0.so.0")] internal static partial int gst_app_src_push_buffer(nint appsrc, nint buffer); // takes the buffer
    [LibraryImport("libgstapp-1.0.so.0")] internal static partial int gst_app_src_end_of_stream(nint appsrc);
}

internal static partial class Native
{
    [LibraryImport("libgstreamer-1.0.so.0", StringMarshalling = StringMarshalling.Utf8)]
    internal static partial nint gst_element_factory_make_with_properties(string factory, uint n, nint names, nint values); // fl
    [LibraryImport("libgobject-2.0.so.0")]
    internal static partial void g_value_set_boolean(nint value, [MarshalAs(UnmanagedType.I4)] bool v);
}

// Audio: lip-sync offsets.
internal static partial class Native
{
    // Shifts the running time of everything that leaves (or enters) the pad; takes effect with the
    // next buffer because the pad re-sends its sticky segment with the new offset.
    [LibraryImport("libgstreamer-1.0.so.0")] internal static partial void gst_pad_set_offset(nint pad, long offsetNs);
    [LibraryImport("libgstreamer-1.0.so.0")] internal static partial long gst_pad_get_offset(nint pad);

    // N: the GValue belongs to the structure, which belongs to the message; read it before the
    // message is unref'd and never unset or free it.
    [LibraryImport("libgstreamer-1.0.so.0", StringMarshalling = StringMarshalling.Utf8)]
    internal static partial nint gst_structure_get_value(nint structure, string field);
    // N: the boxed pointer stays owned by the GValue.
    [LibraryImport("libgobject-2.0.so.0")] internal static partial nint g_value_get_boxed(nint value);

    [LibraryImport("libgstreamer-1.0.so.0")] [return: MarshalAs(UnmanagedType.I4)]
    internal static partial bool gst_mini_object_is_writable(nint obj);
    // Takes the caller's reference (transfer full) and returns a writable object: the same one when
    // nobody else holds it, else a copy, with the original's reference dropped.
    [LibraryImport("libgstreamer-1.0.so.0")] internal static partial nint gst_mini_object_make_writable(nint obj);
    [LibraryImport("libgstreamer-1.0.so.0")] internal static partial nint gst_pad_probe_info_get_query(nint info); // N
}
