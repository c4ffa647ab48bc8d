using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using MixerWorker.Pipeline.Interop;

namespace MixerWorker.Pipeline.Srt;

// The libsrt 1.5.1 functions the engine's SRT reader uses (Debian libsrt1.5-gnutls), bound with
// LibraryImport. Constants and signatures were checked against srtcore/srt.h, access_control.h,
// api.cpp, core.cpp and epoll.cpp at tag v1.5.1.
//
// ABI (x86-64 Linux):
//   SRTSOCKET is int32; SRT_ERROR and SRT_INVALID_SOCK are -1. SRT_SOCKOPT and SRT_SOCKSTATUS are
//   C enums (int). SRT_EPOLL_EVENT is { int fd; int events; } (8 bytes). sockaddr_in is 16 bytes and
//   sockaddr_in6 28: the family is a host-order ushort at offset 0, the port network-order at 2.
//   Integer options take a 4-byte int; SRTO_TRANSTYPE takes the SRT_TRANSTYPE enum as an int.
// Ownership:
//   A socket from srt_create_socket belongs to the caller until srt_close (exactly once); an epoll id
//   from srt_epoll_create until srt_epoll_release. Every const char* libsrt returns
//   (srt_getlasterror_str, srt_rejectreason_str) is libsrt's own and is bound as nint and copied:
//   a `string` return would be free()d by the marshaller.
// Threads:
//   The last error is thread-local: read it on the thread that made the failing call, right after.
//   srt_startup is counted inside libsrt and GStreamer's srt plugin calls it too, so the engine calls
//   it once per process and never calls srt_cleanup (that would pull the library out from under the
//   plugin's srtsink). libsrt 1.5.4 (Debian 13, the image's) counts a start only while its collector is
//   stopped, so the plugin's start after the engine's is not counted and the plugin's srt_cleanup, when
//   its last element goes, stops libsrt and closes every socket in the process: the engine's readers and
//   shared port, or a test's stand-in hub (fixed in libsrt 1.5.5). On 1.5.4 EnsureStarted therefore also
//   holds one plugin element for the process's life, so the plugin never calls srt_cleanup. Only there: where
//   starts are counted, a held element's start would outlive the one cleanup libsrt's own destructor makes at
//   exit, which then tears the library down under its still running collector thread (SIGSEGV at exit, 1.5.1).
// Order of options: SRTO_TRANSTYPE resets latency and other live settings to their defaults
// (socketconfig.cpp), so it is set first.
internal static unsafe partial class LibSrt
{
    internal const string Library = "libsrt-gnutls.so.1.5";
    internal const string DebianPackage = "libsrt1.5-gnutls";

    internal const int Error = -1;
    internal const int InvalidSocket = -1;

    // SRT_SOCKOPT
    internal const int SRTO_SNDSYN = 1, SRTO_RCVSYN = 2, SRTO_LATENCY = 23, SRTO_PASSPHRASE = 26, SRTO_PBKEYLEN = 27,
        SRTO_CONNTIMEO = 36, SRTO_STREAMID = 46, SRTO_TRANSTYPE = 50, SRTO_IPV6ONLY = 54;

    internal const int SRTT_LIVE = 0;

    // SRT_SOCKSTATUS
    internal const int SRTS_CONNECTED = 5, SRTS_BROKEN = 6, SRTS_CLOSING = 7, SRTS_CLOSED = 8, SRTS_NONEXIST = 9;

    // SRT_ERRNO (1000 * major + minor): a non-blocking read found nothing to read.
    internal const int SRT_EASYNCRCV = 6002;

    // SRT_REJECT_REASON, then the "HTTP-like" codes a listener may send (access_control.h).
    internal const int SRT_REJ_UNKNOWN = 0, SRT_REJ_PEER = 2, SRT_REJ_VERSION = 8, SRT_REJ_BADSECRET = 10, SRT_REJ_UNSECURE = 11, SRT_REJ_TIMEOUT = 16;
    internal const int SRT_REJX_BAD_REQUEST = 1400, SRT_REJX_UNAUTHORIZED = 1401, SRT_REJX_FORBIDDEN = 1403, SRT_REJX_NOTFOUND = 1404;

    // SRT_EPOLL_OPT
    internal const int SRT_EPOLL_IN = 0x1, SRT_EPOLL_OUT = 0x4, SRT_EPOLL_ERR = 0x8;

    [StructLayout(LayoutKind.Sequential)]
    internal struct EpollEvent
    {
        internal int Socket;
        internal int Events;
    }

    [LibraryImport(Library)] internal static partial int srt_startup();
    [LibraryImport(Library)] internal static partial uint srt_getversion(); // (major << 16) | (minor << 8) | patch

    /// <summary>libsrt 1.5.4 does not count a start made while it runs (see "Threads" above).</summary>
    internal static bool MiscountsStarts => srt_getversion() == 0x010504;

    [LibraryImport(Library)] internal static partial int srt_create_socket(); // owned: srt_close
    [LibraryImport(Library)] internal static partial int srt_setsockflag(int socket, int option, void* value, int length);
    // A socket bound to an address and port that a multiplexer already has joins that multiplexer when
    // the channel settings match (api.cpp updateMux); port 0 makes a new one on a port the kernel picks.
    [LibraryImport(Library)] internal static partial int srt_bind(int socket, void* address, int length);
    // Answers the bound address of a socket that is bound or connected (length in: buffer size, out: used).
    [LibraryImport(Library)] internal static partial int srt_getsockname(int socket, void* address, int* length);
    // Non-blocking (SRTO_RCVSYN false): returns at once; the outcome shows on the epoll and in srt_getsockstate.
    [LibraryImport(Library)] internal static partial int srt_connect(int socket, void* address, int length);
    // Takes the socket's connection, send and receive locks (core.cpp closeInternal): only the thread
    // that owns the socket calls it, so it never waits behind that thread's own calls.
    [LibraryImport(Library)] internal static partial int srt_close(int socket);
    [LibraryImport(Library)] internal static partial int srt_getsockstate(int socket);
    // Live mode: one call returns one whole message; len must hold the largest (1456 bytes).
    [LibraryImport(Library)] internal static partial int srt_recvmsg(int socket, byte* buffer, int length);

    [LibraryImport(Library)] internal static partial int srt_getlasterror(int* systemErrno);
    [LibraryImport(Library)] internal static partial nint srt_getlasterror_str(); // borrowed, thread-local
    // Why a connect failed; read it before srt_close (a socket libsrt no longer knows answers 0, "unknown").
    [LibraryImport(Library)] internal static partial int srt_getrejectreason(int socket);
    [LibraryImport(Library)] internal static partial nint srt_rejectreason_str(int reason); // borrowed, static

    [LibraryImport(Library)] internal static partial int srt_epoll_create(); // owned: srt_epoll_release
    [LibraryImport(Library)] internal static partial int srt_epoll_add_usock(int eid, int socket, int* events);
    [LibraryImport(Library)] internal static partial int srt_epoll_update_usock(int eid, int socket, int* events);
    // Returns the number of ready sockets, 0 on timeout, -1 on error (an eid left empty by srt_close is an error).
    [LibraryImport(Library)] internal static partial int srt_epoll_uwait(int eid, EpollEvent* events, int count, long timeoutMs);
    [LibraryImport(Library)] internal static partial int srt_epoll_release(int eid);

    // SRT_TRACEBSTATS (CBytePerfMon, srt.h) is 496 bytes on x86-64 in libsrt 1.5.1; later versions append fields,
    // so the buffer leaves room for them. The fields read lie at its start, where they have always been.
    internal const int BStatsSize = 1024;
    internal const int BStatsRcvLossTotal = 28, BStatsRcvDropTotal = 68;
    [LibraryImport(Library)] internal static partial int srt_bistats(int socket, byte* perf, int clear, int instantaneous);

    private static readonly Lazy<int> Startup = new(StartHoldingThePlugin, LazyThreadSafetyMode.ExecutionAndPublication);

    // Never disposed: see "Threads" above.
    private static Element? s_pluginHold;

    private static int StartHoldingThePlugin()
    {
        // Without srtsink the outputs report the missing plugin themselves; the readers need no hold then.
        if (MiscountsStarts)
        {
            try { s_pluginHold = Element.Make("srtsink", "srt-library-hold"); }
            catch (GstException) { }
        }
        return srt_startup();
    }

    /// <summary>Whether this process holds an srt plugin element (see "Threads" above); for tests.</summary>
    internal static bool HoldsThePlugin => s_pluginHold is not null;

    /// <summary>Loads libsrt and starts it once per process; throws an actionable message when it is missing.</summary>
    internal static void EnsureStarted()
    {
        int result;
        try { result = Startup.Value; }
        catch (DllNotFoundException)
        {
            throw new GstMissingException($"libsrt is not installed: {Library} was not found. Install the Debian package {DebianPackage}.");
        }
        if (result < 0) throw new GstMissingException($"libsrt failed to start: {LastErrorText()}");
    }

    internal static int LastError() => srt_getlasterror(null);

    internal static string LastErrorText() => Marshal.PtrToStringUTF8(srt_getlasterror_str()) ?? "unknown SRT error";

    internal static string RejectReasonText(int reason) => Marshal.PtrToStringUTF8(srt_rejectreason_str(reason)) ?? $"reason {reason}";

    internal static bool SetInt(int socket, int option, int value) => srt_setsockflag(socket, option, &value, sizeof(int)) != Error;

    internal static bool SetBool(int socket, int option, bool value) => SetInt(socket, option, value ? 1 : 0);

    internal static bool SetString(int socket, int option, string value)
    {
        var bytes = System.Text.Encoding.UTF8.GetBytes(value);
        fixed (byte* p = bytes) return srt_setsockflag(socket, option, p, bytes.Length) != Error;
    }

    /// <summary>Reads the port of a sockaddr_in or sockaddr_in6 (network order at offset 2).</summary>
    internal static int ReadPort(ReadOnlySpan<byte> sockaddr) => sockaddr[2] << 8 | sockaddr[3];

    /// <summary>Writes <paramref name="endpoint"/> as a sockaddr_in or sockaddr_in6; returns its length.</summary>
    internal static int WriteSockaddr(IPEndPoint endpoint, Span<byte> buffer)
    {
        buffer.Clear();
        buffer[2] = (byte)(endpoint.Port >> 8);
        buffer[3] = (byte)endpoint.Port;
        switch (endpoint.AddressFamily)
        {
            case AddressFamily.InterNetwork:
                BitConverter.TryWriteBytes(buffer, (ushort)2); // AF_INET
                endpoint.Address.TryWriteBytes(buffer.Slice(4, 4), out _);
                return 16;
            case AddressFamily.InterNetworkV6:
                BitConverter.TryWriteBytes(buffer, (ushort)10); // AF_INET6 on Linux
                endpoint.Address.TryWriteBytes(buffer.Slice(8, 16), out _);
                BitConverter.TryWriteBytes(buffer.Slice(24, 4), (uint)endpoint.Address.ScopeId);
                return 28;
            default:
                throw new ArgumentException("only IPv4 and IPv6 addresses can be reached over SRT", nameof(endpoint));
        }
    }
}
