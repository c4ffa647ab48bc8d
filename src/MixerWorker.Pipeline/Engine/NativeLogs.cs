using Microsoft.Extensions.Logging;
using MixerWorker.Pipeline.Interop;
using MixerWorker.Pipeline.Srt;

namespace MixerWorker.Pipeline.Engine;

/// <summary>
/// What the native libraries log (libsrt always, GStreamer when GST_DEBUG is set, GLib's warnings)
/// goes through the process's logger, so the output stays one format (JSON lines for collectors)
/// and secrets are taken out of it like everywhere else.
/// </summary>
public static class NativeLogs
{
    /// <summary>Logger categories of the routed lines (for filters).</summary>
    public const string GStreamerCategory = "GStreamer", LibSrtCategory = "libsrt";

    /// <summary>Routes the native logs to <paramref name="loggers"/> for the rest of the process's life.</summary>
    public static void Route(ILoggerFactory loggers, MixerOptions options)
    {
        var redactor = new SecretRedactor([options.MediaMtx.IngestPassphrase, options.MediaMtx.OutputPassphrase, options.MediaMtx.Token]);
        var gst = loggers.CreateLogger(GStreamerCategory);
        try
        {
            GstLog.Route(gst, redactor.Redact);
            // srtsink's plugin takes libsrt's log over when it loads: it loads first, libsrt's routing comes last.
            GstLog.LoadPlugin("srt");
        }
        catch (GstMissingException e)
        {
            // Every show will say the same when it starts; the worker itself can still serve its control plane.
            gst.LogError("GStreamer's log cannot be routed: {Reason}", e.Message);
        }
        SrtLog.Route(loggers.CreateLogger(LibSrtCategory), redactor.Redact);
    }
}
