using System.Net;
using MixerWorker.Pipeline.Interop;

namespace MixerWorker.Pipeline.Srt;

/// <summary>Settings of GStreamer SRT callers (the outputs' srtsink; inputs read with <see cref="SrtCallerReader"/>).</summary>
internal static class SrtElements
{
    internal static void ConfigureCaller(Element element, SrtEndpoint endpoint)
    {
        // Bound to the process's shared port, every output runs on one libsrt multiplexer (SharedSrtPort).
        // srtsink binds only when given both a local address and port, and the address's family must be
        // the peer's, so the hub is named by the IPv4 address resolved here (the lookup srtsink made
        // itself, on this same thread, when it started).
        if (SharedSrtPort.Port is { } port && SharedSrtPort.IPv4Of(endpoint.Host) is { } hub)
        {
            element.Set("uri", $"srt://{hub}:{endpoint.Port}");
            element.Set("localaddress", IPAddress.Any.ToString());
            element.Set("localport", port);
        }
        else element.Set("uri", endpoint.Uri);
        // The streamid and passphrase are set as properties, not in the URI, so neither is parsed
        // by URI code nor shows up in the uri property.
        element.Set("streamid", endpoint.StreamId);
        element.Set("latency", endpoint.LatencyMs);
        if (endpoint.Passphrase is not null)
        {
            element.Set("passphrase", endpoint.Passphrase);
            element.Set("pbkeylen", 16);
        }
        // libsrt's own reconnect loop floods the bus with warnings and never reports failure;
        // reconnecting is the supervisor's job.
        element.Set("auto-reconnect", false);
        // An infinite poll (the default) can keep a streaming thread inside libsrt when the element
        // is stopped; a bounded one lets it notice the state change.
        element.Set("poll-timeout", 100);
    }

    /// <summary>
    /// Whether srtsink, given a buffer while its handshake runs, holds the pushing thread until the handshake
    /// ends, wait-for-connection off or not: from GStreamer 1.24 on its write polls the connecting socket
    /// with a zero timeout and polls again at once while that times out (gstsrtobject.c, write_one), a busy
    /// loop of up to libsrt's connect timeout against a hub that does not answer. 1.22's drops the buffer.
    /// </summary>
    internal static bool WriteWaitsForHandshake => GstRuntime.Version >= new Version(1, 24);

    /// <summary>
    /// By when a caller srtsink's handshake has ended, connected or failed: libsrt's connect timeout
    /// (SRTO_CONNTIMEO, 3 s unless set; srtsink does not set it), and time to spare.
    /// </summary>
    internal static readonly TimeSpan HandshakeOver = TimeSpan.FromSeconds(3.5);

    /// <summary>
    /// Whether a caller srtsink's handshake is done (the hub accepted it). Its stats carry the socket's
    /// counters only then: libsrt refuses them for a socket not connected (CUDT::bstats), and srtsink then
    /// leaves them out; nothing needs to be sent to tell.
    /// </summary>
    internal static bool IsConnected(Element sink) => sink.HasStructureField("stats", "packets-sent");
}
