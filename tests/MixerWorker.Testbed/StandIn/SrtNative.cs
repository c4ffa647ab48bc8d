using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace MixerWorker.Testbed.StandIn;

/// <summary>
/// Direct bindings to libsrt 1.5.1 (Debian libsrt1.5-gnutls). Only what the stand-in and
/// <see cref="SrtClient"/> need. ABI and ownership notes sit next to each group; they were
/// checked against srtcore/srt.h, api.cpp and core.cpp at tag v1.5.1.
/// </summary>
/// <remarks>
/// ABI facts this file depends on (x86-64 Linux):
/// <list type="bullet">
/// <item>SRTSOCKET is int32; SRT_ERROR is -1; SRT_INVALID_SOCK is -1.</item>
/// <item>SRT_SOCKOPT and SRT_SOCKSTATUS are C enums (int).</item>
/// <item>SRT_EPOLL_EVENT is { int fd; int events; } (8 bytes).</item>
/// <item>sockaddr_in is 16 bytes, sockaddr_in6 28 bytes; family is a host-order ushort at offset 0,
///       port is network order at offset 2.</item>
/// <item>Boolean socket options accept either a 1-byte bool or a 4-byte int (socketconfig.h cast_optval).</item>
/// </list>
/// Strings: every <c>const char*</c> libsrt returns (srt_getlasterror_str, the streamid passed to the
/// listen callback) is owned by libsrt, so it is bound as <c>nint</c> and copied, never as
/// <c>string</c> (the LibraryImport marshaller would free() it).
/// Threads: the listen callback runs on libsrt's receive-queue worker thread ("SRT:RcvQ:w1"),
/// without libsrt's global control lock held (api.cpp newConnection maps the socket under the lock,
/// releases it, then calls the hook), so srt_setsockflag / srt_setrejectreason on the new socket
/// are allowed there. It must return quickly: it stalls every socket on that UDP port.
/// An exception must never cross that boundary (the runtime would abort the process).
/// </remarks>
internal static unsafe partial class SrtNative
{
    private const string Lib = "libsrt-gnutls.so.1.5";

    public const int SRT_ERROR = -1;
    public const int SRT_INVALID_SOCK = -1;

    // srt.h SRT_SOCKOPT (only the ones used).
    public const int SRTO_SNDSYN = 1;
    public const int SRTO_RCVSYN = 2;
    public const int SRTO_SNDBUF = 5;
    public const int SRTO_RCVBUF = 6;
    public const int SRTO_LINGER = 7;
    public const int SRTO_FC = 4;
    public const int SRTO_SNDTIMEO = 13;
    public const int SRTO_RCVTIMEO = 14;
    public const int SRTO_REUSEADDR = 15;
    public const int SRTO_LATENCY = 23;
    public const int SRTO_PASSPHRASE = 26;
    public const int SRTO_PBKEYLEN = 27;
    public const int SRTO_CONNTIMEO = 36;
    public const int SRTO_RCVLATENCY = 43;
    public const int SRTO_PEERLATENCY = 44;
    public const int SRTO_STREAMID = 46;
    public const int SRTO_PAYLOADSIZE = 49;
    public const int SRTO_TRANSTYPE = 50;
    public const int SRTO_ENFORCEDENCRYPTION = 53;
    public const int SRTO_PEERIDLETIMEO = 55;

    // srt.h SRT_SOCKSTATUS.
    public const int SRTS_INIT = 1, SRTS_OPENED = 2, SRTS_LISTENING = 3, SRTS_CONNECTING = 4,
        SRTS_CONNECTED = 5, SRTS_BROKEN = 6, SRTS_CLOSING = 7, SRTS_CLOSED = 8, SRTS_NONEXIST = 9;

    // srt.h SRT_ERRNO (1000 * major + minor).
    public const int SRT_ECONNREJ = 1002;
    public const int SRT_ECONNLOST = 2001;
    public const int SRT_ENOCONN = 2002;
    public const int SRT_EINVSOCK = 5004;
    public const int SRT_EASYNCSND = 6001;
    public const int SRT_EASYNCRCV = 6002;
    public const int SRT_ETIMEOUT = 6003;

    // srt.h SRT_EPOLL_OPT.
    public const int SRT_EPOLL_IN = 0x1, SRT_EPOLL_OUT = 0x4, SRT_EPOLL_ERR = 0x8;
    public const int SRT_EPOLL_ENABLE_EMPTY = 1;

    // srt.h SRT_REJECT_REASON and the predefined "HTTP-like" range (access-control.md).
    public const int SRT_REJ_BADSECRET = 10;
    public const int SRT_REJ_UNSECURE = 11;
    public const int SRT_REJX_BAD_REQUEST = 1400;
    public const int SRT_REJX_UNAUTHORIZED = 1401;
    public const int SRT_REJX_FORBIDDEN = 1403;
    public const int SRT_REJX_NOTFOUND = 1404;

    [StructLayout(LayoutKind.Sequential)]
    public struct EpollEvent
    {
        public int Fd;
        public int Events;
    }

    // ---- library lifetime ------------------------------------------------------------------
    // Started through the engine's LibSrt, which also keeps GStreamer's srt plugin from stopping
    // libsrt 1.5.4 under the stand-in when a test's last srt element goes; never srt_cleanup.

    // ---- sockets ---------------------------------------------------------------------------
    // Returned SRTSOCKET is owned by the caller: release with srt_close exactly once.
    [LibraryImport(Lib)] public static partial int srt_create_socket();
    [LibraryImport(Lib)] public static partial int srt_bind(int u, void* name, int namelen);
    [LibraryImport(Lib)] public static partial int srt_listen(int u, int backlog);
    // Returned socket is owned by the caller (srt_close). addr/addrlen are caller buffers.
    [LibraryImport(Lib)] public static partial int srt_accept(int u, void* addr, int* addrlen);
    // hook_fn: int (*)(void* opaque, SRTSOCKET ns, int hsversion, const sockaddr* peer, const char* streamid).
    // Return 0 to go on with the handshake, -1 to reject. peer and streamid are borrowed for the
    // duration of the call. opaque is stored by libsrt until the listener is closed.
    [LibraryImport(Lib)] public static partial int srt_listen_callback(int lsn, nint hookFn, nint hookOpaque);
    [LibraryImport(Lib)] public static partial int srt_connect(int u, void* name, int namelen);
    [LibraryImport(Lib)] public static partial int srt_close(int u);
    [LibraryImport(Lib)] public static partial int srt_getsockname(int u, void* name, int* namelen);
    [LibraryImport(Lib)] public static partial int srt_getsockstate(int u);
    [LibraryImport(Lib)] public static partial int srt_getsockflag(int u, int opt, void* optval, int* optlen);
    [LibraryImport(Lib)] public static partial int srt_setsockflag(int u, int opt, void* optval, int optlen);

    // ---- data ------------------------------------------------------------------------------
    // Live mode: one call = one message (at most SRTO_PAYLOADSIZE, 1316 by default).
    [LibraryImport(Lib)] public static partial int srt_sendmsg(int u, byte* buf, int len, int ttl, int inorder);
    [LibraryImport(Lib)] public static partial int srt_recvmsg(int u, byte* buf, int len);

    // ---- statistics ------------------------------------------------------------------------
    // SRT_TRACEBSTATS (CBytePerfMon, srt.h of libsrt 1.5.1) is 496 bytes on x86-64; StandInTrace reads its fields by offset.
    public const int TraceBStatsSize = 496;
    [LibraryImport(Lib)] public static partial int srt_bistats(int u, byte* perf, int clear, int instantaneous);

    // ---- errors ----------------------------------------------------------------------------
    // Thread-local last error. The string is owned by libsrt: bound as nint, copied.
    [LibraryImport(Lib)] public static partial nint srt_getlasterror_str();
    [LibraryImport(Lib)] public static partial int srt_getlasterror(int* errnoLoc);
    [LibraryImport(Lib)] public static partial int srt_getrejectreason(int sock);
    [LibraryImport(Lib)] public static partial int srt_setrejectreason(int sock, int value);
    [LibraryImport(Lib)] public static partial nint srt_rejectreason_str(int id);

    // ---- epoll -----------------------------------------------------------------------------
    // eid is owned by the caller: srt_epoll_release. Level triggered unless SRT_EPOLL_ET.
    [LibraryImport(Lib)] public static partial int srt_epoll_create();
    [LibraryImport(Lib)] public static partial int srt_epoll_add_usock(int eid, int u, int* events);
    [LibraryImport(Lib)] public static partial int srt_epoll_remove_usock(int eid, int u);
    [LibraryImport(Lib)] public static partial int srt_epoll_uwait(int eid, EpollEvent* fdsSet, int fdsSize, long msTimeOut);
    [LibraryImport(Lib)] public static partial int srt_epoll_set(int eid, int flags);
    [LibraryImport(Lib)] public static partial int srt_epoll_release(int eid);

    // ---- helpers ---------------------------------------------------------------------------
    public static void EnsureStarted() => MixerWorker.Pipeline.Srt.LibSrt.EnsureStarted();

    public static int LastError()
    {
        int sys = 0;
        return srt_getlasterror(&sys);
    }

    public static string LastErrorText() => Marshal.PtrToStringUTF8(srt_getlasterror_str()) ?? "unknown SRT error";

    public static string RejectReasonText(int reason)
    {
        var p = srt_rejectreason_str(reason);
        return p == 0 ? reason.ToString() : Marshal.PtrToStringUTF8(p) ?? reason.ToString();
    }

    public static void SetInt(int u, int opt, int value, string what)
    {
        if (srt_setsockflag(u, opt, &value, sizeof(int)) == SRT_ERROR)
            throw new SrtException($"setting {what} failed: {LastErrorText()}", LastError(), 0);
    }

    public static void SetBool(int u, int opt, bool value, string what) => SetInt(u, opt, value ? 1 : 0, what);

    /// <summary>Sets a string option. Returns false instead of throwing: the listen callback uses it.</summary>
    public static bool TrySetString(int u, int opt, string value)
    {
        var bytes = System.Text.Encoding.UTF8.GetBytes(value);
        fixed (byte* p = bytes)
            return srt_setsockflag(u, opt, p, bytes.Length) != SRT_ERROR;
    }

    /// <summary>Encodes an IPv4/IPv6 endpoint as sockaddr_in / sockaddr_in6 into <paramref name="buf"/> (≥ 28 bytes).</summary>
    public static int WriteSockaddr(IPEndPoint ep, Span<byte> buf)
    {
        buf.Clear();
        if (ep.AddressFamily == AddressFamily.InterNetwork)
        {
            BitConverter.TryWriteBytes(buf, (ushort)2); // AF_INET, host order
            buf[2] = (byte)(ep.Port >> 8); buf[3] = (byte)ep.Port;
            ep.Address.TryWriteBytes(buf.Slice(4, 4), out _);
            return 16;
        }
        if (ep.AddressFamily == AddressFamily.InterNetworkV6)
        {
            BitConverter.TryWriteBytes(buf, (ushort)10); // AF_INET6 on Linux
            buf[2] = (byte)(ep.Port >> 8); buf[3] = (byte)ep.Port;
            ep.Address.TryWriteBytes(buf.Slice(8, 16), out _);
            BitConverter.TryWriteBytes(buf.Slice(24, 4), (uint)ep.Address.ScopeId);
            return 28;
        }
        throw new ArgumentException("only IPv4/IPv6 endpoints are supported", nameof(ep));
    }

    /// <summary>Decodes a sockaddr (borrowed pointer); null when the family is unknown.</summary>
    public static IPEndPoint? ReadSockaddr(byte* sa)
    {
        if (sa == null) return null;
        ushort family = *(ushort*)sa;
        int port = (sa[2] << 8) | sa[3];
        if (family == 2) return new IPEndPoint(new IPAddress(new ReadOnlySpan<byte>(sa + 4, 4)), port);
        if (family == 10) return new IPEndPoint(new IPAddress(new ReadOnlySpan<byte>(sa + 8, 16), *(uint*)(sa + 24)), port);
        return null;
    }

    public static bool IsTerminalState(int state) =>
        state is SRTS_BROKEN or SRTS_CLOSING or SRTS_CLOSED or SRTS_NONEXIST;
}

/// <summary>An SRT call failed. <see cref="RejectReason"/> is libsrt's SRT_REJECT_REASON (or SRT_REJX_* code) for connect failures, else 0.</summary>
public sealed class SrtException(string message, int errorCode, int rejectReason) : Exception(message)
{
    public int ErrorCode { get; } = errorCode;
    public int RejectReason { get; } = rejectReason;
}
