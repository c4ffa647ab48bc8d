using System.Globalization;
using System.Runtime.InteropServices;

namespace MixerWorker.Pipeline.Interop;

/// <summary>
/// Owns exactly one strong reference to a GstObject and drops it on Dispose. Floating references
/// are sunk on construction, so a wrapper is always safe to dispose after the object was added to
/// a bin (the bin holds its own reference). There is no finalizer: unref'ing an element that is
/// still PLAYING from the finalizer thread would tear it down under the streaming threads' feet.
/// </summary>
internal abstract class GstObject : IDisposable
{
    private nint _handle;

    protected GstObject(nint handle, bool sinkFloating)
    {
        if (handle == 0) throw new ArgumentException("null GStreamer object", nameof(handle));
        _handle = sinkFloating ? Native.gst_object_ref_sink(handle) : handle;
    }

    internal nint Handle => _handle != 0 ? _handle : throw new ObjectDisposedException(GetType().Name);

    internal string Name => NativeString.Owned(Native.gst_object_get_name(Handle)) ?? "";

    /// <summary>Where it sits in its hierarchy now, as a bus message names its source (<see cref="BusMessage.SourcePath"/>).</summary>
    internal string Path => PathOf(Handle);

    internal static string PathOf(nint obj) => NativeString.Owned(Native.gst_object_get_path_string(obj)) ?? "";

    public void Dispose()
    {
        var h = Interlocked.Exchange(ref _handle, 0);
        if (h != 0) Native.gst_object_unref(h);
    }

    /// <summary>Sets a property from its string form, the way gst-launch parses it, and fails loudly:
    /// gst_util_set_object_arg silently ignores unknown names and bad values.</summary>
    internal void Set(string property, object value)
    {
        var text = value switch
        {
            bool b => b ? "true" : "false",
            IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
            _ => value.ToString() ?? "",
        };
        WithPropertyValue(property, (v, pspec) =>
        {
            var ok = Native.g_type_fundamental(Abi.Read<nint>(v, 0)) == Abi.GTypeString
                ? SetString(v, text)
                : Native.gst_value_deserialize(v, text);
            // g_param_value_validate clamps out-of-range values and says so; GLib itself would only warn.
            if (ok && Native.g_param_value_validate(pspec, v)) ok = false;
            if (!ok) throw new GstException($"{Name}: '{text}' is not a valid value for property '{property}'");
            Native.g_object_set_property(Handle, property, v);
        });
    }

    /// <summary>
    /// Sets a numeric property without going through text: for values changed every frame from a
    /// streaming thread. Out-of-range values are clamped by GLib's validation rather than refused,
    /// because a frame must never fail over a rounding error.
    /// </summary>
    internal void SetNumber(string property, double number) => WithPropertyValue(property, (v, pspec) =>
    {
        switch (Native.g_type_fundamental(Abi.Read<nint>(v, 0)))
        {
            case Abi.GTypeInt: Native.g_value_set_int(v, (int)Math.Round(number)); break;
            case Abi.GTypeUInt: Native.g_value_set_uint(v, (uint)Math.Max(0, Math.Round(number))); break;
            case Abi.GTypeInt64: Native.g_value_set_int64(v, (long)Math.Round(number)); break;
            case Abi.GTypeUInt64: Native.g_value_set_uint64(v, (ulong)Math.Max(0, Math.Round(number))); break;
            case Abi.GTypeFloat: Native.g_value_set_float(v, (float)number); break;
            case Abi.GTypeDouble: Native.g_value_set_double(v, number); break;
            default: throw new GstException($"{Name}: property '{property}' is not numeric");
        }
        Native.g_param_value_validate(pspec, v);
        Native.g_object_set_property(Handle, property, v);
    });

    private static bool SetString(nint v, string text) { Native.g_value_set_string(v, text); return true; }

    /// <summary>Reads a property as text (strings unquoted, everything else in GStreamer's serialised form).</summary>
    internal string? Get(string property)
    {
        string? result = null;
        WithPropertyValue(property, (v, _) =>
        {
            Native.g_object_get_property(Handle, property, v);
            result = Native.g_type_fundamental(Abi.Read<nint>(v, 0)) == Abi.GTypeString
                ? NativeString.Borrowed(Native.g_value_get_string(v))
                : NativeString.Owned(Native.gst_value_serialize(v));
        });
        return result;
    }

    /// <summary>Whether a structure-valued property (an element's stats) holds a structure with <paramref name="field"/>.</summary>
    internal bool HasStructureField(string property, string field)
    {
        var found = false;
        WithPropertyValue(property, (v, _) =>
        {
            Native.g_object_get_property(Handle, property, v);
            var structure = Native.g_value_get_boxed(v);
            found = structure != 0 && Native.gst_structure_get_value(structure, field) != 0;
        });
        return found;
    }

    internal unsafe bool HasProperty(string property) => Native.g_object_class_find_property(*(nint*)Handle, property) != 0;

    private unsafe void WithPropertyValue(string property, Action<nint, nint> use)
    {
        var klass = *(nint*)Handle; // GTypeInstance.g_class is the first field of every GObject
        var pspec = Native.g_object_class_find_property(klass, property);
        if (pspec == 0) throw new GstException($"{Name} has no property '{property}'");
        var value = stackalloc byte[Abi.GValueSize];
        new Span<byte>(value, Abi.GValueSize).Clear();
        Native.g_value_init((nint)value, Abi.Read<nint>(pspec, Abi.ParamSpecValueTypeOffset));
        try { use((nint)value, pspec); }
        finally { Native.g_value_unset((nint)value); }
    }

    public override string ToString() => _handle == 0 ? "(disposed)" : Name;
}

internal sealed class GstException(string message) : Exception(message);

/// <summary>An element, bin or pipeline.</summary>
internal sealed class Element : GstObject
{
    private Element(nint handle, bool sinkFloating) : base(handle, sinkFloating) { }

    /// <summary>Creates an element; names come from validated identifiers, never from raw user text.</summary>
    internal static Element Make(string factory, string? name = null)
    {
        GstRuntime.Init();
        var h = Native.gst_element_factory_make(factory, name);
        if (h == 0) throw new GstException($"cannot create element '{factory}': plugin missing (run GstRuntime.SelfCheck for the package)");
        return new Element(h, sinkFloating: true);
    }

    /// <summary>Creates an element with a boolean construct-only property set (e.g. an aggregator's force-live).</summary>
    internal static unsafe Element MakeWith(string factory, string name, string constructProperty, bool value)
    {
        GstRuntime.Init();
        var gvalue = stackalloc byte[Abi.GValueSize];
        new Span<byte>(gvalue, Abi.GValueSize).Clear();
        Native.g_value_init((nint)gvalue, Abi.GTypeBoolean);
        Native.g_value_set_boolean((nint)gvalue, value);
        var propName = System.Runtime.InteropServices.Marshal.StringToCoTaskMemUTF8(constructProperty);
        try
        {
            var names = stackalloc nint[1];
            names[0] = propName;
            var h = Native.gst_element_factory_make_with_properties(factory, 1, (nint)names, (nint)gvalue);
            if (h == 0) throw new GstException($"cannot create element '{factory}' with {constructProperty}={value}");
            var e = new Element(h, sinkFloating: true);
            e.Set("name", name);
            return e;
        }
        finally
        {
            System.Runtime.InteropServices.Marshal.FreeCoTaskMem(propName);
            Native.g_value_unset((nint)gvalue);
        }
    }

    internal static Element NewPipeline()
    {
        GstRuntime.Init();
        return new(Native.gst_pipeline_new(0), sinkFloating: true);
    }

    internal static Element NewBin(string name) => new(Native.gst_bin_new(name), sinkFloating: true);

    /// <summary>Wraps a pointer we were given with transfer none: takes a reference of our own.</summary>
    internal static Element FromBorrowed(nint handle) => new(Native.gst_object_ref(handle), sinkFloating: false);

    internal string FactoryName => NativeString.Owned(Native.gst_object_get_name(Native.gst_element_get_factory(Handle))) ?? "";

    internal StateChange SetState(State state) => (StateChange)Native.gst_element_set_state(Handle, (int)state);

    internal State GetState(TimeSpan timeout, out StateChange result)
    {
        result = (StateChange)Native.gst_element_get_state(Handle, out var state, out _, ClockTime.FromTimeSpan(timeout));
        return (State)state;
    }

    internal bool SyncStateWithParent() => Native.gst_element_sync_state_with_parent(Handle);

    internal void Add(Element child)
    {
        if (!Native.gst_bin_add(Handle, child.Handle)) throw new GstException($"cannot add {child} to {Name}");
    }

    internal void Remove(Element child) => Native.gst_bin_remove(Handle, child.Handle);

    internal Element? GetByName(string name)
    {
        var h = Native.gst_bin_get_by_name(Handle, name);
        return h == 0 ? null : new Element(h, sinkFloating: false);
    }

    /// <summary>
    /// How many elements made by <paramref name="factory"/> this bin holds, at any depth: what a
    /// status line or a test asks to see how much work the graph does (scalers, converters).
    /// </summary>
    internal unsafe int CountElements(string factory)
    {
        const int Done = 0, Ok = 1, Resync = 2;
        var iterator = Native.gst_bin_iterate_recurse(Handle);
        var item = Marshal.AllocHGlobal(GValueSize);
        try
        {
            new Span<byte>((void*)item, GValueSize).Clear();
            var count = 0;
            while (true)
            {
                var r = Native.gst_iterator_next(iterator, item);
                if (r == Ok)
                {
                    // A bin made with gst_bin_new has no factory.
                    var made = Native.gst_element_get_factory(Native.g_value_get_object(item));
                    if (made != 0 && NativeString.Owned(Native.gst_object_get_name(made)) == factory) count++;
                    Native.g_value_reset(item);
                }
                else if (r == Resync) { Native.gst_iterator_resync(iterator); count = 0; }
                else return r == Done ? count : throw new GstException($"cannot list the elements of {Name}");
            }
        }
        finally
        {
            if (*(nint*)item != 0) Native.g_value_unset(item); // still zero when the bin was empty
            Marshal.FreeHGlobal(item);
            Native.gst_iterator_free(iterator);
        }
    }

    // A GValue: a GType and two 8-byte words.
    private const int GValueSize = 24;

    internal void Link(Element downstream)
    {
        if (!Native.gst_element_link(Handle, downstream.Handle))
            throw new GstException($"cannot link {Name} to {downstream.Name}");
    }

    /// <summary>Links a chain of elements in order.</summary>
    internal static void LinkMany(params Element[] chain)
    {
        for (var i = 0; i + 1 < chain.Length; i++) chain[i].Link(chain[i + 1]);
    }

    internal Pad StaticPad(string name) =>
        Pad.Own(Native.gst_element_get_static_pad(Handle, name)) ?? throw new GstException($"{Name} has no pad '{name}'");

    internal Pad RequestPad(string template) =>
        Pad.Own(Native.gst_element_request_pad_simple(Handle, template)) ?? throw new GstException($"{Name} gave no '{template}' pad");

    internal void ReleaseRequestPad(Pad pad) => Native.gst_element_release_request_pad(Handle, pad.Handle);

    internal void AddPad(Pad pad)
    {
        if (!Native.gst_element_add_pad(Handle, pad.Handle)) throw new GstException($"cannot add pad {pad} to {Name}");
    }

    internal bool SendEos() => Native.gst_element_send_event(Handle, Native.gst_event_new_eos());

    internal nint GetBus() => Native.gst_element_get_bus(Handle);

    /// <summary>Asks a bin to work out its latency again (on a latency message, after an element changed its own).</summary>
    internal bool RecalculateLatency() => Native.gst_bin_recalculate_latency(Handle);

    /// <summary>
    /// Pushes a copy of <paramref name="data"/> into this appsrc, from any thread, stamped with <paramref name="pts"/>
    /// if given; false when appsrc refused it (it is stopping). appsrc takes the buffer whatever it answers.
    /// </summary>
    internal unsafe bool PushBuffer(ReadOnlySpan<byte> data, ulong? pts = null)
    {
        fixed (byte* bytes = data)
        {
            var buffer = Native.gst_buffer_new_memdup((nint)bytes, (nuint)data.Length);
            if (pts is { } t) Abi.Write(buffer, Abi.BufferPtsOffset, t);
            return Native.gst_app_src_push_buffer(Handle, buffer) == FlowOk;
        }
    }

    /// <summary>
    /// Pushes the buffer <paramref name="info"/> holds into this appsrc, shared (a reference, not a copy), from the
    /// probe's thread; false when the probe holds none or appsrc refused it (it is stopping).
    /// </summary>
    internal bool PushProbedBuffer(ProbeInfo info) =>
        info.Buffer is var buffer && buffer != 0 && Native.gst_app_src_push_buffer(Handle, Native.gst_mini_object_ref(buffer)) == FlowOk;

    /// <summary>Tells this appsrc that no more data comes.</summary>
    internal void EndOfStream() => Native.gst_app_src_end_of_stream(Handle);

    private const int FlowOk = 0; // GST_FLOW_OK; FLUSHING (-2) once appsrc is stopping

    /// <summary>From this appsink: a copy of the data of the sample waiting, or null when none is. Never waits.</summary>
    internal byte[]? TryPullSampleData()
    {
        var sample = Native.gst_app_sink_try_pull_sample(Handle, 0);
        if (sample == 0) return null;
        try { return Native.gst_sample_get_buffer(sample) is var buffer && buffer != 0 ? BufferBytes.Copy(buffer) : null; }
        finally { Native.gst_mini_object_unref(sample); }
    }

    internal void SetCaps(string caps) => Set("caps", caps);
}

internal sealed class Pad : GstObject
{
    private Pad(nint handle, bool sinkFloating) : base(handle, sinkFloating) { }

    internal static Pad? Own(nint handle) => handle == 0 ? null : new Pad(handle, sinkFloating: false);
    internal static Pad FromBorrowed(nint handle) => new(Native.gst_object_ref(handle), sinkFloating: false);

    /// <summary>A ghost pad for <paramref name="target"/>, activated, ready to add to a bin.</summary>
    internal static Pad Ghost(string name, Pad target)
    {
        var pad = new Pad(Native.gst_ghost_pad_new(name, target.Handle), sinkFloating: true);
        Native.gst_pad_set_active(pad.Handle, true);
        return pad;
    }

    internal void Link(Pad sink)
    {
        var r = Native.gst_pad_link(Handle, sink.Handle);
        if (r != 0) throw new GstException($"cannot link pad {Name} to {sink.Name} (GstPadLinkReturn {r})");
    }

    internal bool Unlink(Pad sink) => Native.gst_pad_unlink(Handle, sink.Handle);
    internal bool IsLinked => Native.gst_pad_is_linked(Handle);

    /// <summary>Added to the running time of the data through this pad, in nanoseconds (gst_pad_set_offset).</summary>
    internal long OffsetNs
    {
        get => Native.gst_pad_get_offset(Handle);
        set => Native.gst_pad_set_offset(Handle, value);
    }

    internal Pad? Peer() => Own(Native.gst_pad_get_peer(Handle));

    internal string? CurrentCaps()
    {
        var caps = Native.gst_pad_get_current_caps(Handle);
        if (caps == 0) return null;
        try { return NativeString.Owned(Native.gst_caps_to_string(caps)); }
        finally { Native.gst_caps_unref(caps); }
    }

    /// <summary>The media type of the pad's possible caps, e.g. "video/x-h264"; read once in pad-added.</summary>
    internal string? QueryMediaType()
    {
        var caps = Native.gst_pad_get_current_caps(Handle);
        if (caps == 0) caps = Native.gst_pad_query_caps(Handle, 0);
        if (caps == 0) return null;
        try
        {
            return Native.gst_caps_get_size(caps) == 0 ? null
                : NativeString.Borrowed(Native.gst_structure_get_name(Native.gst_caps_get_structure(caps, 0)));
        }
        finally { Native.gst_caps_unref(caps); }
    }

    internal bool SendEvent(nint ev) => Native.gst_pad_send_event(Handle, ev);

    /// <summary>
    /// Pushes new caps downstream from this source pad, in its stream: from a probe on it, ahead of the
    /// buffer being pushed. False when the string is no caps or downstream refuses them.
    /// </summary>
    internal bool PushCaps(string caps)
    {
        var parsed = Native.gst_caps_from_string(caps);
        if (parsed == 0) return false;
        try { return Native.gst_pad_push_event(Handle, Native.gst_event_new_caps(parsed)); }
        finally { Native.gst_caps_unref(parsed); }
    }

    /// <summary>Sets a sink pad flushing until a flush-stop: every push into it answers "flushing" (tests: a failing element).</summary>
    internal bool StartFlushing() => SendEvent(Native.gst_event_new_flush_start());

    /// <summary>
    /// A video aggregator's sink pad (compositor): whether it holds a buffer for the frame being made.
    /// Only valid on the aggregator's thread during aggregation.
    /// </summary>
    internal bool HasAggregatedBuffer => Native.gst_video_aggregator_pad_get_current_buffer(Handle) != 0;

    /// <summary>
    /// An aggregator's sink pad: whether the aggregator would make its next output without waiting for it: it holds
    /// a buffer (clipped to its segment, as the aggregator's own look clips it) or has had EOS. Any thread; takes the
    /// pad's lock, which nothing holds while it waits.
    /// </summary>
    internal bool ReadyForAggregator => Native.gst_aggregator_pad_has_buffer(Handle) || Native.gst_aggregator_pad_is_eos(Handle);

    /// <summary>Whether the latest push through this source pad was taken (GST_FLOW_OK): false once downstream flushes, fails or is unlinked.</summary>
    internal bool LastPushTaken => Native.gst_pad_get_last_flow_return(Handle) == 0;

    /// <summary>The PTS of the buffer this video aggregator pad contributes to the frame being made, or null; same rules as <see cref="HasAggregatedBuffer"/>.</summary>
    internal ulong? AggregatedBufferPts
    {
        get
        {
            var buffer = Native.gst_video_aggregator_pad_get_current_buffer(Handle); // borrowed
            if (buffer == 0) return null;
            var pts = Abi.Read<ulong>(buffer, Abi.BufferPtsOffset);
            return pts == Abi.ClockTimeNone ? null : pts;
        }
    }

    /// <summary>Asks upstream encoders for a keyframe with headers, e.g. when a new output connection starts: sent on the
    /// encoder's own output, never through a muxer (<see cref="Builders.BusBranch.RequestKeyFrame"/> says why).</summary>
    internal bool RequestKeyFrame() =>
        SendEvent(Native.gst_video_event_new_upstream_force_key_unit(Abi.ClockTimeNone, true, 0));
}
