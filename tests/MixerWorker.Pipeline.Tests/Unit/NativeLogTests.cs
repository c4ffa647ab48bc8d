using Microsoft.Extensions.Logging;
using MixerWorker.Pipeline.Interop;
using MixerWorker.Pipeline.Srt;
using Xunit;

namespace MixerWorker.Pipeline.Tests.Unit;

/// <summary>How native log lines are taken apart and graded before they reach the logger (the routing itself runs in the worker-process test).</summary>
public sealed class NativeLogTests
{
    [Theory]
    [InlineData("!W:SRT.cn: processAsyncConnectRequest: REJECT reported from HS processing: Incorrect passphrase\n", "SRT.cn", "processAsyncConnectRequest: REJECT reported from HS processing: Incorrect passphrase")]
    [InlineData("*E:SRT.ei: epoll/update: IPE: update struck E2", "SRT.ei", "epoll/update: IPE: update struck E2")]
    [InlineData(" D:SRT.qr: a: b", "SRT.qr", "a: b")]
    [InlineData("!!FATAL!!:SRT.gg: gone", "SRT.gg", "gone")]
    [InlineData(": no marker at all", "", "no marker at all")]
    public void A_libsrt_line_is_split_into_area_and_text(string line, string area, string text) =>
        Assert.Equal((area, text), SrtLog.Split(line));

    [Theory]
    [InlineData(2, LogLevel.Critical)]
    [InlineData(3, LogLevel.Error)]
    [InlineData(4, LogLevel.Warning)]
    [InlineData(5, LogLevel.Information)]
    [InlineData(7, LogLevel.Trace)]
    public void Libsrt_syslog_levels_map_to_log_levels(int level, LogLevel expected) => Assert.Equal(expected, SrtLog.Level(level));

    [Theory]
    [InlineData(3, "epoll/update: IPE: update struck E13 which is NOT SUBSCRIBED to @873798413", LogLevel.Debug)]
    [InlineData(4, "epoll/update: IPE: update struck E5 which is NOT SUBSCRIBED to @873798427", LogLevel.Debug)]
    [InlineData(4, "processAsyncConnectRequest: REJECT reported from HS processing: Application-defined rejection reason - not processing further", LogLevel.Debug)]
    [InlineData(4, "processAsyncConnectRequest: REJECT reported from HS processing: Peer rejected connection", LogLevel.Debug)]
    [InlineData(4, "processAsyncConnectRequest: REJECT reported from HS processing: Password required or unexpected", LogLevel.Warning)]
    [InlineData(3, "processAsyncConnectRequest: REJECT reported from HS processing: Incorrect passphrase", LogLevel.Error)]
    [InlineData(4, "processAsyncConnectRequest: REJECT reported from HS processing: Incorrect passphrase", LogLevel.Warning)]
    public void Libsrt_noise_is_debug_and_everything_else_keeps_its_level(int level, string text, LogLevel expected) =>
        Assert.Equal(expected, SrtLog.Grade(level, text));

    [Theory]
    [InlineData(1, LogLevel.Error)]
    [InlineData(2, LogLevel.Warning)]
    [InlineData(3, LogLevel.Information)]
    [InlineData(5, LogLevel.Debug)]
    [InlineData(9, LogLevel.Trace)]
    public void GStreamer_debug_levels_map_to_log_levels(int level, LogLevel expected) => Assert.Equal(expected, GstLog.GstLevel(level));

    [Theory]
    [InlineData((1 << 2) | 2, LogLevel.Critical)] // G_LOG_LEVEL_ERROR, fatal
    [InlineData(1 << 3, LogLevel.Error)]           // CRITICAL
    [InlineData((1 << 4) | 1, LogLevel.Warning)]   // WARNING, recursion flag
    [InlineData(1 << 7, LogLevel.Debug)]
    public void GLib_levels_map_to_log_levels(int flags, LogLevel expected) => Assert.Equal(expected, GstLog.GLibLevel(flags));
}
