using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace MixerWorker.Pipeline.Interop;

/// <summary>A bus message copied out of GStreamer, safe to keep and pass between threads.</summary>
internal sealed record BusMessage(
    MessageType Type,
    string SourcePath,     // e.g. "/GstPipeline:pipeline0/GstBin:src-cam-a-3/GstSRTSrc:srtsrc0"
    string Text,           // error/warning text, or the structure of an element message
    string? Debug,
    State? NewState = null,
    string? StructureName = null);

/// <summary>
/// The bus thread: pops messages without a GLib main loop and hands copies to one handler. It never
/// touches pipeline state itself; the handler posts to the control thread.
/// </summary>
internal sealed class BusReader : IDisposable
{
    private const MessageType Wanted = MessageType.Eos | MessageType.Error | MessageType.Warning
        | MessageType.StateChanged | MessageType.Element | MessageType.Latency | MessageType.Application;

    private readonly nint _bus;
    private readonly nint _pipeline;
    private readonly Action<BusMessage> _handler;
    private readonly ILogger _log;
    private readonly Thread _thread;
    private volatile bool _stop;

    internal BusReader(Element pipeline, string threadName, Action<BusMessage> handler, ILogger? log = null)
    {
        _pipeline = pipeline.Handle;
        _bus = pipeline.GetBus();
        _handler = handler;
        _log = log ?? NullLogger.Instance;
        _thread = new Thread(Run) { IsBackground = true, Name = threadName };
        _thread.Start();
    }

    private void Run()
    {
        while (!_stop)
        {
            var msg = Native.gst_bus_timed_pop_filtered(_bus, 100_000_000, (int)Wanted);
            if (msg == 0) continue;
            try
            {
                var copy = Copy(msg);
                if (copy is not null) _handler(copy);
            }
            catch (Exception e) { _log.LogError(e, "a bus message could not be handled"); }
            finally { Native.gst_message_unref(msg); }
        }
    }

    private BusMessage? Copy(nint msg)
    {
        var type = (MessageType)Abi.Read<int>(msg, Abi.MessageTypeOffset);
        var src = Abi.Read<nint>(msg, Abi.MessageSrcOffset);
        var path = src == 0 ? "" : NativeString.Owned(Native.gst_object_get_path_string(src)) ?? "";
        switch (type)
        {
            case MessageType.Error or MessageType.Warning:
                nint err, dbg;
                if (type == MessageType.Error) Native.gst_message_parse_error(msg, out err, out dbg);
                else Native.gst_message_parse_warning(msg, out err, out dbg);
                var debug = NativeString.Owned(dbg);
                return new BusMessage(type, path, NativeString.TakeError(err) ?? "", debug);
            case MessageType.StateChanged:
                if (src != _pipeline) return null; // only the pipeline's own transitions matter
                Native.gst_message_parse_state_changed(msg, out _, out var newState, out _);
                return new BusMessage(type, path, "", null, (State)newState);
            case MessageType.Element or MessageType.Application:
                var s = Native.gst_message_get_structure(msg);
                return new BusMessage(type, path, s == 0 ? "" : NativeString.Owned(Native.gst_structure_to_string(s)) ?? "", null,
                    StructureName: s == 0 ? null : NativeString.Borrowed(Native.gst_structure_get_name(s)));
            default:
                return new BusMessage(type, path, "", null);
        }
    }

    public void Dispose()
    {
        if (_stop) return;
        _stop = true;
        if (Thread.CurrentThread != _thread) _thread.Join();
        Native.gst_object_unref(_bus);
    }
}
