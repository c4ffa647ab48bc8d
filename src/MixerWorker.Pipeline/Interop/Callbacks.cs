using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace MixerWorker.Pipeline.Interop;

/// <summary>Copies a buffer's bytes out, for a probe or an appsink.</summary>
internal static class BufferBytes
{
    /// <summary>A copy of <paramref name="buffer"/>'s bytes; null when it cannot be read.</summary>
    internal static unsafe byte[]? Copy(nint buffer)
    {
        var map = stackalloc byte[Abi.MapInfoSize];
        if (!Native.gst_buffer_map(buffer, (nint)map, Abi.MapRead)) return null;
        try
        {
            var size = (int)Abi.Read<nuint>((nint)map, Abi.MapInfoSizeOffset);
            return new ReadOnlySpan<byte>((void*)Abi.Read<nint>((nint)map, Abi.MapInfoDataOffset), size).ToArray();
        }
        finally { Native.gst_buffer_unmap(buffer, (nint)map); }
    }
}

/// <summary>What a pad probe callback may look at. Valid only during the callback.</summary>
internal readonly struct ProbeInfo(nint info)
{
    internal ProbeType Type => (ProbeType)Abi.Read<int>(info, Abi.ProbeInfoTypeOffset);

    internal EventType? Event
    {
        get
        {
            if ((Type & (ProbeType.EventDownstream | ProbeType.EventUpstream)) == 0) return null;
            var ev = Native.gst_pad_probe_info_get_event(info);
            return ev == 0 ? null : (EventType)Abi.Read<int>(ev, Abi.EventTypeOffset);
        }
    }

    internal QueryType? Query
    {
        get
        {
            if ((Type & (ProbeType.QueryDownstream | ProbeType.QueryUpstream)) == 0) return null;
            var query = Native.gst_pad_probe_info_get_query(info);
            return query == 0 ? null : (QueryType)Abi.Read<int>(query, Abi.QueryTypeOffset);
        }
    }

    internal nint Buffer => (Type & ProbeType.Buffer) != 0 ? Native.gst_pad_probe_info_get_buffer(info) : 0;

    /// <summary>Whether the probe holds a force-key-unit event (a request for a keyframe, or the notice of one).</summary>
    internal bool IsForceKeyUnit =>
        Event is not null && Native.gst_pad_probe_info_get_event(info) is var ev && ev != 0 && Native.gst_video_event_is_force_key_unit(ev);

    /// <summary>The caps of the caps event the probe holds, as a string; null for anything else.</summary>
    internal string? EventCaps
    {
        get
        {
            if (Event != EventType.Caps) return null;
            Native.gst_event_parse_caps(Native.gst_pad_probe_info_get_event(info), out var caps);
            return caps == 0 ? null : NativeString.Owned(Native.gst_caps_to_string(caps));
        }
    }

    /// <summary>
    /// Fills in the latency query the probe holds (<paramref name="max"/> null: no limit); the probe
    /// then returns <see cref="ProbeReturn.Handled"/>.
    /// </summary>
    internal void AnswerLatency(bool live, TimeSpan min, TimeSpan? max)
    {
        var query = Native.gst_pad_probe_info_get_query(info);
        if (query != 0) Native.gst_query_set_latency(query, live, ClockTime.FromTimeSpan(min), max is { } m ? ClockTime.FromTimeSpan(m) : Abi.ClockTimeNone);
    }

    /// <summary>The bytes in the buffer or buffer list the probe got; 0 for anything else.</summary>
    internal long DataSize
    {
        get
        {
            if ((Type & ProbeType.Buffer) != 0 && Buffer is var b && b != 0) return (long)Native.gst_buffer_get_size(b);
            if ((Type & ProbeType.BufferList) != 0 && Native.gst_pad_probe_info_get_buffer_list(info) is var l && l != 0)
                return (long)Native.gst_buffer_list_calculate_size(l);
            return 0;
        }
    }

    /// <summary>A copy of the bytes of the buffer the probe holds; null when it holds none.</summary>
    internal byte[]? CopyBufferData() => Buffer is var buffer && buffer != 0 ? BufferBytes.Copy(buffer) : null;

    internal ulong? BufferPts => BufferTime(Abi.BufferPtsOffset);
    internal ulong? BufferDts => BufferTime(Abi.BufferDtsOffset);
    internal long? BufferDurationNs => BufferTime(Abi.BufferDurationOffset) is { } d ? (long)d : null;

    private ulong? BufferTime(int offset)
    {
        var b = Buffer;
        if (b == 0) return null;
        var t = Abi.Read<ulong>(b, offset);
        return t == Abi.ClockTimeNone ? null : t;
    }

    /// <summary>The buffer's PTS as running time in <paramref name="pad"/>'s current segment.</summary>
    internal ulong? BufferRunningTime(Pad pad)
    {
        if (BufferPts is not { } pts) return null;
        var ev = Native.gst_pad_get_sticky_event(pad.Handle, (int)EventType.Segment, 0);
        if (ev == 0) return null;
        try
        {
            Native.gst_event_parse_segment(ev, out var segment);
            var rt = Native.gst_segment_to_running_time(segment, Abi.FormatTime, pts);
            return rt == Abi.ClockTimeNone ? null : rt;
        }
        finally { Native.gst_mini_object_unref(ev); }
    }

    /// <summary>
    /// The buffer, made writable (copied when shared) and put back into the probe info, for a probe
    /// that changes it in place; 0 when the probe did not get a buffer. Valid only during the callback.
    /// </summary>
    internal nint WritableBuffer()
    {
        var b = Buffer;
        if (b == 0 || Native.gst_mini_object_is_writable(b)) return b;
        // make_writable takes the reference the info holds and returns the one the push continues with.
        b = Native.gst_mini_object_make_writable(b);
        Abi.Write(info, Abi.ProbeInfoDataOffset, b);
        return b;
    }

    // The probe info holds the only reference the push (or event) goes on with: it takes the replacement's, and
    // the one it held of what it replaces is let go.
    private void PutInPlace(nint held, nint replacement)
    {
        Abi.Write(info, Abi.ProbeInfoDataOffset, replacement);
        Native.gst_mini_object_unref(held);
    }

    /// <summary>
    /// Puts a copy of the buffer the probe holds, its bytes included, in its place; false when the probe holds
    /// no buffer. For a buffer several threads take on from here: each one's own copy shares no memory with
    /// the others' (<see cref="Builders.BusBranch"/> says why).
    /// </summary>
    internal bool OwnCopy()
    {
        var b = Buffer;
        if (b == 0) return false;
        var copy = Native.gst_buffer_copy_deep(b);
        if (copy == 0) return false;
        PutInPlace(b, copy);
        return true;
    }

    /// <summary>
    /// Puts a new buffer holding a copy of <paramref name="data"/>, with the flags and timestamps of the buffer the probe
    /// holds, in its place: for a probe that changes how many bytes go on (tests: a feed that repacks its TS). False,
    /// and nothing changed, when the probe holds no buffer or the new one cannot be written.
    /// </summary>
    internal unsafe bool ReplaceBufferBytes(ReadOnlySpan<byte> data)
    {
        var b = Buffer;
        if (b == 0) return false;
        var replacement = Native.gst_buffer_new_allocate(0, (nuint)data.Length, 0);
        if (replacement == 0) return false;
        var map = stackalloc byte[Abi.MapInfoSize];
        if (!Native.gst_buffer_map(replacement, (nint)map, Abi.MapWrite))
        {
            Native.gst_mini_object_unref(replacement);
            return false;
        }
        data.CopyTo(new Span<byte>((void*)Abi.Read<nint>((nint)map, Abi.MapInfoDataOffset), data.Length));
        Native.gst_buffer_unmap(replacement, (nint)map);
        Native.gst_buffer_copy_into(replacement, b, Abi.BufferCopyFlags | Abi.BufferCopyTimestamps, 0, nuint.MaxValue);
        PutInPlace(b, replacement);
        return true;
    }

    /// <summary>Whether the buffer the probe holds, and every memory of it, has no other owner.</summary>
    internal bool HeldAlone => Buffer is var b and not 0 && Native.gst_mini_object_is_writable(b) && Native.gst_buffer_is_all_memory_writable(b);

    /// <summary>
    /// Replaces the buffer list the probe holds with one in which each buffer joins up to
    /// <paramref name="perBuffer"/> consecutive buffers of the old one (their bytes copied into one new
    /// buffer; timestamps and flags of the first), the buffers of <paramref name="before"/> (kept from an
    /// earlier list, see <see cref="KeepBufferList"/>) going first. A buffer not flagged DELTA_UNIT
    /// (where a muxer marks a keyframe's first packet) always begins a new one, so the mark survives
    /// the join (<see cref="StartAtKeyframe"/>). Nothing happens to a single buffer or a shorter list
    /// with nothing before it.
    /// </summary>
    /// <remarks>
    /// Copying a TS packet's 188 bytes costs less than moving its memory: gst_buffer_append first copies
    /// both buffers (the list still holds them) and gives each memory a second and third parent, about
    /// 0.8 % of all the worker's samples on eight buses in the muxers' threads (bench/results/*-mux-join-copy.md).
    /// </remarks>
    internal unsafe void JoinBufferList(int perBuffer, KeptBuffers? before = null)
    {
        var list = (Type & ProbeType.BufferList) != 0 ? Native.gst_pad_probe_info_get_buffer_list(info) : 0;
        if (list == 0) return;
        var first = before is null ? 0u : Native.gst_buffer_list_length(before.List);
        var length = first + Native.gst_buffer_list_length(list);
        if (length < 2) return;
        nint Borrowed(uint i) => i < first ? Native.gst_buffer_list_get(before!.List, i) : Native.gst_buffer_list_get(list, i - first);
        var joined = Native.gst_buffer_list_new_sized((uint)((length + perBuffer - 1) / perBuffer));
        var map = stackalloc byte[Abi.MapInfoSize];
        for (uint i = 0, j; i < length; i = j)
        {
            var head = Borrowed(i);
            var size = Native.gst_buffer_get_size(head);
            for (j = i + 1; j < Math.Min(length, i + (uint)perBuffer) && IsDelta(Borrowed(j)); j++)
                size += Native.gst_buffer_get_size(Borrowed(j));
            if (j == i + 1)
            {
                Native.gst_buffer_list_insert(joined, -1, Native.gst_mini_object_ref(head));
                continue;
            }
            var buffer = Native.gst_buffer_new_allocate(0, size, 0);
            Native.gst_buffer_copy_into(buffer, head, Abi.BufferCopyFlags | Abi.BufferCopyTimestamps, 0, nuint.MaxValue);
            if (Native.gst_buffer_map(buffer, (nint)map, Abi.MapWrite))
            {
                var data = Abi.Read<nint>((nint)map, Abi.MapInfoDataOffset);
                nuint at = 0;
                for (var k = i; k < j; k++)
                {
                    var part = Borrowed(k);
                    at += Native.gst_buffer_extract(part, 0, data + (nint)at, Native.gst_buffer_get_size(part));
                }
                Native.gst_buffer_unmap(buffer, (nint)map);
            }
            Native.gst_buffer_list_insert(joined, -1, buffer);
        }
        PutInPlace(list, joined);
    }

    /// <summary>
    /// A reference to the buffer list the probe holds, so that it can go out later with another
    /// (<see cref="JoinBufferList"/>) when the probe drops it now; null when the probe holds no list.
    /// </summary>
    internal KeptBuffers? KeepBufferList()
    {
        var list = (Type & ProbeType.BufferList) != 0 ? Native.gst_pad_probe_info_get_buffer_list(info) : 0;
        return list == 0 ? null : new KeptBuffers(Native.gst_mini_object_ref(list));
    }

    /// <summary>
    /// Whether <paramref name="test"/> holds for the bytes of the buffer, or of any buffer of the buffer
    /// list, the probe got, mapped for reading, in order; stops at the first that does.
    /// </summary>
    internal unsafe bool AnyBytes(Func<ReadOnlySpan<byte>, bool> test)
    {
        var list = (Type & ProbeType.BufferList) != 0 ? Native.gst_pad_probe_info_get_buffer_list(info) : 0;
        var count = list != 0 ? Native.gst_buffer_list_length(list) : 1u;
        var map = stackalloc byte[Abi.MapInfoSize];
        for (uint i = 0; i < count; i++)
        {
            var buffer = list != 0 ? Native.gst_buffer_list_get(list, i) : Buffer;
            if (buffer == 0 || !Native.gst_buffer_map(buffer, (nint)map, Abi.MapRead)) continue;
            try
            {
                if (test(new ReadOnlySpan<byte>((void*)Abi.Read<nint>((nint)map, Abi.MapInfoDataOffset), (int)Abi.Read<nuint>((nint)map, Abi.MapInfoSizeOffset))))
                    return true;
            }
            finally { Native.gst_buffer_unmap(buffer, (nint)map); }
        }
        return false;
    }

    /// <summary>
    /// Hands the bytes of the buffer, or of each buffer of the buffer list, the probe got to
    /// <paramref name="read"/>, mapped for reading; the span is valid only inside the call.
    /// </summary>
    internal void ReadBytes(ReadOnlySpanAction<byte> read) => AnyBytes(bytes =>
    {
        read(bytes);
        return false;
    });

    internal bool IsDeltaUnit => Buffer is var b && b != 0 && IsDelta(b);

    private static bool IsDelta(nint buffer) => (Abi.Read<uint>(buffer, Abi.MiniObjectFlagsOffset) & Abi.BufferFlagDeltaUnit) != 0;

    /// <summary>
    /// Keeps the buffer list the probe holds from its first buffer not flagged DELTA_UNIT on (mpegtsmux
    /// leaves the flag off the first TS packet it writes after a keyframe arrives), with the buffers of
    /// <paramref name="before"/> put first; false, and nothing changed, when no buffer starts a keyframe.
    /// A single buffer is kept as it is, when it starts one.
    /// </summary>
    internal bool StartAtKeyframe(KeptBuffers? before)
    {
        var list = (Type & ProbeType.BufferList) != 0 ? Native.gst_pad_probe_info_get_buffer_list(info) : 0;
        if (list == 0) return Buffer != 0 && !IsDeltaUnit;
        var length = Native.gst_buffer_list_length(list);
        uint first = 0;
        while (first < length && IsDelta(Native.gst_buffer_list_get(list, first))) first++;
        if (first == length) return false;
        if (first == 0 && before is null) return true;
        // make_writable takes the reference the info holds (a tee shares its lists) and returns the one the push continues with.
        list = Native.gst_mini_object_make_writable(list);
        Abi.Write(info, Abi.ProbeInfoDataOffset, list);
        if (first > 0) Native.gst_buffer_list_remove(list, 0, first);
        if (before is not null)
            for (var i = Native.gst_buffer_list_length(before.List); i-- > 0;)
                Native.gst_buffer_list_insert(list, 0, Native.gst_mini_object_ref(Native.gst_buffer_list_get(before.List, i)));
        return true;
    }

    /// <summary>
    /// For a probe holding a caps event whose caps carry stream headers (mpegtsmux's first PAT and PMT,
    /// in <c>streamheader</c>): puts a copy of the event without them in its place and returns the header
    /// buffers (a reference each, in order); null, and nothing changed, for anything else.
    /// </summary>
    internal KeptBuffers? TakeStreamHeaders()
    {
        if (Event != EventType.Caps) return null;
        var ev = Native.gst_pad_probe_info_get_event(info);
        Native.gst_event_parse_caps(ev, out var caps);
        if (caps == 0 || Native.gst_caps_get_size(caps) == 0) return null;
        var headers = Native.gst_structure_get_value(Native.gst_caps_get_structure(caps, 0), "streamheader");
        if (headers == 0 || Abi.Read<nint>(headers, Abi.GValueTypeOffset) != Native.gst_value_array_get_type()) return null;
        var count = Native.gst_value_array_get_size(headers);
        var kept = Native.gst_buffer_list_new_sized(count);
        for (uint i = 0; i < count; i++)
            if (Native.g_value_get_boxed(Native.gst_value_array_get_value(headers, i)) is var b && b != 0)
                Native.gst_buffer_list_insert(kept, -1, Native.gst_mini_object_ref(b));
        // The event's caps are shared: the copy loses the field, and a new event carries it on.
        var stripped = Native.gst_caps_copy(caps);
        Native.gst_structure_remove_field(Native.gst_caps_get_structure(stripped, 0), "streamheader");
        var replacement = Native.gst_event_new_caps(stripped);
        Native.gst_caps_unref(stripped);
        PutInPlace(ev, replacement);
        return new KeptBuffers(kept);
    }

    /// <summary>
    /// Maps the buffer (made writable first) and hands its bytes to <paramref name="use"/> as a span of
    /// <typeparamref name="T"/>, for a probe that changes samples in place; false when there is no
    /// buffer or it cannot be mapped. The span is valid only inside <paramref name="use"/>.
    /// </summary>
    internal unsafe bool MapWritable<T>(SpanAction<T> use) where T : unmanaged
    {
        var buffer = WritableBuffer();
        if (buffer == 0) return false;
        var map = stackalloc byte[Abi.MapInfoSize];
        if (!Native.gst_buffer_map(buffer, (nint)map, Abi.MapRead | Abi.MapWrite)) return false;
        try
        {
            var size = (int)Abi.Read<nuint>((nint)map, Abi.MapInfoSizeOffset);
            use(new Span<T>((void*)Abi.Read<nint>((nint)map, Abi.MapInfoDataOffset), size / sizeof(T)));
            return true;
        }
        finally { Native.gst_buffer_unmap(buffer, (nint)map); }
    }

    /// <summary>
    /// Puts a caps event carrying <paramref name="caps"/> in place of the caps event the probe holds; false, and
    /// nothing changed, when it holds none or the caps do not parse.
    /// </summary>
    internal bool ReplaceCaps(string caps)
    {
        if (Event != EventType.Caps) return false;
        var parsed = Native.gst_caps_from_string(caps);
        if (parsed == 0) return false;
        var replacement = Native.gst_event_new_caps(parsed);
        Native.gst_caps_unref(parsed);
        var ev = Native.gst_pad_probe_info_get_event(info);
        PutInPlace(ev, replacement);
        return true;
    }

    /// <summary>
    /// Maps the I420 picture the probe holds (made writable first) and hands its bytes and where its planes lie to
    /// <paramref name="use"/>, for a probe that changes the picture in place; false when there is no buffer or it
    /// cannot be mapped. The span is valid only inside <paramref name="use"/>.
    /// </summary>
    internal unsafe bool MapI420Writable(int width, int height, I420Action use)
    {
        var buffer = WritableBuffer();
        if (buffer == 0) return false;
        var planes = I420Planes.Of(buffer) ?? I420Planes.Default(width, height);
        var map = stackalloc byte[Abi.MapInfoSize];
        if (!Native.gst_buffer_map(buffer, (nint)map, Abi.MapRead | Abi.MapWrite)) return false;
        try
        {
            var size = (int)Abi.Read<nuint>((nint)map, Abi.MapInfoSizeOffset);
            if (size < planes.Size(height)) return false;
            use(new Span<byte>((void*)Abi.Read<nint>((nint)map, Abi.MapInfoDataOffset), size), planes);
            return true;
        }
        finally { Native.gst_buffer_unmap(buffer, (nint)map); }
    }
}

/// <summary>Where the three planes of an I420 picture lie in its bytes: offset and stride (bytes per row) of Y, U and V.</summary>
internal readonly record struct I420Planes(int YOffset, int YStride, int UOffset, int UStride, int VOffset, int VStride)
{
    /// <summary>GStreamer's own layout of an I420 picture (gst_video_info_set_format): rows of 4-byte multiples, planes back to back.</summary>
    internal static I420Planes Default(int width, int height)
    {
        int yStride = (width + 3) & ~3, cStride = (((width + 1) / 2) + 3) & ~3, rows = (height + 1) & ~1;
        return new(0, yStride, yStride * rows, cStride, yStride * rows + cStride * rows / 2, cStride);
    }

    /// <summary>The layout the buffer's producer wrote into its video meta; null when it has none.</summary>
    internal static I420Planes? Of(nint buffer)
    {
        var meta = Native.gst_buffer_get_meta(buffer, Native.gst_video_meta_api_get_type());
        if (meta == 0) return null;
        int Offset(int plane) => (int)Abi.Read<nuint>(meta, Abi.VideoMetaOffsetOffset + 8 * plane);
        int Stride(int plane) => Abi.Read<int>(meta, Abi.VideoMetaStrideOffset + 4 * plane);
        return new(Offset(0), Stride(0), Offset(1), Stride(1), Offset(2), Stride(2));
    }

    /// <summary>The bytes a picture of <paramref name="height"/> rows needs in this layout.</summary>
    internal int Size(int height)
    {
        int rows = height, chromaRows = (height + 1) / 2;
        return Math.Max(YOffset + YStride * rows, Math.Max(UOffset + UStride * chromaRows, VOffset + VStride * chromaRows));
    }
}

/// <summary>Gets an I420 picture's bytes and where its planes lie (<see cref="ProbeInfo.MapI420Writable"/>).</summary>
internal delegate void I420Action(Span<byte> picture, I420Planes planes);

/// <summary>A buffer list a probe kept out of the stream (one reference), until it goes out joined to a later one or is let go.</summary>
internal sealed class KeptBuffers(nint list) : IDisposable
{
    internal nint List { get; private set; } = list;

    public void Dispose()
    {
        if (List != 0) Native.gst_mini_object_unref(List);
        List = 0;
    }
}

/// <summary>Works on a span that is only valid during the call (a mapped buffer).</summary>
internal delegate void SpanAction<T>(Span<T> data);

/// <summary>Reads a span that is only valid during the call (a mapped buffer).</summary>
internal delegate void ReadOnlySpanAction<T>(ReadOnlySpan<T> data);

/// <summary>
/// Native callbacks (pad probes, signals). They run on GStreamer streaming threads or libsrt threads:
/// handlers must be quick, must not change element states (that deadlocks when done from the element's
/// own streaming thread) and hand anything slow to the control thread. An exception escaping into native
/// code aborts the process, so every entry point catches it and reports it to the fault handler given
/// with the callback: the engine registers callbacks through its <see cref="Graph"/>, whose handler logs
/// to that project's logger.
/// </summary>
internal static unsafe class Callbacks
{
    private static int s_faults;
    /// <summary>Faults of every callback in the process, whoever registered it: tests assert it stays 0.</summary>
    internal static int FaultCount => Volatile.Read(ref s_faults);

    // What a callback's user data points at: the managed handler and where its faults go.
    private sealed record Registration(Delegate Handler, Action<Exception>? OnFault);

    private static nint Register(Delegate handler, Action<Exception>? onFault) =>
        GCHandle.ToIntPtr(GCHandle.Alloc(new Registration(handler, onFault)));

    private static T Handler<T>(nint data) where T : Delegate => (T)((Registration)GCHandle.FromIntPtr(data).Target!).Handler;

    internal static ProbeHandle AddProbe(Pad pad, ProbeType mask, Func<ProbeInfo, ProbeReturn> handler, Action<Exception>? onFault = null)
    {
        var data = Register(handler, onFault);
        var id = Native.gst_pad_add_probe(pad.Handle, (int)mask, &OnProbe, data, &OnDestroy);
        return new ProbeHandle(Pad.FromBorrowed(pad.Handle), id);
    }

    internal static nuint ConnectPadAdded(Element element, Action<Pad> handler, Action<Exception>? onFault = null)
    {
        var data = Register(handler, onFault);
        var id = Native.g_signal_connect_data(element.Handle, "pad-added",
            (nint)(delegate* unmanaged<nint, nint, nint, void>)&OnPadAdded, data, &OnClosureNotify, 0);
        if (id == 0) throw new GstException($"{element.Name} has no pad-added signal");
        return id;
    }

    /// <summary>
    /// Calls <paramref name="handler"/> with the running time of every output buffer an aggregator
    /// (compositor, audiomixer) is about to produce, after it picked its input samples and before it
    /// reads its pads' properties: the one place where a pad change lands on an exact frame.
    /// </summary>
    internal static nuint ConnectSamplesSelected(Element aggregator, Action<ulong> handler, Action<Exception>? onFault = null)
    {
        aggregator.Set("emit-signals", true);
        var data = Register(handler, onFault);
        var id = Native.g_signal_connect_data(aggregator.Handle, "samples-selected",
            (nint)(delegate* unmanaged<nint, nint, ulong, ulong, ulong, nint, nint, void>)&OnSamplesSelected, data, &OnClosureNotify, 0);
        if (id == 0) throw new GstException($"{aggregator.Name} has no samples-selected signal");
        return id;
    }

    /// <summary>
    /// Calls <paramref name="handler"/> each time data comes to a full queue ("overrun"), on the thread that brings it,
    /// before a leaky queue lets go of its oldest to make room. Nothing runs while the queue has room, so counting a
    /// queue's drops this way costs no call per buffer.
    /// </summary>
    internal static nuint ConnectOverrun(Element queue, Action handler, Action<Exception>? onFault = null)
    {
        var data = Register(handler, onFault);
        var id = Native.g_signal_connect_data(queue.Handle, "overrun",
            (nint)(delegate* unmanaged<nint, nint, void>)&OnOverrun, data, &OnClosureNotify, 0);
        if (id == 0) throw new GstException($"{queue.Name} has no overrun signal");
        return id;
    }

    /// <summary>
    /// Makes <paramref name="ghost"/> (a bin's sink ghost pad) answer OK whatever its target refuses, and
    /// drop everything from the first refusal on, and while <paramref name="alsoDrop"/> says so: a sink
    /// that fails then stops at it instead of stopping the thread that pushes into it. Until the pad is
    /// disposed; its chain functions stay replaced.
    /// </summary>
    internal static RefusalStop StopRefusals(Pad ghost, Func<bool> alsoDrop, Action<Exception>? onFault = null)
    {
        var stop = new RefusalStop(alsoDrop, onFault);
        s_stops[ghost.Handle] = stop;
        Native.gst_pad_set_chain_function_full(ghost.Handle, &OnStoppedChain, GCHandle.ToIntPtr(GCHandle.Alloc(ghost.Handle)), &OnStopRemoved);
        Native.gst_pad_set_chain_list_function_full(ghost.Handle, &OnStoppedChainList, 0, null);
        return stop;
    }

    private static readonly System.Collections.Concurrent.ConcurrentDictionary<nint, RefusalStop> s_stops = new();

    [UnmanagedCallersOnly]
    private static int OnStoppedChain(nint pad, nint parent, nint buffer) => Stopped(pad, parent, buffer, list: false);

    [UnmanagedCallersOnly]
    private static int OnStoppedChainList(nint pad, nint parent, nint list) => Stopped(pad, parent, list, list: true);

    private static int Stopped(nint pad, nint parent, nint data, bool list)
    {
        var stop = s_stops.GetValueOrDefault(pad);
        try
        {
            if (stop is not null && (stop.Refused || stop.AlsoDrop()))
            {
                Native.gst_mini_object_unref(data);
                return 0;
            }
        }
        catch (Exception e)
        {
            Interlocked.Increment(ref s_faults);
            stop?.Report(e);
        }
        var flow = list ? Native.gst_proxy_pad_chain_list_default(pad, parent, data) : Native.gst_proxy_pad_chain_default(pad, parent, data);
        if (flow >= 0 || stop is null) return flow;
        stop.Refused = true;
        return 0;
    }

    [UnmanagedCallersOnly]
    private static void OnStopRemoved(nint data)
    {
        try
        {
            var handle = GCHandle.FromIntPtr(data);
            s_stops.TryRemove((nint)handle.Target!, out _);
            handle.Free();
        }
        catch (Exception e) { Report(0, e); }
    }

    [UnmanagedCallersOnly]
    private static void OnSamplesSelected(nint element, nint segment, ulong pts, ulong dts, ulong duration, nint info, nint data)
    {
        try
        {
            if (pts == Abi.ClockTimeNone) return;
            var runningTime = Native.gst_segment_to_running_time(segment, Abi.FormatTime, pts);
            if (runningTime == Abi.ClockTimeNone) return;
            Handler<Action<ulong>>(data)(runningTime);
        }
        catch (Exception e) { Report(data, e); }
    }

    [UnmanagedCallersOnly]
    private static int OnProbe(nint pad, nint info, nint data)
    {
        try { return (int)Handler<Func<ProbeInfo, ProbeReturn>>(data)(new ProbeInfo(info)); }
        catch (Exception e) { Report(data, e); return (int)ProbeReturn.Ok; }
    }

    [UnmanagedCallersOnly]
    private static void OnPadAdded(nint element, nint pad, nint data)
    {
        try
        {
            using var p = Pad.FromBorrowed(pad);
            Handler<Action<Pad>>(data)(p);
        }
        catch (Exception e) { Report(data, e); }
    }

    [UnmanagedCallersOnly]
    private static void OnOverrun(nint queue, nint data)
    {
        try { Handler<Action>(data)(); }
        catch (Exception e) { Report(data, e); }
    }

    [UnmanagedCallersOnly]
    private static void OnDestroy(nint data)
    {
        try { GCHandle.FromIntPtr(data).Free(); } catch (Exception e) { Report(0, e); }
    }

    [UnmanagedCallersOnly]
    private static void OnClosureNotify(nint data, nint closure)
    {
        try { GCHandle.FromIntPtr(data).Free(); } catch (Exception e) { Report(0, e); }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void Report(nint data, Exception e)
    {
        Interlocked.Increment(ref s_faults);
        try
        {
            if (data != 0 && GCHandle.FromIntPtr(data).Target is Registration { OnFault: { } onFault }) onFault(e);
        }
        catch { /* a faulty reporter must not abort the process */ }
    }
}

/// <summary>What <see cref="Callbacks.StopRefusals"/> keeps for one pad: whether its target has refused a buffer.</summary>
internal sealed class RefusalStop(Func<bool> alsoDrop, Action<Exception>? onFault)
{
    private volatile bool _refused;
    internal bool Refused { get => _refused; set => _refused = value; }
    internal Func<bool> AlsoDrop { get; } = alsoDrop;

    internal void Report(Exception e)
    {
        try { onFault?.Invoke(e); } catch { /* a faulty reporter must not abort the process */ }
    }
}

/// <summary>A probe we installed; disposing removes it (safe to call twice).</summary>
internal sealed class ProbeHandle(Pad pad, nuint id) : IDisposable
{
    private nuint _id = id;

    public void Dispose()
    {
        if (_id != 0) Native.gst_pad_remove_probe(pad.Handle, _id);
        _id = 0;
        pad.Dispose();
    }
}
