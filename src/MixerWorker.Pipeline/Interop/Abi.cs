using System.Runtime.InteropServices;

namespace MixerWorker.Pipeline.Interop;

// Struct layouts and constants the bindings rely on, for GStreamer 1.22 on 64-bit Linux, checked
// against the headers with offsetof(). GStreamer exposes these through macros only, so they live
// here, in one place, and GstRuntime.SelfCheck() verifies the message layout at start-up.
internal static class Abi
{
    internal const int MessageTypeOffset = 64;   // GstMessage.type
    internal const int MessageSrcOffset = 80;    // GstMessage.src
    internal const int EventTypeOffset = 64;     // GstEvent.type
    internal const int QueryTypeOffset = 64;     // GstQuery.type
    internal const int MiniObjectFlagsOffset = 16;
    internal const int BufferPtsOffset = 72;     // GstBuffer.pts
    internal const int BufferDtsOffset = 80;     // GstBuffer.dts
    internal const int BufferDurationOffset = 88; // GstBuffer.duration
    internal const int ProbeInfoTypeOffset = 0;  // GstPadProbeInfo.type
    internal const int ProbeInfoIdOffset = 8;    // GstPadProbeInfo.id
    internal const int ProbeInfoDataOffset = 16; // GstPadProbeInfo.data
    internal const int MapInfoSize = 104;        // sizeof(GstMapInfo)
    internal const int MapInfoDataOffset = 16;
    internal const int MapInfoSizeOffset = 24;
    internal const int VideoMetaOffsetOffset = 48;  // GstVideoMeta.offset[4] (gsize)
    internal const int VideoMetaStrideOffset = 80;  // GstVideoMeta.stride[4] (gint)
    internal const int ParamSpecValueTypeOffset = 24; // GParamSpec.value_type
    internal const int GValueSize = 24;
    internal const int GErrorDomainOffset = 0, GErrorCodeOffset = 4, GErrorMessageOffset = 8;
    internal const int GValueTypeOffset = 0;          // GValue.g_type

    internal const int BufferFlagDeltaUnit = 8192;
    internal const int BufferFlagGap = 2048, BufferFlagDroppable = 4096;
    internal const int MapRead = 1, MapWrite = 2;
    internal const int BufferCopyFlags = 1, BufferCopyTimestamps = 2; // GstBufferCopyFlags
    internal const ulong ClockTimeNone = ulong.MaxValue;

    // G_TYPE_STRING is a fundamental type id (G_TYPE_MAKE_FUNDAMENTAL(16)).
    internal const nint GTypeString = 16 << 2;
    internal const nint GTypeBoolean = 5 << 2;
    internal const nint GTypeInt = 6 << 2, GTypeUInt = 7 << 2, GTypeInt64 = 10 << 2, GTypeUInt64 = 11 << 2;
    internal const nint GTypeFloat = 14 << 2, GTypeDouble = 15 << 2;
    internal const int FormatTime = 3;

    internal static unsafe T Read<T>(nint ptr, int offset) where T : unmanaged => *(T*)(ptr + offset);
    internal static unsafe void Write<T>(nint ptr, int offset, T value) where T : unmanaged => *(T*)(ptr + offset) = value;
}

internal enum State { VoidPending = 0, Null = 1, Ready = 2, Paused = 3, Playing = 4 }

internal enum StateChange { Failure = 0, Success = 1, Async = 2, NoPreroll = 3 }

[Flags]
internal enum MessageType
{
    Eos = 1, Error = 2, Warning = 4, Info = 8, StateChanged = 64, Application = 16384, Element = 32768,
    Latency = 524288, Qos = 16777216,
}

internal enum EventType { Eos = 28174, Caps = 12814, Segment = 17934, FlushStart = 2563, StreamStart = 10254, Qos = 48641 }

/// <summary>
/// Push: set on a probe's call while data passes (not on an idle probe's call from gst_pad_add_probe). In a
/// mask with a query type, Push is the call before the pad's own handler answers, Pull the one after an
/// answer (none after a refusal).
/// </summary>
[Flags]
internal enum ProbeType { Idle = 1, Block = 2, Buffer = 16, BufferList = 32, EventDownstream = 64, EventUpstream = 128, QueryDownstream = 512, QueryUpstream = 1024, Push = 4096, Pull = 8192 }

/// <summary>Handled: the probe answered the query (or consumed the data) itself.</summary>
internal enum ProbeReturn { Drop = 0, Ok = 1, Remove = 2, Pass = 3, Handled = 4 }

/// <summary>The queries a probe may answer (GST_QUERY_*): serialized downstream ones, and latency.</summary>
internal enum QueryType { Latency = 7683, Allocation = 35846, Drain = 46086 }

internal static class NativeString
{
    /// <summary>Copies a borrowed (transfer none) C string.</summary>
    internal static string? Borrowed(nint p) => p == 0 ? null : Marshal.PtrToStringUTF8(p);

    /// <summary>Copies and frees a g_malloc'ed (transfer full) C string.</summary>
    internal static string? Owned(nint p)
    {
        if (p == 0) return null;
        try { return Marshal.PtrToStringUTF8(p); }
        finally { Native.g_free(p); }
    }

    /// <summary>Copies the message of a GError and frees it; returns null for no error.</summary>
    internal static string? TakeError(nint error)
    {
        if (error == 0) return null;
        try
        {
            var domain = Borrowed(Native.g_quark_to_string(Abi.Read<uint>(error, Abi.GErrorDomainOffset)));
            var code = Abi.Read<int>(error, Abi.GErrorCodeOffset);
            var message = Borrowed(Abi.Read<nint>(error, Abi.GErrorMessageOffset));
            return $"{message} ({domain}#{code})";
        }
        finally { Native.g_error_free(error); }
    }
}
