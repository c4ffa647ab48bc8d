using System.Net;
using System.Net.Sockets;
using static MixerWorker.Testbed.StandIn.SrtNative;

namespace MixerWorker.Testbed.StandIn;

/// <summary>Caller-side settings of an <see cref="SrtClient"/>.</summary>
public sealed record SrtClientOptions
{
    /// <summary>SRTO_PASSPHRASE; null = unencrypted. Never logged.</summary>
    public string? Passphrase { get; init; }
    /// <summary>SRTO_PBKEYLEN in bytes (16, 24, 32); 0 leaves libsrt's default.</summary>
    public int PbKeyLength { get; init; }
    /// <summary>SRTO_LATENCY (sets receiver and peer latency).</summary>
    public int LatencyMs { get; init; } = 120;
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(3);
    /// <summary>SRTO_RCVBUF in bytes and SRTO_FC in packets, to make a deliberately slow reader that fills up fast. Null = default.</summary>
    public int? ReceiveBufferBytes { get; init; }
    public int? FlowWindowPackets { get; init; }

    public override string ToString() =>
        $"SrtClientOptions {{ Passphrase = {(Passphrase is null ? "none" : "***")}, PbKeyLength = {PbKeyLength}, LatencyMs = {LatencyMs} }}";
}

/// <summary>
/// Minimal blocking SRT caller (live mode) for tests and the demo: connect with a streamid, send or
/// receive whole messages, close. Not thread-safe except that <see cref="Dispose"/> may race a blocked call.
/// </summary>
public sealed unsafe class SrtClient : IDisposable
{
    private int _socket;
    private int _rcvTimeoutMs = int.MinValue;

    public string StreamId { get; }

    private SrtClient(int socket, string streamId)
    {
        _socket = socket;
        StreamId = streamId;
    }

    /// <summary>
    /// Connects or throws <see cref="SrtException"/> whose <see cref="SrtException.RejectReason"/> tells why
    /// (e.g. 1404 no stream, 1401 bad token, SRT_REJ_BADSECRET 10, SRT_REJ_UNSECURE 11).
    /// </summary>
    public static SrtClient Connect(string host, int port, string streamId, SrtClientOptions? options = null)
    {
        options ??= new SrtClientOptions();
        EnsureStarted();
        var address = IPAddress.TryParse(host, out var ip) ? ip
            : Dns.GetHostAddresses(host).First(a => a.AddressFamily == AddressFamily.InterNetwork);
        int s = srt_create_socket();
        if (s == SRT_INVALID_SOCK) throw new SrtException("srt_create_socket failed: " + LastErrorText(), LastError(), 0);
        try
        {
            if (!TrySetString(s, SRTO_STREAMID, streamId))
                throw new SrtException("setting SRTO_STREAMID failed: " + LastErrorText(), LastError(), 0);
            if (options.Passphrase is not null && !TrySetString(s, SRTO_PASSPHRASE, options.Passphrase))
                throw new SrtException("setting SRTO_PASSPHRASE failed: " + LastErrorText(), LastError(), 0);
            if (options.PbKeyLength != 0) SetInt(s, SRTO_PBKEYLEN, options.PbKeyLength, "SRTO_PBKEYLEN");
            SetInt(s, SRTO_LATENCY, options.LatencyMs, "SRTO_LATENCY");
            SetInt(s, SRTO_CONNTIMEO, (int)options.ConnectTimeout.TotalMilliseconds, "SRTO_CONNTIMEO");
            if (options.FlowWindowPackets is { } fc) SetInt(s, SRTO_FC, fc, "SRTO_FC");
            if (options.ReceiveBufferBytes is { } rb) SetInt(s, SRTO_RCVBUF, rb, "SRTO_RCVBUF");

            Span<byte> sa = stackalloc byte[28];
            int len = WriteSockaddr(new IPEndPoint(address, port), sa);
            fixed (byte* p = sa)
            {
                if (srt_connect(s, p, len) == SRT_ERROR)
                {
                    int err = LastError();
                    string text = LastErrorText();
                    int reason = srt_getrejectreason(s);
                    throw new SrtException(
                        $"SRT connect to {host}:{port} (streamid '{StreamIdParser.MaskPassword(streamId)}') failed: {text}; reject reason {reason} ({RejectReasonText(reason)})",
                        err, reason);
                }
            }
            return new SrtClient(s, streamId);
        }
        catch
        {
            srt_close(s);
            throw;
        }
    }

    public bool IsConnected => _socket != SRT_INVALID_SOCK && srt_getsockstate(_socket) == SRTS_CONNECTED;

    /// <summary>Sends one message (≤ 1316 bytes in live mode). Throws when the connection is gone.</summary>
    public void Send(ReadOnlySpan<byte> message)
    {
        fixed (byte* p = message)
        {
            if (srt_sendmsg(Socket, p, message.Length, -1, 0) == SRT_ERROR)
                throw new SrtException("srt_sendmsg failed: " + LastErrorText(), LastError(), 0);
        }
    }

    /// <summary>Receives one message. Returns its length, 0 on timeout, or -1 when the connection is closed/broken.</summary>
    public int Receive(Span<byte> buffer, TimeSpan timeout)
    {
        int s = Socket;
        int ms = (int)Math.Max(1, timeout.TotalMilliseconds);
        if (ms != _rcvTimeoutMs)
        {
            SetInt(s, SRTO_RCVTIMEO, ms, "SRTO_RCVTIMEO");
            _rcvTimeoutMs = ms;
        }
        fixed (byte* p = buffer)
        {
            int n = srt_recvmsg(s, p, buffer.Length);
            if (n >= 0) return n;
            int err = LastError();
            if (err is SRT_ETIMEOUT or SRT_EASYNCRCV) return 0;
            return -1;
        }
    }

    /// <summary>Polls until the server has closed the connection; true when it did within <paramref name="timeout"/>.</summary>
    public bool WaitForDisconnect(TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        do
        {
            if (IsTerminalState(srt_getsockstate(Socket))) return true;
            Thread.Sleep(10);
        } while (DateTime.UtcNow < deadline);
        return IsTerminalState(srt_getsockstate(Socket));
    }

    private int Socket => _socket == SRT_INVALID_SOCK ? throw new ObjectDisposedException(nameof(SrtClient)) : _socket;

    public void Dispose()
    {
        int s = Interlocked.Exchange(ref _socket, SRT_INVALID_SOCK);
        if (s != SRT_INVALID_SOCK) srt_close(s);
    }
}
