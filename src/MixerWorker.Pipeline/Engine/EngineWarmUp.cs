using MixerWorker.Pipeline.Interop;

namespace MixerWorker.Pipeline.Engine;

/// <summary>
/// Gets GStreamer ready for the first show while the host is still starting: a background thread
/// loads the plugins a show uses, in the order a show is built, so that building the first scene (and
/// so connecting its Program output) does not wait for libraries to be mapped (libav alone pulls in a
/// few hundred) or for pango's font set-up (the "no signal" cards' text).
/// </summary>
public static class EngineWarmUp
{
    // Bus and output first, then inputs, scalers, cards and thumbnails.
    internal static readonly IReadOnlyList<string> ShowElements =
    [
        "queue", "tee", "capsfilter", "videotestsrc", "compositor", "x264enc", "mpegtsmux", "audiotestsrc", "audiomixer",
        "volume", "audiodynamic", "level", "audioconvert", "opusenc", "srtsink",
        "appsrc", "tsdemux", "h264parse", "avdec_h264", "aacparse", "avdec_aac", "deinterlace", "videoconvert", "audioresample",
        "videocrop", "videoconvertscale", "textoverlay", "imagefreeze", "videoscale", "jpegenc", "appsink",
    ];

    /// <summary>Starts loading on a background thread and returns at once; the first show takes what is loaded by then.</summary>
    public static void Start()
    {
        var thread = new Thread(() =>
        {
            // Nothing to report from here: a missing GStreamer or plugin is the self-check's to name
            // when a show starts, and a show builds whatever is not loaded yet itself.
            try { GstRuntime.Preload(ShowElements); }
            catch (Exception) { /* see above */ }
        }) { IsBackground = true, Name = "gst-warm-up" };
        thread.Start();
    }
}
