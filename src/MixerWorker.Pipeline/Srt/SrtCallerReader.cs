using System.Net;
using System.Net.Sockets;
using static MixerWorker.Pipeline.Srt.LibSrt;

namespace MixerWorker.Pipeline.Srt;

/// <summary>Takes one batch of received bytes (whole SRT messages); runs on the reader's thread.
/// Returns false when the consumer is gone and reading should stop.</summary>
internal delegate bool SrtDataSink(ReadOnlySpan<byte> data);

/// <summary>
/// One SRT caller connection that reads a live stream, on a thread of its own that owns the socket.
/// </summary>
/// <remarks>
/// Stopping never waits on libsrt: the socket is non-blocking and the thread waits in
/// srt_epoll_uwait with a short timeout, so it sees the stop request within one poll interval
/// whether it is resolving, connecting or receiving, and then closes the socket itself. The thread
/// that stops the reader (the engine's control thread) makes no libsrt call at all and waits for
/// the reader only a bounded time. A blocking connect would not do: libsrt holds the socket's
/// connection lock for the whole connect, and srt_close from another thread waits on that lock
/// (core.cpp startConnect/closeInternal, v1.5.1).
/// </remarks>
internal sealed unsafe class SrtCallerReader : IDisposable
{
    /// <summary>How long MediaMTX may take to answer the handshake. MediaMTX delays a refused
    /// authentication by up to a few seconds, so this is longer than libsrt's 3 s default.</summary>
    internal static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(4);
    /// <summary>How long <see cref="Dispose"/> waits for the thread; a poll interval is enough.</summary>
    internal static readonly TimeSpan StopWait = TimeSpan.FromSeconds(1);

    private const int PollMs = 50;
    private const int LargestMessage = 1456;  // SRT_LIVE_MAX_PLSIZE
    private const int BatchBytes = 64 * 1024;
    private const int ReadPeriodMs = 10;

    private readonly SrtEndpoint _endpoint;
    private readonly string _passphraseVariable;
    private readonly SrtDataSink _sink;
    private readonly Action<string, bool> _ended;
    private readonly Action? _exited;
    private readonly CancellationTokenSource _stop = new();
    private readonly Thread _thread;
    private int _endReported;
    private long _connectStarted;
    private long _bytes;
    private int _packetsLost, _packetsDropped;
    private volatile bool _connected;

    /// <summary>Starts connecting at once.</summary>
    /// <param name="ended">Called once, on the reader's thread, when the connection fails or ends by
    /// itself, with a reason an operator can act on (never a secret) and whether the hub answered at
    /// once that nothing is published on the path (cheap to ask again soon). Not called after a stop.</param>
    /// <param name="exited">Called last on the reader's thread, even when the thread outlives the stop wait.</param>
    internal SrtCallerReader(SrtEndpoint endpoint, string passphraseVariable, string threadName, SrtDataSink sink, Action<string, bool> ended, Action? exited = null)
    {
        EnsureStarted();
        _endpoint = endpoint;
        _passphraseVariable = passphraseVariable;
        _sink = sink;
        _ended = ended;
        _exited = exited;
        _thread = new Thread(Run) { IsBackground = true, Name = threadName };
        _thread.Start();
    }

    /// <summary>Loads and starts libsrt once per process; throws naming the package to install when it is missing.</summary>
    internal static void CheckLibrary() => EnsureStarted();

    internal bool IsConnected => _connected;
    internal long BytesReceived => Interlocked.Read(ref _bytes);
    /// <summary>
    /// Packets libsrt found missing on this connection (most come again in time), and those it gave up
    /// on because they did not arrive before their play time: the input's data then has a hole.
    /// Read from libsrt about once a second.
    /// </summary>
    internal (int Lost, int Dropped) PacketsLost => (Volatile.Read(ref _packetsLost), Volatile.Read(ref _packetsDropped));

    /// <summary>Asks the reader to stop and waits at most <paramref name="wait"/>; true when its thread has ended.</summary>
    internal bool Stop(TimeSpan wait)
    {
        _stop.Cancel();
        return Thread.CurrentThread == _thread || _thread.Join(wait);
    }

    public void Dispose() => Stop(StopWait);

    private bool Stopping => _stop.IsCancellationRequested;

    private string Path => _endpoint.StreamId.Split(':') is [_, var path, ..] ? path : _endpoint.StreamId;

    private void Run()
    {
        var socket = InvalidSocket;
        var eid = Error;
        try
        {
            var address = Resolve();
            if (address is null) return;
            socket = srt_create_socket();
            if (socket == InvalidSocket) { End($"cannot create an SRT socket: {LastErrorText()}"); return; }
            if (!Configure(socket)) return;
            eid = srt_epoll_create();
            if (eid < 0) { End($"cannot create an SRT poll: {LastErrorText()}"); return; }
            // Writable means connected; ERR means the connection failed or broke.
            var events = SRT_EPOLL_OUT | SRT_EPOLL_ERR;
            srt_epoll_add_usock(eid, socket, &events);
            Span<byte> sockaddr = stackalloc byte[28];
            var length = WriteSockaddr(new IPEndPoint(address, _endpoint.Port), sockaddr);
            _connectStarted = Environment.TickCount64;
            fixed (byte* p = sockaddr)
            {
                if (srt_connect(socket, p, length) == Error && !Stopping)
                {
                    End($"SRT connect to {_endpoint.Host}:{_endpoint.Port} failed at once: {LastErrorText()}");
                    return;
                }
            }
            if (!AwaitConnected(socket, eid)) return;
            _connected = true;
            // Level-triggered: keeping OUT would report the socket on every call.
            events = SRT_EPOLL_IN | SRT_EPOLL_ERR;
            srt_epoll_update_usock(eid, socket, &events);
            Receive(socket, eid);
        }
        catch (Exception e)
        {
            // Nothing may escape a thread: the runtime would end the process.
            End($"the SRT reader failed: {e.GetType().Name}: {e.Message}");
        }
        finally
        {
            if (socket != InvalidSocket) srt_close(socket);
            if (eid >= 0) srt_epoll_release(eid);
            try { _exited?.Invoke(); } catch { /* a failing clean-up must not end the process */ }
        }
    }

    private IPAddress? Resolve()
    {
        if (IPAddress.TryParse(_endpoint.Host, out var literal)) return literal;
        try
        {
            var all = Dns.GetHostAddressesAsync(_endpoint.Host, _stop.Token).GetAwaiter().GetResult();
            var chosen = all.FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork)
                ?? all.FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetworkV6);
            if (chosen is null) End($"MediaMTX host '{_endpoint.Host}' has no IPv4 or IPv6 address");
            return chosen;
        }
        catch (OperationCanceledException) { return null; }
        catch (SocketException e)
        {
            End($"cannot resolve MediaMTX host '{_endpoint.Host}': {e.Message}");
            return null;
        }
    }

    private bool Configure(int socket)
    {
        var ok = SetInt(socket, SRTO_TRANSTYPE, SRTT_LIVE)
            && SetBool(socket, SRTO_RCVSYN, false)
            // Nothing is ever sent, so a close never has data to wait for.
            && SetBool(socket, SRTO_SNDSYN, false)
            && SetInt(socket, SRTO_LATENCY, _endpoint.LatencyMs)
            && SetInt(socket, SRTO_CONNTIMEO, (int)ConnectTimeout.TotalMilliseconds)
            && SetString(socket, SRTO_STREAMID, _endpoint.StreamId);
        if (ok && _endpoint.Passphrase is { } passphrase)
            ok = SetString(socket, SRTO_PASSPHRASE, passphrase) && SetInt(socket, SRTO_PBKEYLEN, 16);
        // libsrt's text names the option at most, never its value.
        if (!ok) End($"cannot configure the SRT socket: {LastErrorText()}");
        return ok;
    }

    private bool AwaitConnected(int socket, int eid)
    {
        // libsrt enforces SRTO_CONNTIMEO itself; this only guards against a connect that never resolves.
        var deadline = Environment.TickCount64 + (long)ConnectTimeout.TotalMilliseconds + 2000;
        long? unexplainedSince = null;
        EpollEvent ready;
        while (!Stopping)
        {
            var state = srt_getsockstate(socket);
            var rejected = state == SRTS_CONNECTED ? SRT_REJ_UNKNOWN : srt_getrejectreason(socket);
            var now = Environment.TickCount64;
            if (state == SRTS_BROKEN && rejected == SRT_REJ_UNKNOWN) unexplainedSince ??= now;
            else unexplainedSince = null;
            switch (ReadConnect(state, rejected, now - (unexplainedSince ?? now)))
            {
                case ConnectProgress.Connected:
                    return true;
                case ConnectProgress.Failed:
                    End(ConnectFailure(rejected), NothingPublished(rejected, now - _connectStarted));
                    return false;
            }
            if (now > deadline)
            {
                End(ConnectFailure(SRT_REJ_TIMEOUT));
                return false;
            }
            if (unexplainedSince is not null) _stop.Token.WaitHandle.WaitOne(UnexplainedBreakPollMs);
            else if (srt_epoll_uwait(eid, &ready, 1, PollMs) < 0) _stop.Token.WaitHandle.WaitOne(PollMs);
        }
        return false;
    }

    internal enum ConnectProgress { Connecting, Connected, Failed }

    /// <summary>
    /// What a connecting socket's state says. libsrt 1.5 (CUDT::postConnect, 1.5.1 to master) clears "connecting" before it
    /// sets "connected", and in between srt_getsockstate answers SRTS_BROKEN with no reject reason; the thread completing
    /// the connect can be held there for as long as the machine is short of CPU. A break without a reason is therefore
    /// believed only once it has lasted <see cref="UnexplainedBreakMs"/>; one with a reason (a refusal, a timeout) at once.
    /// </summary>
    internal static ConnectProgress ReadConnect(int state, int rejectReason, long unexplainedForMs) => state switch
    {
        SRTS_CONNECTED => ConnectProgress.Connected,
        SRTS_BROKEN when rejectReason == SRT_REJ_UNKNOWN && unexplainedForMs < UnexplainedBreakMs => ConnectProgress.Connecting,
        SRTS_BROKEN or SRTS_CLOSING or SRTS_CLOSED or SRTS_NONEXIST => ConnectProgress.Failed,
        _ => ConnectProgress.Connecting,
    };

    internal const long UnexplainedBreakMs = 500;
    private const int UnexplainedBreakPollMs = 10;

    /// <summary>
    /// Reads whatever has arrived every <see cref="ReadPeriodMs"/> and hands it on as one buffer. Waiting in libsrt's
    /// poll (srt_epoll_uwait, 1.5) instead means waiting on one condition shared by the whole process, woken by any
    /// socket's event or else every 10 ms: a reader woke about 190 times a second for 285 messages (a 3 Mb/s feed),
    /// most wake-ups finding nothing of its own. A fixed period of the same 10 ms delays a message no more than that
    /// poll could. The poll is still asked, without waiting, whether a message is ready: a read that finds none makes
    /// libsrt throw and catch a C++ exception, dearer than the read.
    /// </summary>
    private void Receive(int socket, int eid)
    {
        var batch = GC.AllocateArray<byte>(BatchBytes, pinned: true);
        var perf = stackalloc byte[BStatsSize];
        var statsDue = Environment.TickCount64;
        fixed (byte* start = batch)
        {
            EpollEvent ready;
            while (!Stopping)
            {
                if (Environment.TickCount64 >= statsDue && srt_bistats(socket, perf, 0, 0) != Error)
                {
                    statsDue = Environment.TickCount64 + 1000;
                    Volatile.Write(ref _packetsLost, *(int*)(perf + BStatsRcvLossTotal));
                    Volatile.Write(ref _packetsDropped, *(int*)(perf + BStatsRcvDropTotal));
                }
                var filled = 0;
                string? failure = null;
                while (filled + LargestMessage <= BatchBytes && srt_epoll_uwait(eid, &ready, 1, 0) > 0)
                {
                    var got = srt_recvmsg(socket, start + filled, BatchBytes - filled);
                    if (got > 0) { filled += got; continue; }
                    if (got < 0 && LastError() != SRT_EASYNCRCV) failure = LastErrorText();
                    break;
                }
                if (filled > 0)
                {
                    Interlocked.Add(ref _bytes, filled);
                    if (Stopping) return;
                    if (!_sink(new ReadOnlySpan<byte>(start, filled)))
                    {
                        End("the pipeline stopped taking this input's data");
                        return;
                    }
                }
                // A full batch means more is waiting: read on at once.
                if (failure is null && filled + LargestMessage > BatchBytes) continue;
                // Data queued before a shutdown is still delivered above; the state says whether more can come
                // (asked only when a read failed or nothing came: a connection lost by timeout may read as empty).
                if ((failure is not null || filled == 0) && srt_getsockstate(socket) != SRTS_CONNECTED)
                {
                    if (!Stopping)
                        End($"the feed ended: MediaMTX closed the SRT connection or it was lost (publisher gone?){(failure is null ? "" : $" [{failure}]")}");
                    return;
                }
                // A stop is seen within one period.
                Thread.Sleep(ReadPeriodMs);
            }
        }
    }

    private string ConnectFailure(int rejectReason)
    {
        var where = $"{_endpoint.Host}:{_endpoint.Port}";
        return rejectReason switch
        {
            SRT_REJ_BADSECRET => $"SRT authentication failed: wrong passphrase (check {_passphraseVariable})",
            SRT_REJ_UNSECURE when _endpoint.Passphrase is null =>
                $"SRT authentication failed: MediaMTX wants a passphrase for {Path} and none is set (check {_passphraseVariable})",
            SRT_REJ_UNSECURE => $"SRT authentication failed: MediaMTX expects no passphrase for {Path} (check {_passphraseVariable})",
            SRT_REJX_NOTFOUND => $"no publisher on {Path} (MediaMTX refused the read)",
            SRT_REJX_UNAUTHORIZED when !_endpoint.HasToken => $"MediaMTX wants a token for {Path} and none is set (MEDIAMTX__TOKEN)",
            SRT_REJX_UNAUTHORIZED => $"MediaMTX refused the token for {Path} (check MEDIAMTX__TOKEN)",
            SRT_REJX_FORBIDDEN => $"MediaMTX forbids reading {Path}",
            SRT_REJX_BAD_REQUEST => $"MediaMTX refused the streamid for {Path} as malformed",
            // MediaMTX answers every refusal of a reader with this one code.
            SRT_REJ_PEER => $"MediaMTX refused the read of {Path}: no publisher on it yet, a refused token, or a wrong passphrase (check {_passphraseVariable})",
            SRT_REJ_TIMEOUT => $"MediaMTX at {where} did not answer within {ConnectTimeout.TotalSeconds:F0} s",
            SRT_REJ_VERSION => $"MediaMTX at {where} refused this SRT version",
            >= 1000 => $"MediaMTX refused the read of {Path} (SRT reject code {rejectReason})",
            _ => $"SRT connection to {where} failed: {RejectReasonText(rejectReason)}",
        };
    }

    /// <summary>
    /// Whether a refusal means "nothing is published there (yet)": 1404 says so; MediaMTX answers every
    /// refusal of a reader with SRT_REJ_PEER, but a missing path at once, while a failed authentication
    /// comes after a random 0-4 s delay, so only a quick REJ_PEER counts.
    /// </summary>
    internal static bool NothingPublished(int rejectReason, long answeredAfterMs) =>
        rejectReason == SRT_REJX_NOTFOUND || (rejectReason == SRT_REJ_PEER && answeredAfterMs < QuickAnswerMs);

    private const long QuickAnswerMs = 300;

    private void End(string reason, bool nothingPublished = false)
    {
        if (Interlocked.Exchange(ref _endReported, 1) != 0) return;
        try { _ended(reason, nothingPublished); } catch { /* see Run: nothing may escape the thread */ }
    }
}
