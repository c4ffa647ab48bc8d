using System.Collections.Concurrent;
using System.Net;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using static MixerWorker.Testbed.StandIn.SrtNative;

namespace MixerWorker.Testbed.StandIn;

/// <summary>
/// TEST DOUBLE for MediaMTX's SRT server (v1.20 behaviour, see docs/standin.md): one SRT listener
/// that routes by streamid, enforces per-prefix passphrases and an optional query token, and relays
/// each publisher's messages to its readers, a joining reader from the next keyframe on (<see cref="StreamStart"/>).
/// Not a media server: no demuxing, no GOP cache, no HTTP API.
/// </summary>
/// <remarks>
/// Threads: libsrt's receive-queue thread runs <see cref="OnListen"/> (streamid decisions); one
/// "standin-io" thread owns every accepted socket (accept, receive, fan-out, close). Rule that keeps
/// the two from deadlocking on libsrt's internal locks: no libsrt call is made while holding
/// <see cref="_gate"/>.
/// </remarks>
public sealed class MediaMtxStandIn : IDisposable
{
    // MediaMTX's payload size (7 TS packets); publishers send shorter messages only for what they could not fill.
    private const int ShortMessage = 1316;
    private const int MaxMessage = 1500;      // ≥ the largest live-mode payload libsrt accepts (1456)
    private const int PollMs = 20;
    private const int ReaderSendBufferBytes = 1_500_000;
    private const int MaxMessagesPerWake = 256; // so one busy publisher can't starve accept/close work

    private readonly StandInOptions _options;
    private readonly object _gate = new();
    private readonly List<AttemptState> _attempts = new();
    private readonly Dictionary<int, AttemptState> _pending = new();      // ns → attempt, until accepted/failed
    private readonly Dictionary<int, Conn> _conns = new();                // accepted sockets by SRTSOCKET
    private readonly Dictionary<string, PathState> _paths = new(StringComparer.Ordinal);
    private readonly List<Waiter> _waiters = new();
    private readonly ConcurrentQueue<Action> _commands = new();
    private readonly Thread _ioThread;
    private readonly int _listener;
    private readonly int _eid;
    private readonly StandInTrace? _trace;
    private GCHandle _self;
    private long _sequence;
    private volatile bool _stop;
    private int _disposed;

    public int Port { get; }

    /// <summary>The close reason of a publisher that a new publisher of the same path replaced.</summary>
    public const string ReplacedReason = "replaced by a new publisher";

    private MediaMtxStandIn(StandInOptions options, int listener, int eid, int port)
    {
        _options = options;
        _listener = listener;
        _eid = eid;
        Port = port;
        _trace = options.TracePath is { } trace ? new StandInTrace(trace) : null;
        _ioThread = new Thread(IoLoop) { IsBackground = true, Name = "standin-io" };
    }

    /// <summary>Binds, listens and starts the I/O thread. Throws <see cref="SrtException"/> when the port can't be bound.</summary>
    public static unsafe MediaMtxStandIn Start(StandInOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        CheckPassphrase(options.IngestPassphrase, nameof(options.IngestPassphrase));
        CheckPassphrase(options.OutputPassphrase, nameof(options.OutputPassphrase));
        EnsureStarted();

        int lsn = srt_create_socket();
        if (lsn == SRT_INVALID_SOCK) throw new SrtException("srt_create_socket failed: " + LastErrorText(), LastError(), 0);
        int eid = -1;
        try
        {
            // Accepted sockets inherit these, which is what makes fan-out non-blocking: a slow reader
            // gets SRT_EASYNCSND instead of stalling the publisher's thread.
            SetBool(lsn, SRTO_RCVSYN, false, "SRTO_RCVSYN");
            SetBool(lsn, SRTO_SNDSYN, false, "SRTO_SNDSYN");
            // A bounded per-reader send buffer stands in for MediaMTX's writeQueueSize: a reader that
            // falls ~1.4 s behind at 8 Mb/s starts losing messages instead of growing memory.
            SetInt(lsn, SRTO_SNDBUF, ReaderSendBufferBytes, "SRTO_SNDBUF");
            // MediaMTX ties the SRT peer idle timeout to readTimeout (10 s by default).
            SetInt(lsn, SRTO_PEERIDLETIMEO, 10_000, "SRTO_PEERIDLETIMEO");

            Span<byte> sa = stackalloc byte[28];
            int len = WriteSockaddr(new IPEndPoint(options.BindAddress, options.Port), sa);
            fixed (byte* p = sa)
            {
                if (srt_bind(lsn, p, len) == SRT_ERROR)
                    throw new SrtException($"binding UDP {options.BindAddress}:{options.Port} failed: {LastErrorText()}", LastError(), 0);
                int got = 28;
                if (srt_getsockname(lsn, p, &got) == SRT_ERROR)
                    throw new SrtException("srt_getsockname failed: " + LastErrorText(), LastError(), 0);
            }
            int port;
            fixed (byte* p = sa) port = ReadSockaddr(p)!.Port;

            eid = srt_epoll_create();
            if (eid < 0) throw new SrtException("srt_epoll_create failed: " + LastErrorText(), LastError(), 0);
            // Lets the I/O loop keep polling (and timing out) even when nothing is registered.
            srt_epoll_set(eid, SRT_EPOLL_ENABLE_EMPTY);

            var standIn = new MediaMtxStandIn(options, lsn, eid, port);
            standIn._self = GCHandle.Alloc(standIn);
            delegate* unmanaged<nint, int, int, byte*, byte*, int> hook = &ListenHook;
            if (srt_listen_callback(lsn, (nint)hook, GCHandle.ToIntPtr(standIn._self)) == SRT_ERROR ||
                srt_listen(lsn, 64) == SRT_ERROR)
            {
                var ex = new SrtException("srt_listen failed: " + LastErrorText(), LastError(), 0);
                standIn._self.Free();
                throw ex;
            }
            int ev = SRT_EPOLL_IN | SRT_EPOLL_ERR;
            srt_epoll_add_usock(eid, lsn, &ev);
            standIn._ioThread.Start();
            return standIn;
        }
        catch
        {
            srt_close(lsn);
            if (eid >= 0) srt_epoll_release(eid);
            throw;
        }
    }

    private static void CheckPassphrase(string? value, string name)
    {
        // libsrt refuses SRTO_PASSPHRASE outside 10..79; MediaMTX refuses the same range at config load.
        if (value is not null && value.Length is < 10 or > 79)
            throw new ArgumentException($"{name} must be 10 to 79 characters long", name);
    }

    // ---- queries for tests --------------------------------------------------------------------

    /// <summary>Snapshot of every connection attempt so far, oldest first.</summary>
    public IReadOnlyList<SrtConnectionAttempt> Attempts()
    {
        lock (_gate) return _attempts.Select(a => a.ToRecord()).ToArray();
    }

    /// <summary>
    /// Completes with the first attempt (past or future) whose current state matches. An attempt changes
    /// state (Pending → Accepted → closed), so a predicate like <c>a.ClosedAt != null</c> works.
    /// Throws <see cref="TimeoutException"/> listing all attempts when nothing matches in time.
    /// </summary>
    public async Task<SrtConnectionAttempt> WaitForAttemptAsync(Func<SrtConnectionAttempt, bool> match, TimeSpan timeout)
    {
        ArgumentNullException.ThrowIfNull(match);
        var waiter = new Waiter(match);
        lock (_gate)
        {
            bool matched = false;
            foreach (var a in _attempts)
                if (waiter.TryComplete(a.ToRecord())) { matched = true; break; }
            if (!matched) _waiters.Add(waiter);
        }
        var done = await Task.WhenAny(waiter.Tcs.Task, Task.Delay(timeout)).ConfigureAwait(false);
        if (done != waiter.Tcs.Task)
        {
            lock (_gate) _waiters.Remove(waiter);
            if (!waiter.Tcs.Task.IsCompleted)
                throw new TimeoutException($"no matching SRT attempt within {timeout}. Attempts:{Environment.NewLine}" +
                                           string.Join(Environment.NewLine, Attempts()));
        }
        return await waiter.Tcs.Task.ConfigureAwait(false);
    }

    /// <summary>Paths that have a publisher right now.</summary>
    public IReadOnlyCollection<string> PublishedPaths()
    {
        lock (_gate) return _paths.Where(p => p.Value.Publisher is not null).Select(p => p.Key).OrderBy(p => p, StringComparer.Ordinal).ToArray();
    }

    /// <summary>Every publisher <paramref name="path"/> has had, oldest first (the judge of "one publisher per path").</summary>
    public IReadOnlyList<PublishSession> Publishers(string path)
    {
        lock (_gate)
            return [.. _attempts.Where(a => a.PublishedAt is not null && a.Parsed?.Path == path)
                .Select(a => new PublishSession(a.Sequence, path, a.Remote, a.PublishedAt!.Value, a.ClosedAt, a.ClosedAt is null ? null : a.Reason))
                .OrderBy(p => p.Started)];
    }

    /// <summary>
    /// What each publisher of <paramref name="path"/> sent first (its first messages, up to 64 KiB), oldest
    /// publisher first: what a reader or a recording that took the stream from its very start would get.
    /// </summary>
    public IReadOnlyList<byte[]> PublisherStarts(string path)
    {
        lock (_gate)
            return [.. _attempts.Where(a => a.PublishedAt is not null && a.Parsed?.Path == path).OrderBy(a => a.PublishedAt).Select(a => a.FirstBytes)];
    }

    /// <summary>Counters of a path that has ever had a publisher; null otherwise.</summary>
    public PathStats? GetPathStats(string path)
    {
        lock (_gate)
        {
            if (!_paths.TryGetValue(path, out var ps)) return null;
            return new PathStats(path, ps.Publisher is not null, ps.Readers.Length,
                Interlocked.Read(ref ps.BytesIn), Interlocked.Read(ref ps.BytesOut), Interlocked.Read(ref ps.Dropped), Interlocked.Read(ref ps.ShortIn));
        }
    }

    /// <summary>
    /// Closes the publisher of <paramref name="path"/> as if its feed dropped (its readers are closed too,
    /// as MediaMTX does). Returns once the sockets are closed; false when the path had no publisher.
    /// </summary>
    public bool KickPublisher(string path)
    {
        if (_stop) return false;
        var result = RunOnIoThread(() =>
        {
            Conn? pub;
            lock (_gate) pub = _paths.TryGetValue(path, out var ps) ? ps.Publisher : null;
            if (pub is null) return false;
            CloseConn(pub, "kicked by test");
            return true;
        });
        return result;
    }

    private T RunOnIoThread<T>(Func<T> work)
    {
        var tcs = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        _commands.Enqueue(() =>
        {
            try { tcs.SetResult(work()); }
            catch (Exception ex) { tcs.SetException(ex); }
        });
        if (!tcs.Task.Wait(TimeSpan.FromSeconds(5)))
            throw new TimeoutException("stand-in I/O thread did not run the command (disposed?)");
        return tcs.Task.Result;
    }

    // ---- listen callback (libsrt receive-queue thread) ----------------------------------------

    [UnmanagedCallersOnly]
    private static unsafe int ListenHook(nint opaque, int ns, int hsVersion, byte* peer, byte* streamId)
    {
        try
        {
            if (GCHandle.FromIntPtr(opaque).Target is not MediaMtxStandIn self) return -1;
            return self.OnListen(ns, peer, streamId);
        }
        catch
        {
            // Nothing may cross into libsrt; rejecting is the safe answer.
            return -1;
        }
    }

    private unsafe int OnListen(int ns, byte* peer, byte* streamIdPtr)
    {
        var raw = Marshal.PtrToStringUTF8((nint)streamIdPtr) ?? "";
        var remote = ReadSockaddr(peer)?.ToString() ?? "?";
        var attempt = new AttemptState(DateTimeOffset.UtcNow, remote, StreamIdParser.MaskPassword(raw));

        if (_stop) return Reject(ns, attempt, SRT_REJX_FORBIDDEN, "stand-in is shutting down");

        if (!StreamIdParser.TryParse(raw, out var sid, out var parseError))
            return Reject(ns, attempt, SRT_REJX_BAD_REQUEST, "invalid stream ID: " + parseError);
        attempt.Parsed = sid;

        if (_options.RequiredToken is { } token && !StreamIdParser.QueryHasToken(sid!.Query, token))
            return Reject(ns, attempt, SRT_REJX_UNAUTHORIZED, "authentication failed: query has no valid token");

        if (!sid!.IsPublish)
        {
            bool available;
            lock (_gate) available = _paths.TryGetValue(sid.Path, out var ps) && ps.Publisher is not null;
            if (!available)
                return Reject(ns, attempt, SRT_REJX_NOTFOUND, $"no stream is available on path '{sid.Path}'");
        }

        var passphrase = PassphraseFor(sid.Path);
        attempt.PassphraseRequired = passphrase is not null;
        // libsrt runs the key-material check against this after we return 0 (API-functions.md,
        // srt_listen_callback). With no passphrase set, enforced encryption (default on) makes libsrt
        // refuse an encrypting caller, matching gosrt's REJ_BADSECRET.
        if (passphrase is not null && !TrySetString(ns, SRTO_PASSPHRASE, passphrase))
            return Reject(ns, attempt, SRT_REJX_FORBIDDEN, "could not set the path passphrase on the socket");

        lock (_gate)
        {
            attempt.Sequence = ++_sequence;
            attempt.Outcome = SrtAttemptOutcome.Pending;
            _attempts.Add(attempt);
            _pending[ns] = attempt;
            Notify(attempt);
        }
        return 0;
    }

    private string? PassphraseFor(string path)
    {
        if (path.StartsWith("ingest/", StringComparison.Ordinal)) return _options.IngestPassphrase;
        if (path.StartsWith("out/", StringComparison.Ordinal)) return _options.OutputPassphrase;
        return null;
    }

    private int Reject(int ns, AttemptState attempt, int code, string reason)
    {
        srt_setrejectreason(ns, code);
        lock (_gate)
        {
            attempt.Sequence = ++_sequence;
            attempt.Outcome = SrtAttemptOutcome.Rejected;
            attempt.Reason = reason;
            attempt.ClosedAt = DateTimeOffset.UtcNow;
            _attempts.Add(attempt);
            Notify(attempt);
        }
        return -1;
    }

    // ---- I/O thread --------------------------------------------------------------------------

    private unsafe void IoLoop()
    {
        var events = new EpollEvent[64];
        var buf = new byte[MaxMessage];
        var failed = new List<int>();
        while (!_stop)
        {
            try
            {
                while (_commands.TryDequeue(out var cmd)) cmd();

                // Read states before draining the accept queue: a socket that looked dead before we
                // drained, and was not handed out by srt_accept, really did fail its handshake.
                failed.Clear();
                int[] pendingSocks;
                lock (_gate) pendingSocks = _pending.Keys.ToArray();
                foreach (var ns in pendingSocks)
                    if (IsTerminalState(srt_getsockstate(ns))) failed.Add(ns);

                int n;
                fixed (EpollEvent* pe = events) n = srt_epoll_uwait(_eid, pe, events.Length, PollMs);
                bool acceptDone = false;
                for (int i = 0; i < n; i++)
                {
                    var e = events[i];
                    if (e.Fd == _listener) { AcceptAll(); acceptDone = true; continue; }
                    Conn? c;
                    lock (_gate) _conns.TryGetValue(e.Fd, out c);
                    if (c is null) continue;
                    if (c.IsPublisher && (e.Events & SRT_EPOLL_IN) != 0) Pump(c, buf);
                    else if ((e.Events & SRT_EPOLL_ERR) != 0)
                        CloseConn(c, c.IsPublisher ? "publisher disconnected" : "reader disconnected");
                }
                if (!acceptDone && failed.Count > 0) AcceptAll();
                FinishFailedHandshakes(failed);
                SweepBrokenConnections();
                if (_trace?.StatsDue() == true)
                {
                    Conn[] all;
                    lock (_gate) all = [.. _conns.Values];
                    _trace.Stats(all.Select(c => (c.Socket, c.Attempt.Parsed!.Path, c.IsPublisher)));
                }
            }
            catch (Exception ex)
            {
                // Keep serving; a test will see the symptom. Never let the thread die silently mid-test.
                Console.Error.WriteLine($"[standin] I/O loop error: {ex.Message}");
            }
        }
    }

    private unsafe void AcceptAll()
    {
        Span<byte> sa = stackalloc byte[28];
        while (true)
        {
            int len = 28;
            int s;
            fixed (byte* p = sa) s = srt_accept(_listener, p, &len);
            if (s == SRT_INVALID_SOCK) return; // SRT_EASYNCRCV: queue drained
            AttemptState? attempt;
            lock (_gate) _pending.Remove(s, out attempt);
            if (attempt is null)
            {
                // Only sockets our hook approved can get here; anything else is closed unrouted.
                srt_close(s);
                continue;
            }
            _trace?.Accepted(attempt.Parsed!.Path, attempt.Parsed.IsPublish, attempt.At);
            Route(new Conn(s, attempt));
        }
    }

    private unsafe void Route(Conn c)
    {
        var path = c.Attempt.Parsed!.Path;
        var toClose = new List<(Conn Conn, string Reason)>();
        bool keep = true;
        lock (_gate)
        {
            c.Attempt.Outcome = SrtAttemptOutcome.Accepted;
            if (!_paths.TryGetValue(path, out var ps)) _paths[path] = ps = new PathState();
            if (c.IsPublisher)
            {
                // A free path is the newcomer's at once (readers may join before its first message, where
                // MediaMTX would wait for its tracks). A path with a publisher stays that publisher's until the
                // newcomer's first message: MediaMTX reads the new stream's tracks before it adds the publisher,
                // which is when overridePublisher closes the old one (Pump, Promote).
                if (ps.Publisher is null) ps.Publisher = c;
                else ps.Candidates = [.. ps.Candidates, c];
            }
            else if (ps.Publisher is null)
            {
                keep = false;
            }
            else
            {
                ps.Readers = [.. ps.Readers, c];
            }
            if (keep) _conns[c.Socket] = c;
        }
        foreach (var (conn, reason) in toClose) CloseConn(conn, reason);
        if (!keep)
        {
            // The publisher left between our streamid check and the end of the handshake.
            FinishClose(c, "publisher left before the handshake finished");
            return;
        }
        // Readers are only watched for errors (peer closed); publishers also for data.
        int ev = c.IsPublisher ? SRT_EPOLL_IN | SRT_EPOLL_ERR : SRT_EPOLL_ERR;
        srt_epoll_add_usock(_eid, c.Socket, &ev);
        // "Accepted" is announced once the connection is routed: a test that waited for it reads the path's
        // publisher and readers straight after.
        lock (_gate) Notify(c.Attempt);
    }

    private const int TsPacket = 188;

    private unsafe void Pump(Conn pub, byte[] buf)
    {
        PathState? ps;
        lock (_gate) _paths.TryGetValue(pub.Attempt.Parsed!.Path, out ps);
        if (ps is null || (ps.Publisher != pub && !ps.Candidates.Contains(pub))) return;
        List<Conn>? broken = null;
        fixed (byte* p = buf)
        {
            for (int m = 0; m < MaxMessagesPerWake; m++)
            {
                int n = srt_recvmsg(pub.Socket, p, buf.Length);
                if (n == SRT_ERROR)
                {
                    if (LastError() != SRT_EASYNCRCV) CloseConn(pub, "publisher disconnected");
                    break;
                }
                if (n == 0) break;
                if (n % TsPacket != 0)
                {
                    // MediaMTX reads each message as whole TS packets and drops the publisher otherwise.
                    CloseConn(pub, $"received packet with size {n} not multiple of {TsPacket}");
                    break;
                }
                if (pub.Attempt.PublishedAt is null) Promote(ps, pub);
                Interlocked.Add(ref ps.BytesIn, n);
                if (n < ShortMessage) Interlocked.Increment(ref ps.ShortIn);
                pub.Attempt.KeepFirst(buf.AsSpan(0, n));
                _trace?.Pictures(pub.Attempt.Parsed!.Path, buf.AsSpan(0, n));
                var keyframe = pub.Start!.Observe(buf.AsSpan(0, n));
                // Readers only change on this thread, so the array is stable for this loop.
                foreach (var r in ps.Readers)
                {
                    var from = 0;
                    if (r.Joining)
                    {
                        if (pub.Start.HasVideo)
                        {
                            if (keyframe < 0) continue;
                            from = keyframe;
                            var tables = pub.Start.Tables;
                            fixed (byte* t = tables)
                                if (!Relay(ps, r, t, tables.Length, ref broken)) continue;
                        }
                        r.Joining = false;
                    }
                    Relay(ps, r, p + from, n - from, ref broken);
                }
                if (broken is not null)
                {
                    foreach (var r in broken) CloseConn(r, "reader disconnected");
                    broken = null;
                }
            }
        }
    }

    // One message to one reader: false when it was not sent (a full send buffer drops it for this reader alone, a broken
    // connection is closed after the fan-out).
    private static unsafe bool Relay(PathState ps, Conn r, byte* data, int length, ref List<Conn>? broken)
    {
        if (srt_sendmsg(r.Socket, data, length, -1, 0) >= 0)
        {
            Interlocked.Add(ref ps.BytesOut, length);
            return true;
        }
        if (LastError() == SRT_EASYNCSND) Interlocked.Increment(ref ps.Dropped);
        else (broken ??= new()).Add(r);
        return false;
    }

    /// <summary>
    /// A publisher's first message: its session starts, and on a path that had another publisher it
    /// replaces that one (overridePublisher=true, MediaMTX's default) at this instant, the old session
    /// ending at the same instant; the stream is torn down, so the old publisher's readers go as well.
    /// </summary>
    private void Promote(PathState ps, Conn pub)
    {
        var now = DateTimeOffset.UtcNow;
        var toClose = new List<(Conn Conn, string Reason)>();
        lock (_gate)
        {
            pub.Attempt.PublishedAt = now;
            if (ps.Publisher == pub) return;
            ps.Candidates = [.. ps.Candidates.Where(x => x != pub)];
            if (ps.Publisher is { } old)
            {
                toClose.Add((old, ReplacedReason));
                old.Attempt.ClosedAt = now;
                old.Attempt.Reason = ReplacedReason;
            }
            foreach (var r in ps.Readers) toClose.Add((r, "publisher replaced"));
            ps.Publisher = pub;
            ps.Readers = [];
        }
        foreach (var (conn, reason) in toClose) CloseConn(conn, reason);
    }

    /// <summary>
    /// A peer that closes right after connecting can break the socket before it is in the epoll set,
    /// and libsrt then reports no ERR event for it (seen with an immediate client close). Polling the
    /// state of the few routed sockets catches that case without waiting for the 10 s idle timeout.
    /// </summary>
    private void SweepBrokenConnections()
    {
        Conn[] conns;
        lock (_gate) conns = _conns.Values.ToArray();
        foreach (var c in conns)
            if (IsTerminalState(srt_getsockstate(c.Socket)))
                CloseConn(c, c.IsPublisher ? "publisher disconnected" : "reader disconnected");
    }

    private void FinishFailedHandshakes(List<int> failedBeforeAccept)
    {
        var now = DateTimeOffset.UtcNow;
        lock (_gate)
        {
            foreach (var ns in failedBeforeAccept)
            {
                if (!_pending.Remove(ns, out var a)) continue; // accepted after all
                a.Outcome = SrtAttemptOutcome.HandshakeFailed;
                a.Reason = a.PassphraseRequired
                    ? "handshake failed after the stream ID was accepted: the path requires a passphrase and the client's was missing or wrong"
                    : "handshake failed after the stream ID was accepted: the path has no passphrase and the client encrypts";
                a.ClosedAt = now;
                Notify(a);
            }
            foreach (var (ns, a) in _pending.ToArray())
            {
                if (now - a.At < _options.HandshakeTimeout) continue;
                _pending.Remove(ns);
                a.Outcome = SrtAttemptOutcome.HandshakeFailed;
                a.Reason = "handshake did not complete in time";
                a.ClosedAt = now;
                Notify(a);
            }
        }
    }

    /// <summary>Closes an accepted connection (I/O thread or Dispose only); a publisher takes its readers along.</summary>
    private void CloseConn(Conn c, string reason)
    {
        Conn[] readers = [];
        lock (_gate)
        {
            if (!_conns.Remove(c.Socket)) return; // already closed
            if (_paths.TryGetValue(c.Attempt.Parsed!.Path, out var ps))
            {
                if (ps.Publisher == c)
                {
                    ps.Publisher = null;
                    readers = ps.Readers;
                    ps.Readers = [];
                }
                else if (c.IsPublisher) ps.Candidates = [.. ps.Candidates.Where(x => x != c)];
                else ps.Readers = ps.Readers.Where(r => r != c).ToArray();
            }
        }
        FinishClose(c, reason);
        foreach (var r in readers)
        {
            lock (_gate) _conns.Remove(r.Socket);
            FinishClose(r, "publisher left");
        }
    }

    private void FinishClose(Conn c, string reason)
    {
        // Why it closed is on record before the peer can see the close, so a test that waits for its
        // socket to drop reads the reason straight after; waiters wake once the socket is really gone.
        lock (_gate)
        {
            c.Attempt.ClosedAt ??= DateTimeOffset.UtcNow; // a replaced publisher's ends at the replacement (Promote)
            c.Attempt.Reason = reason;
        }
        srt_epoll_remove_usock(_eid, c.Socket);
        srt_close(c.Socket);
        lock (_gate) Notify(c.Attempt);
    }

    // Caller holds _gate.
    private void Notify(AttemptState a)
    {
        if (_waiters.Count == 0) return;
        var rec = a.ToRecord();
        _waiters.RemoveAll(w => w.TryComplete(rec));
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        _stop = true;
        _ioThread.Join();
        // Closing the listener first stops new hook calls (libsrt removes it from the receive queue
        // under the lock the hook runs in), so the GCHandle can be freed afterwards.
        srt_close(_listener);
        Conn[] conns;
        lock (_gate) conns = _conns.Values.ToArray();
        foreach (var c in conns)
        {
            lock (_gate) _conns.Remove(c.Socket);
            FinishClose(c, "stand-in disposed");
        }
        lock (_gate)
        {
            foreach (var p in _paths.Values) { p.Publisher = null; p.Readers = []; p.Candidates = []; }
            foreach (var a in _pending.Values) { a.ClosedAt ??= DateTimeOffset.UtcNow; a.Reason ??= "stand-in disposed during handshake"; }
            _pending.Clear();
            foreach (var w in _waiters) w.Tcs.TrySetCanceled();
            _waiters.Clear();
        }
        while (_commands.TryDequeue(out var cmd)) cmd();
        srt_epoll_release(_eid);
        _trace?.Dispose();
        if (_self.IsAllocated) _self.Free();
    }

    // ---- state types ---------------------------------------------------------------------------

    private sealed class AttemptState(DateTimeOffset at, string remote, string maskedStreamId)
    {
        public long Sequence;
        public readonly DateTimeOffset At = at;
        public readonly string Remote = remote;
        public readonly string StreamId = maskedStreamId;
        public ParsedStreamId? Parsed;
        public SrtAttemptOutcome Outcome;
        public string? Reason;
        public DateTimeOffset? ClosedAt;
        /// <summary>A publisher's first message: when it became (or, on a free path, started sending as) the path's publisher.</summary>
        public DateTimeOffset? PublishedAt;
        public bool PassphraseRequired;
        private const int FirstBytesKept = 64 * 1024;
        private readonly MemoryStream _first = new();

        /// <summary>Keeps a publisher's message while it has sent less than <see cref="FirstBytesKept"/>. I/O thread.</summary>
        public void KeepFirst(ReadOnlySpan<byte> message)
        {
            lock (_first) if (_first.Length < FirstBytesKept) _first.Write(message);
        }

        public byte[] FirstBytes { get { lock (_first) return _first.ToArray(); } }

        public SrtConnectionAttempt ToRecord() => new(Sequence, At, Remote, StreamId, Parsed?.Action, Parsed?.Path,
            Parsed?.User, Parsed?.Query, Outcome, Reason, ClosedAt);
    }

    private sealed class Conn(int socket, AttemptState attempt)
    {
        public readonly int Socket = socket;
        public readonly AttemptState Attempt = attempt;
        public bool IsPublisher => Attempt.Parsed!.IsPublish;
        /// <summary>A publisher's: where in its stream a joining reader starts.</summary>
        public readonly StreamStart? Start = attempt.Parsed!.IsPublish ? new() : null;
        /// <summary>A reader that has not been sent anything yet (it starts at a random-access picture). I/O thread.</summary>
        public bool Joining = !attempt.Parsed!.IsPublish;
    }

    private sealed class PathState
    {
        public Conn? Publisher;
        /// <summary>Publishers connected to a path that has one, until their first message replaces it.</summary>
        public Conn[] Candidates = [];
        public Conn[] Readers = [];
        public long BytesIn, BytesOut, Dropped, ShortIn;
    }

    private sealed class Waiter(Func<SrtConnectionAttempt, bool> match)
    {
        public readonly TaskCompletionSource<SrtConnectionAttempt> Tcs = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public bool TryComplete(SrtConnectionAttempt a)
        {
            try
            {
                if (!match(a)) return false;
                Tcs.TrySetResult(a);
            }
            catch (Exception ex)
            {
                Tcs.TrySetException(ex);
            }
            return true;
        }
    }
}
