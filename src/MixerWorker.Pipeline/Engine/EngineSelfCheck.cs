using MixerWorker.Pipeline.Interop;
using MixerWorker.Pipeline.Srt;

namespace MixerWorker.Pipeline.Engine;

/// <summary>Everything the engine needs from the machine, checked before a show starts (and by `MixerWorker selfcheck`).</summary>
public static class EngineSelfCheck
{
    /// <summary>GStreamer, its plugins and ABI, then libsrt; throws <see cref="GstMissingException"/> naming what to install.</summary>
    public static void Run()
    {
        GstRuntime.SelfCheck();
        // Inputs are read with libsrt directly (Srt/SrtCallerReader), not through a GStreamer element.
        SrtCallerReader.CheckLibrary();
    }
}
