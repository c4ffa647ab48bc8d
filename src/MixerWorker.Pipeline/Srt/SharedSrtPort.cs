using System.Net;
using System.Net.Sockets;
using static MixerWorker.Pipeline.Srt.LibSrt;

namespace MixerWorker.Pipeline.Srt;

/// <summary>
/// The one local UDP port that every output of the process (its srtsink) calls from, so that libsrt runs them
/// all on one multiplexer: one UDP socket, one send and one receive thread, instead of two threads per
/// connection that each wake on their own timers.
/// </summary>
/// <remarks>
/// libsrt 1.5.1 (api.cpp updateMux) hands a socket bound to a port that a multiplexer already holds to
/// that multiplexer when the channel settings match: IP TTL and ToS, IPV6_V6ONLY, address reuse and the
/// UDP buffer sizes. srtsink sets none of them but IPV6_V6ONLY (<see cref="SrtSinkSetsIPv6Only"/>), which the
/// holder below then sets alike; passphrase, latency and streamid are the connection's, not the channel's.
/// A socket of our own, bound to 0.0.0.0:0 on first use and never connected, holds the multiplexer and the
/// port the kernel chose for the life of the process: no port is guessed, so workers sharing a host never
/// collide, and the port stays while outputs come, fail and reconnect (libsrt closes a multiplexer when its
/// last socket is gone; the holder is never gone).
/// MediaMTX's listener (gosrt) tells callers apart by their SRT socket id, never by their address.
/// The inputs keep a multiplexer each: all sockets of a multiplexer share one kernel receive buffer, which
/// the kernel caps at net.core.rmem_max (commonly 208 KB, doubled), and the inputs are what arrives; the
/// outputs receive only acknowledgements.
/// IPv4 only: binding IPv6's wildcard needs SRTO_IPV6ONLY set on every socket, and srtsink (GStreamer
/// 1.22) has no property for it; a hub reached over IPv6 gets one multiplexer per output, as before.
/// </remarks>
internal static unsafe class SharedSrtPort
{
    private static readonly Lazy<int?> Holder = new(Bind, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>The shared port, bound on first use; null when it could not be bound (callers then bind nothing).</summary>
    internal static int? Port => Holder.Value;

    /// <summary>The IPv4 address srtsink should call <paramref name="host"/> at, so that it can bind to the
    /// shared port: the literal itself, or the first IPv4 address the resolver gives; null for IPv6 or no answer.</summary>
    internal static IPAddress? IPv4Of(string host)
    {
        if (IPAddress.TryParse(host, out var literal)) return literal.AddressFamily == AddressFamily.InterNetwork ? literal : null;
        try { return Dns.GetHostAddresses(host, AddressFamily.InterNetwork).FirstOrDefault(); }
        // srtsink then resolves the name itself and reports the failure as it always did.
        catch (SocketException) { return null; }
    }

    private static int? Bind()
    {
        EnsureStarted();
        var socket = srt_create_socket();
        if (socket == InvalidSocket) return null;
        if ((SrtSinkSetsIPv6Only && !SetInt(socket, SRTO_IPV6ONLY, 0)) || !BindTo(socket, 0))
        {
            srt_close(socket);
            return null;
        }
        Span<byte> bound = stackalloc byte[28];
        var length = bound.Length;
        fixed (byte* p = bound)
        {
            if (srt_getsockname(socket, p, &length) == Error)
            {
                srt_close(socket);
                return null;
            }
        }
        return ReadPort(bound);
    }

    /// <summary>
    /// srtsink from GStreamer 1.24 on sets SRTO_IPV6ONLY to 0 on every socket before binding (1.22's leaves it
    /// unset, -1), and libsrt lets a socket onto a multiplexer only with the same value (1.5.1: every channel
    /// setting equal; 1.5.4 also takes an unset one). A holder left unset refused every output of GStreamer
    /// 1.26's srtsink ("Cannot bind ... not reusable for requested settings"); one set to 0 would refuse
    /// 1.22's on libsrt 1.5.1.
    /// </summary>
    private static bool SrtSinkSetsIPv6Only => Interop.GstRuntime.Version >= new Version(1, 24);

    private static bool BindTo(int socket, int port)
    {
        Span<byte> sockaddr = stackalloc byte[28];
        var length = WriteSockaddr(new IPEndPoint(IPAddress.Any, port), sockaddr);
        fixed (byte* p = sockaddr) return srt_bind(socket, p, length) != Error;
    }
}
