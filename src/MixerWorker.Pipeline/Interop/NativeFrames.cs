using System.Runtime.InteropServices;

namespace MixerWorker.Pipeline.Interop;

// Bindings used per output frame (aggregator signals, typed property values). Kept apart from the
// string-based property path in GstObject.Set, which is too slow to run dozens of times per frame.
internal static partial class Native
{
    private const string GstLib = "libgstreamer-1.0.so.0";
    private const string GObjectLib = "libgobject-2.0.so.0";

    /// <summary>Maps a position in <paramref name="segment"/> (borrowed GstSegment*) to running time.</summary>
    [LibraryImport(GstLib)] internal static partial ulong gst_segment_to_running_time(nint segment, int format, ulong position);

    [LibraryImport(GObjectLib)] internal static partial void g_value_set_int(nint value, int v);
    [LibraryImport(GObjectLib)] internal static partial void g_value_set_uint(nint value, uint v);
    [LibraryImport(GObjectLib)] internal static partial void g_value_set_int64(nint value, long v);
    [LibraryImport(GObjectLib)] internal static partial void g_value_set_uint64(nint value, ulong v);
    [LibraryImport(GObjectLib)] internal static partial void g_value_set_float(nint value, float v);
    [LibraryImport(GObjectLib)] internal static partial void g_value_set_double(nint value, double v);
}
