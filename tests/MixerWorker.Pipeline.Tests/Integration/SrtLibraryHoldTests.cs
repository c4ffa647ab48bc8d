using MixerWorker.Pipeline.Interop;
using MixerWorker.Pipeline.Srt;
using Xunit;
using Xunit.Abstractions;

namespace MixerWorker.Pipeline.Tests.Integration;

/// <summary>
/// The engine's own libsrt sockets (input readers, the outputs' shared port) live in the same process as
/// GStreamer's srt elements. On libsrt 1.5.4 (the image's) the plugin's srt_cleanup, when its last element
/// goes, stopped libsrt and closed every socket in the process; the engine holds one plugin element so
/// that never happens (there only: elsewhere a held start would outlive libsrt's own cleanup at exit). On libsrt
/// 1.5.1 (Debian 12) the count is right and this passes either way.
/// </summary>
public sealed class SrtLibraryHoldTests(ITestOutputHelper output)
{
    private const int SrtsNonexist = 9;

    [Fact]
    public unsafe void An_engine_socket_outlives_every_srt_element_of_the_process()
    {
        LibSrt.EnsureStarted();
        var socket = LibSrt.srt_create_socket();
        Assert.NotEqual(LibSrt.InvalidSocket, socket);
        try
        {
            var before = LibSrt.srt_getsockstate(socket);
            // Each element starts libsrt when made and cleans it up when it is the plugin's last one.
            foreach (var factory in new[] { "srtsink", "srtsrc", "srtsink" })
            {
                using var element = Element.Make(factory);
            }
            var after = LibSrt.srt_getsockstate(socket);
            output.WriteLine($"libsrt socket state before {before}, after the elements went {after}");
            Assert.NotEqual(SrtsNonexist, after);
            Assert.Equal(before, after);
            Assert.Equal(LibSrt.MiscountsStarts, LibSrt.HoldsThePlugin);
        }
        finally
        {
            LibSrt.srt_close(socket);
        }
    }
}
