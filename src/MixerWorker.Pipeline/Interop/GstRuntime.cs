namespace MixerWorker.Pipeline.Interop;

/// <summary>GStreamer initialisation and the start-up self-check.</summary>
public static class GstRuntime
{
    private static readonly Lock InitLock = new();
    private static bool s_initialised;

    /// <summary>Elements the engine cannot run without, with the Debian package that ships each.</summary>
    internal static readonly IReadOnlyDictionary<string, string> RequiredElements = new Dictionary<string, string>
    {
        ["queue"] = "libgstreamer1.0-0", ["tee"] = "libgstreamer1.0-0", ["capsfilter"] = "libgstreamer1.0-0",
        ["compositor"] = "gstreamer1.0-plugins-base", ["audiomixer"] = "gstreamer1.0-plugins-base",
        ["videoconvert"] = "gstreamer1.0-plugins-base", ["videoscale"] = "gstreamer1.0-plugins-base",
        ["audioconvert"] = "gstreamer1.0-plugins-base", ["audioresample"] = "gstreamer1.0-plugins-base",
        ["videotestsrc"] = "gstreamer1.0-plugins-base", ["audiotestsrc"] = "gstreamer1.0-plugins-base",
        ["opusenc"] = "gstreamer1.0-plugins-base", ["opusdec"] = "gstreamer1.0-plugins-base",
        ["appsink"] = "gstreamer1.0-plugins-base", ["appsrc"] = "gstreamer1.0-plugins-base", ["volume"] = "gstreamer1.0-plugins-base",
        ["jpegenc"] = "gstreamer1.0-plugins-good",
        ["videocrop"] = "gstreamer1.0-plugins-good", ["aacparse"] = "gstreamer1.0-plugins-good",
        ["mpegaudioparse"] = "gstreamer1.0-plugins-good", ["mpg123audiodec"] = "gstreamer1.0-plugins-good",
        ["srtsink"] = "gstreamer1.0-plugins-bad",
        ["tsdemux"] = "gstreamer1.0-plugins-bad", ["mpegtsmux"] = "gstreamer1.0-plugins-bad",
        ["h264parse"] = "gstreamer1.0-plugins-bad", ["h265parse"] = "gstreamer1.0-plugins-bad",
        ["opusparse"] = "gstreamer1.0-plugins-bad", ["voaacenc"] = "gstreamer1.0-plugins-bad",
        ["x264enc"] = "gstreamer1.0-plugins-ugly",
        ["avdec_h264"] = "gstreamer1.0-libav", ["avdec_h265"] = "gstreamer1.0-libav", ["avdec_aac"] = "gstreamer1.0-libav",
    };

    /// <summary>Initialises GStreamer once per process; throws with an actionable message when it cannot.</summary>
    public static void Init()
    {
        lock (InitLock)
        {
            if (s_initialised) return;
            bool ok;
            nint error;
            try { ok = Native.gst_init_check(0, 0, out error); }
            catch (DllNotFoundException)
            {
                throw new GstMissingException("GStreamer is not installed: libgstreamer-1.0.so.0 was not found. "
                    + "Install the Debian package libgstreamer1.0-0 (and the plugin packages: ./run.sh installs them).");
            }
            if (!ok) throw new GstMissingException($"GStreamer failed to initialise: {NativeString.TakeError(error)}");
            s_initialised = true;
        }
    }

    public static Version Version
    {
        get
        {
            Init();
            Native.gst_version(out var major, out var minor, out var micro, out _);
            return new Version((int)major, (int)minor, (int)micro);
        }
    }

    /// <summary>True when an element factory is registered (and so can be created).</summary>
    public static bool HasElement(string factory)
    {
        Init();
        var f = Native.gst_element_factory_find(factory);
        if (f == 0) return false;
        Native.gst_object_unref(f);
        return true;
    }

    /// <summary>
    /// Fails fast, before any show starts, when GStreamer, a plugin or the struct layout the bindings
    /// depend on is not what the engine needs. The message names the Debian packages to install.
    /// libsrt is checked by the engine's self-check (Engine/EngineSelfCheck), which calls this.
    /// </summary>
    public static void SelfCheck()
    {
        Init();
        if (Version < new Version(1, 22)) throw new GstMissingException($"GStreamer {Version} is too old: 1.22 or newer is needed");
        var missing = RequiredElements.Where(e => !HasElement(e.Key)).ToList();
        if (missing.Count > 0)
        {
            var packages = string.Join(" ", missing.Select(m => m.Value).Distinct().Order());
            var elements = string.Join(", ", missing.Select(m => m.Key));
            throw new GstMissingException($"GStreamer elements missing: {elements}. Install: apt-get install {packages}");
        }
        CheckMessageLayout();
    }

    // The bus reader reads GstMessage.type and .src by offset; a different ABI would misroute errors.
    private static void CheckMessageLayout()
    {
        using var probe = Element.Make("identity", "abi-probe");
        var msg = Native.gst_message_new_application(probe.Handle, Native.gst_structure_new_empty("abi-probe"));
        try
        {
            if (Abi.Read<int>(msg, Abi.MessageTypeOffset) != (int)MessageType.Application || Abi.Read<nint>(msg, Abi.MessageSrcOffset) != probe.Handle)
                throw new GstMissingException("GstMessage layout differs from the one the bindings were written for (64-bit Linux, GStreamer 1.22+)");
        }
        finally { Native.gst_message_unref(msg); }
    }
}

/// <summary>GStreamer, a plugin or libsrt is missing; the message says what to install.</summary>
public sealed class GstMissingException(string message) : Exception(message);
