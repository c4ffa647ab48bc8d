using System.Runtime.InteropServices;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging;

namespace MixerWorker.Pipeline.Srt;

/// <summary>
/// libsrt's own log (one process-wide stream, shared by the engine's reader and GStreamer's srtsink)
/// sent through the engine's logger instead of raw lines on stderr, where they would break the JSON
/// logs. libsrt 1.5.1 (srtcore/srt.h, logging_api.h): the handler runs on libsrt's threads with its
/// log lock held, so it only formats and hands the line on; it must never call back into libsrt.
/// </summary>
internal static unsafe partial class SrtLog
{
    // logging_api.h: which parts libsrt puts in front of the text. Time and thread name are the
    // logger's business; the severity marker and area ("!W:SRT.cn") are kept and parsed off.
    private const int DisableTime = 1, DisableThreadName = 2, DisableEol = 8;

    // syslog levels, which libsrt uses (LogLevel::fatal = LOG_CRIT ... debug = LOG_DEBUG).
    private const int LogCrit = 2, LogErr = 3, LogWarning = 4, LogNotice = 5, LogInfo = 6;

    [LibraryImport(LibSrt.Library)] private static partial void srt_setloghandler(nint opaque, delegate* unmanaged<nint, int, byte*, int, byte*, byte*, void> handler);
    [LibraryImport(LibSrt.Library)] private static partial void srt_setlogflags(int flags);
    [LibraryImport(LibSrt.Library)] private static partial void srt_setloglevel(int level);

    private static volatile Sink? s_sink;

    private sealed record Sink(ILogger Logger, Func<string, string> Redact);

    /// <summary>
    /// Routes libsrt's log to <paramref name="logger"/> from now on (warnings and worse, libsrt's
    /// default), with <paramref name="redact"/> applied to every line. Calling it again replaces the target.
    /// </summary>
    internal static void Route(ILogger logger, Func<string, string> redact)
    {
        s_sink = new Sink(logger, redact);
        try
        {
            srt_setlogflags(DisableTime | DisableThreadName | DisableEol);
            srt_setloglevel(LogWarning);
            srt_setloghandler(0, &OnLog);
        }
        catch (DllNotFoundException)
        {
            // No libsrt: nothing can log through it either; the self-check names the package to install.
        }
    }

    [UnmanagedCallersOnly]
    private static void OnLog(nint opaque, int level, byte* file, int line, byte* area, byte* message)
    {
        try
        {
            if (s_sink is not { } sink) return;
            var (severityArea, text) = Split(Marshal.PtrToStringUTF8((nint)message) ?? "");
            var logLevel = Grade(level, text);
            if (!sink.Logger.IsEnabled(logLevel)) return;
            sink.Logger.Log(logLevel, "libsrt {SrtArea}: {SrtMessage}", severityArea, sink.Redact(text));
        }
        catch
        {
            // An exception must never unwind into libsrt; a lost log line is the lesser harm.
        }
    }

    /// <summary>libsrt's syslog level as the logger's.</summary>
    internal static LogLevel Level(int syslogLevel) => syslogLevel switch
    {
        <= LogCrit => LogLevel.Critical,
        LogErr => LogLevel.Error,
        LogWarning => LogLevel.Warning,
        LogNotice => LogLevel.Information,
        LogInfo => LogLevel.Debug,
        _ => LogLevel.Trace,
    };

    /// <summary>
    /// The level a libsrt line is logged at: its own, except for known noise.
    /// - libsrt 1.5 reports an epoll update for a socket that its poller dropped a moment before ("IPE:
    ///   update struck E5 which is NOT SUBSCRIBED to @…") as an error; it happens whenever a connection
    ///   closes while being polled (every reconnect and shutdown), harms nothing, and would page an SRE.
    /// - libsrt warns about every refused handshake ("REJECT reported from HS processing: …"): twice a
    ///   second for each missing input while its path is probed (MediaMTX refuses a read of an
    ///   unpublished path). The supervisor says what happened once, in words. A refused passphrase,
    ///   which libsrt names better than srtsink does, keeps its level.
    /// </summary>
    internal static LogLevel Grade(int syslogLevel, string text) => text switch
    {
        _ when text.Contains("NOT SUBSCRIBED", StringComparison.Ordinal) => LogLevel.Debug,
        _ when text.Contains("REJECT", StringComparison.Ordinal)
            && !text.Contains("passphrase", StringComparison.OrdinalIgnoreCase) && !text.Contains("Password", StringComparison.OrdinalIgnoreCase) => LogLevel.Debug,
        _ => Level(syslogLevel),
    };

    /// <summary>"!W:SRT.cn: text" → ("SRT.cn", "text"); a line without the marker is kept whole.</summary>
    internal static (string Area, string Text) Split(string line)
    {
        line = line.TrimEnd('\n', '\r', ' ');
        var m = Prefix().Match(line);
        return m.Success ? (m.Groups["area"].Value, m.Groups["text"].Value) : ("", line.TrimStart(':', ' '));
    }

    // The severity marker (" D", ".N", "!W", "*E", "!!FATAL!!") and the functional area, as logging.h writes them.
    [GeneratedRegex(@"^\s*[!.*]*[A-Z]+!*:(?<area>[^:\s]+): (?<text>.*)$", RegexOptions.Singleline)]
    private static partial Regex Prefix();
}
