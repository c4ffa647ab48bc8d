using System.Numerics;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace MixerWorker.Pipeline.Interop;

/// <summary>A bus message copied out of GStreamer, safe to keep and pass between threads.</summary>
internal sealed record BusMessage(
    MessageType Type,
    string SourcePath,     // e.g. "/GstPipeline:pipeline0/GstBin:src-cam-a-3/GstSRTSrc:srtsrc0"
    string Text,           // error/warning text
    string? Debug)
{
    /// <summary>Of a QoS message: what its source dropped, from which running time and how long (null when it did not say).</summary>
    internal (ulong RunningTimeNs, ulong DurationNs)? Dropped { get; init; }
}

/// <summary>
/// Takes every message posted on a pipeline's bus as it is posted, on the posting thread (a bus sync
/// handler), and hands a copy of those the engine reads (<see cref="Wanted"/>) to one handler, which
/// must be quick (the engine's posts it to the control thread). Nothing is left in the bus's queue and
/// no thread drains it. In GStreamer 1.22 that queue is a lock-free queue whose writers wait for each
/// other in a spin: under a container's CPU quota, a streaming thread descheduled in the middle of its
/// push kept the others spinning there, and the mix stopped making pictures. Messages nobody reads
/// (stream status, every element's state changes, tags, ...) cost the posting thread a type test.
/// </summary>
internal sealed class BusReader : IDisposable
{
    /// <summary>
    /// What the engine reads: faults, the end of a stream, a latency to recompute, and what was dropped
    /// (the bus mixers' pads tell of sound that came after its time: <c>qos-messages</c>).
    /// </summary>
    internal const MessageType Wanted = MessageType.Eos | MessageType.Error | MessageType.Warning | MessageType.Latency | MessageType.Qos;

    private const int SyncDrop = 0;

    private readonly nint _bus;
    private readonly Action<BusMessage> _handler;
    private readonly ILogger _log;
    // Messages posted on the bus, by type (its bit).
    private readonly long[] _posted = new long[32];
    private volatile bool _stop;

    internal BusReader(Element pipeline, Action<BusMessage> handler, ILogger? log = null)
    {
        _bus = pipeline.GetBus();
        _handler = handler;
        _log = log ?? NullLogger.Instance;
        // Weak: the bus may outlive the reader, and a post after it is gone is dropped unread.
        unsafe { Native.gst_bus_set_sync_handler(_bus, &OnPost, GCHandle.ToIntPtr(GCHandle.Alloc(this, GCHandleType.Weak)), &OnHandlerRemoved); }
    }

    /// <summary>Messages of <paramref name="type"/> posted on the bus so far, read or not.</summary>
    internal long Posted(MessageType type) => Interlocked.Read(ref _posted[Bit(type)]);

    /// <summary>Whether any message waits in the bus's own queue (none should: every post is taken as it is made).</summary>
    internal bool AnyQueued => Native.gst_bus_have_pending(_bus);

    private static int Bit(MessageType type) => BitOperations.TrailingZeroCount((uint)type) & 31;

    // On the posting thread, for every message. A message dropped here is the handler's to unref.
    [UnmanagedCallersOnly]
    private static int OnPost(nint bus, nint msg, nint data)
    {
        try
        {
            if (GCHandle.FromIntPtr(data).Target is BusReader reader) reader.Take(msg);
        }
        catch
        {
            // Take logs what its handler throws; nothing may unwind into GStreamer.
        }
        finally { Native.gst_message_unref(msg); }
        return SyncDrop;
    }

    [UnmanagedCallersOnly]
    private static void OnHandlerRemoved(nint data) => GCHandle.FromIntPtr(data).Free();

    private void Take(nint msg)
    {
        var type = (MessageType)Abi.Read<int>(msg, Abi.MessageTypeOffset);
        Interlocked.Increment(ref _posted[Bit(type)]);
        if ((type & Wanted) == 0 || _stop) return;
        try { _handler(Copy(msg, type)); }
        catch (Exception e) { _log.LogError(e, "a bus message could not be handled"); }
    }

    private static BusMessage Copy(nint msg, MessageType type)
    {
        var src = Abi.Read<nint>(msg, Abi.MessageSrcOffset);
        var path = src == 0 ? "" : GstObject.PathOf(src);
        if (type == MessageType.Qos)
        {
            Native.gst_message_parse_qos(msg, out _, out var runningTime, out _, out _, out var duration);
            return new BusMessage(type, path, "", null)
            {
                Dropped = runningTime == Abi.ClockTimeNone || duration == Abi.ClockTimeNone ? null : (runningTime, duration),
            };
        }
        if (type is not (MessageType.Error or MessageType.Warning)) return new BusMessage(type, path, "", null);
        nint err, dbg;
        if (type == MessageType.Error) Native.gst_message_parse_error(msg, out err, out dbg);
        else Native.gst_message_parse_warning(msg, out err, out dbg);
        var debug = NativeString.Owned(dbg);
        return new BusMessage(type, path, NativeString.TakeError(err) ?? "", debug);
    }

    /// <summary>Stops handing messages on; a post already past the check may still reach the handler.</summary>
    public void Dispose()
    {
        if (_stop) return;
        _stop = true;
        // Cleared, the handler's data is freed once no post is inside it (GStreamer counts its users).
        unsafe { Native.gst_bus_set_sync_handler(_bus, null, 0, null); }
        Native.gst_object_unref(_bus);
    }
}
