using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;

namespace MixerWorker.Pipeline.Interop;

/// <summary>
/// GStreamer's debug log (enabled with GST_DEBUG) and GLib's warnings and criticals sent through the
/// engine's logger instead of raw lines on stderr, where they would break the JSON logs. GST_DEBUG
/// still decides what GStreamer says; everything it says reaches the logger.
/// </summary>
/// <remarks>
/// The log function runs on whichever thread logs (streaming threads included) and must never let
/// an exception unwind into C. It only reads the borrowed strings GStreamer passes (valid during the
/// call) and never calls anything that could log again. What GStreamer logs inside gst_init itself,
/// before the worker installs this, still goes to stderr (only at GST_DEBUG levels 4 and up).
/// </remarks>
internal static unsafe partial class GstLog
{
    private const string Gst = "libgstreamer-1.0.so.0";
    private const string GLib = "libglib-2.0.so.0";

    // GstDebugLevel
    private const int LevelError = 1, LevelWarning = 2, LevelFixme = 3, LevelInfo = 4, LevelDebug = 5;
    // GLogLevelFlags (the low two bits are the recursion and fatal flags)
    private const int GLogError = 1 << 2, GLogCritical = 1 << 3, GLogWarning = 1 << 4, GLogMessage = 1 << 5, GLogInfo = 1 << 6;

    [LibraryImport(Gst)]
    private static partial void gst_debug_add_log_function(
        delegate* unmanaged<nint, int, byte*, byte*, int, nint, nint, nint, void> func, nint userData, nint notify);
    [LibraryImport(Gst)] private static partial uint gst_debug_remove_log_function(nint func);
    [LibraryImport(Gst)] private static partial nint gst_debug_category_get_name(nint category); // N
    [LibraryImport(Gst)] private static partial nint gst_debug_message_get(nint message); // N
    [LibraryImport(Gst)] private static partial nint gst_debug_message_get_id(nint message); // N, may be 0 (1.22+)
    [LibraryImport(Gst, StringMarshalling = StringMarshalling.Utf8)] private static partial nint gst_plugin_load_by_name(string name); // F, may be 0
    [LibraryImport(Gst)] private static partial void gst_object_unref(nint obj);
    [LibraryImport(GLib)] private static partial nint g_log_set_default_handler(delegate* unmanaged<byte*, int, byte*, nint, void> func, nint userData);

    private static readonly Lock InstallLock = new();
    private static volatile Sink? s_sink;
    private static bool s_installed;

    private sealed record Sink(ILogger Logger, Func<string, string> Redact);

    /// <summary>
    /// Routes GStreamer's debug log and GLib's default log handler to <paramref name="logger"/> from
    /// now on, with <paramref name="redact"/> applied to every line. Initialises GStreamer if needed.
    /// Calling it again replaces the target.
    /// </summary>
    internal static void Route(ILogger logger, Func<string, string> redact)
    {
        s_sink = new Sink(logger, redact);
        lock (InstallLock)
        {
            if (s_installed) return;
            GstRuntime.Init();
            gst_debug_add_log_function(&OnGstLog, 0, 0);
            gst_debug_remove_log_function(DefaultLogFunction());
            g_log_set_default_handler(&OnGLibLog, 0);
            s_installed = true;
        }
    }

    /// <summary>
    /// Loads a plugin now rather than when its first element is made. GStreamer's srt plugin points
    /// libsrt's log into its own debug category (and turns libsrt's level up to debug) when it
    /// loads, so it is loaded before libsrt's log is routed, never after.
    /// </summary>
    internal static void LoadPlugin(string name)
    {
        var plugin = gst_plugin_load_by_name(name);
        if (plugin != 0) gst_object_unref(plugin);
    }

    private static nint DefaultLogFunction() => NativeLibrary.GetExport(NativeLibrary.Load(Gst), "gst_debug_log_default");

    [UnmanagedCallersOnly]
    private static void OnGstLog(nint category, int level, byte* file, byte* function, int line, nint obj, nint message, nint data)
    {
        try
        {
            if (s_sink is not { } sink) return;
            var logLevel = GstLevel(level);
            if (!sink.Logger.IsEnabled(logLevel)) return;
            var name = NativeString.Borrowed(gst_debug_category_get_name(category)) ?? "";
            var id = NativeString.Borrowed(gst_debug_message_get_id(message)) ?? "";
            var text = NativeString.Borrowed(gst_debug_message_get(message)) ?? "";
            sink.Logger.Log(logLevel, "GStreamer {GstCategory} {GstObject}: {GstMessage}", name, id, sink.Redact(text));
        }
        catch
        {
            // An exception must never unwind into GStreamer; a lost log line is the lesser harm.
        }
    }

    [UnmanagedCallersOnly]
    private static void OnGLibLog(byte* domain, int level, byte* message, nint data)
    {
        try
        {
            if (s_sink is not { } sink) return;
            var logLevel = GLibLevel(level);
            if (!sink.Logger.IsEnabled(logLevel)) return;
            var text = Marshal.PtrToStringUTF8((nint)message) ?? "";
            sink.Logger.Log(logLevel, "GLib {GLibDomain}: {GLibMessage}", Marshal.PtrToStringUTF8((nint)domain) ?? "", sink.Redact(text));
        }
        catch
        {
            // As above. A fatal level still aborts after this returns, as GLib's own handler would.
        }
    }

    /// <summary>GStreamer's debug level as the logger's.</summary>
    internal static LogLevel GstLevel(int level) => level switch
    {
        LevelError => LogLevel.Error,
        LevelWarning => LogLevel.Warning,
        LevelFixme or LevelInfo => LogLevel.Information,
        LevelDebug => LogLevel.Debug,
        _ => LogLevel.Trace,
    };

    /// <summary>GLib's log level as the logger's.</summary>
    internal static LogLevel GLibLevel(int flags) => (flags & ~3) switch
    {
        var l when (l & GLogError) != 0 => LogLevel.Critical,
        var l when (l & GLogCritical) != 0 => LogLevel.Error,
        var l when (l & GLogWarning) != 0 => LogLevel.Warning,
        var l when (l & (GLogMessage | GLogInfo)) != 0 => LogLevel.Information,
        _ => LogLevel.Debug,
    };
}
