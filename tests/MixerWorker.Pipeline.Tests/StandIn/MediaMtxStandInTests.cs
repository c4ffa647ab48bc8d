using System.Diagnostics;
using MixerWorker.Testbed.StandIn;
using Xunit;
using static MixerWorker.Pipeline.Tests.StandIn.StandInTestUtil;

namespace MixerWorker.Pipeline.Tests.StandIn;

public class MediaMtxStandInTests
{
    private const int RejBadSecret = 10, RejUnsecure = 11, RejxUnauthorized = 1401, RejxNotFound = 1404, RejxBadRequest = 1400;

    [Theory]
    [InlineData("ingest/p/cam-a", IngestPass, true)]
    [InlineData("ingest/p/cam-a", OutputPass, false)]   // wrong
    [InlineData("ingest/p/cam-a", null, false)]         // missing
    [InlineData("out/p/program", OutputPass, true)]
    [InlineData("out/p/program", IngestPass, false)]
    [InlineData("out/p/program", null, false)]
    [InlineData("other/x", null, true)]
    [InlineData("other/x", IngestPass, false)]          // unexpected: path has no passphrase
    [InlineData("ingestx/y", IngestPass, false)]        // prefix is "ingest/", not "ingest"
    public async Task Publisher_passphrase_is_enforced_per_prefix(string path, string? passphrase, bool succeeds)
    {
        using var s = StartWithPassphrases();
        if (succeeds)
        {
            using var c = Connect(s, "publish:" + path, passphrase);
            var a = await s.WaitForAttemptAsync(x => x.Path == path && x.Outcome == SrtAttemptOutcome.Accepted, Wait);
            Assert.Null(a.Reason);
            Assert.Contains(path, s.PublishedPaths());
        }
        else
        {
            var ex = Assert.Throws<SrtException>(() => Connect(s, "publish:" + path, passphrase));
            Assert.Contains(ex.RejectReason, new[] { RejBadSecret, RejUnsecure });
            var a = await s.WaitForAttemptAsync(x => x.Path == path && x.Outcome != SrtAttemptOutcome.Pending, Wait);
            Assert.Equal(SrtAttemptOutcome.HandshakeFailed, a.Outcome);
            Assert.NotNull(a.ClosedAt);
            Assert.Contains("passphrase", a.Reason);
            Assert.Empty(s.PublishedPaths());
            // A failed handshake must not leave anything half-routed.
            Assert.Single(s.Attempts());
        }
    }

    [Fact]
    public async Task Reader_needs_the_path_passphrase_too()
    {
        using var s = StartWithPassphrases();
        using var pub = Connect(s, "publish:out/p/program", OutputPass);
        await s.WaitForAttemptAsync(a => a.Action == "publish" && a.Outcome == SrtAttemptOutcome.Accepted, Wait);

        Assert.Equal(RejUnsecure, Assert.Throws<SrtException>(() => Connect(s, "read:out/p/program")).RejectReason);
        Assert.Equal(RejBadSecret, Assert.Throws<SrtException>(() => Connect(s, "read:out/p/program", IngestPass)).RejectReason);
        using var reader = Connect(s, "read:out/p/program", OutputPass);
        Assert.True(reader.IsConnected);
        // Each client learns how its handshake ended before the stand-in's I/O loop records it; wait for the three records.
        await s.WaitForAttemptAsync(a => a.Sequence == 2 && a.Outcome == SrtAttemptOutcome.HandshakeFailed, Wait);
        await s.WaitForAttemptAsync(a => a.Sequence == 3 && a.Outcome == SrtAttemptOutcome.HandshakeFailed, Wait);
        var read = await s.WaitForAttemptAsync(a => a.Sequence == 4 && a.Outcome != SrtAttemptOutcome.Pending, Wait);
        Assert.Equal(SrtAttemptOutcome.Accepted, read.Outcome);
    }

    [Fact]
    public void No_passphrases_configured_means_encrypting_clients_fail_everywhere()
    {
        using var s = MediaMtxStandIn.Start(new StandInOptions());
        using (Connect(s, "publish:ingest/p/cam-a")) { }
        Assert.Equal(RejUnsecure, Assert.Throws<SrtException>(() => Connect(s, "publish:ingest/p/cam-b", IngestPass)).RejectReason);
    }

    [Fact]
    public void Passphrase_outside_libsrt_range_is_refused_at_start()
    {
        Assert.Throws<ArgumentException>(() => MediaMtxStandIn.Start(new StandInOptions { IngestPassphrase = "short" }));
    }

    [Fact]
    public async Task Required_token_is_checked_in_the_query()
    {
        using var s = StartWithPassphrases(token: "tok123");
        // Each stays connected until the stand-in's I/O thread has taken it on: one that the client closed before that
        // leaves the listener's queue unaccepted and is recorded as a failed handshake (seen on a starved machine).
        foreach (var (streamId, sequence) in new[] { ("publish:ingest/p/cam-a:token=tok123", 1L), ("publish:ingest/p/cam-b:user:pw:a=1&token=tok123", 2L) })
        {
            using var client = Connect(s, streamId, IngestPass);
            await s.WaitForAttemptAsync(a => a.Sequence == sequence && a.Outcome != SrtAttemptOutcome.Pending, Wait);
        }

        foreach (var bad in new[] { "publish:ingest/p/cam-c", "publish:ingest/p/cam-c:token=nope", "publish:ingest/p/cam-c:a=1",
                                    "#!::r=ingest/p/cam-c,m=publish" /* standard form has no query */ })
        {
            var ex = Assert.Throws<SrtException>(() => Connect(s, bad, IngestPass));
            Assert.Equal(RejxUnauthorized, ex.RejectReason);
        }
        var rejected = s.Attempts().Where(a => a.Outcome == SrtAttemptOutcome.Rejected).ToArray();
        Assert.Equal(4, rejected.Length);
        Assert.All(rejected, a => Assert.Contains("token", a.Reason));
        Assert.Equal(2, s.Attempts().Count(a => a.Outcome == SrtAttemptOutcome.Accepted));
    }

    [Fact]
    public void Invalid_streamid_is_rejected_at_handshake()
    {
        using var s = MediaMtxStandIn.Start(new StandInOptions());
        var ex = Assert.Throws<SrtException>(() => Connect(s, "play:out/x"));
        Assert.Equal(RejxBadRequest, ex.RejectReason);
        var a = Assert.Single(s.Attempts());
        Assert.Equal(SrtAttemptOutcome.Rejected, a.Outcome);
        Assert.Equal("play:out/x", a.StreamId);
        Assert.Null(a.Action);
        Assert.StartsWith("invalid stream ID", a.Reason);
    }

    [Fact]
    public void Reader_without_publisher_is_rejected()
    {
        using var s = MediaMtxStandIn.Start(new StandInOptions());
        var ex = Assert.Throws<SrtException>(() => Connect(s, "read:out/p/program"));
        Assert.Equal(RejxNotFound, ex.RejectReason);
        var a = Assert.Single(s.Attempts());
        Assert.Equal(SrtAttemptOutcome.Rejected, a.Outcome);
        Assert.Equal("no stream is available on path 'out/p/program'", a.Reason);
        Assert.Null(s.GetPathStats("out/p/program"));
    }

    [Fact]
    public async Task Publisher_feeds_two_readers_the_same_bytes()
    {
        using var s = MediaMtxStandIn.Start(new StandInOptions());
        using var pub = Connect(s, "publish:ingest/p/cam-a");
        await s.WaitForAttemptAsync(a => a.Action == "publish" && a.Outcome == SrtAttemptOutcome.Accepted, Wait);
        using var r1 = Connect(s, "read:ingest/p/cam-a");
        using var r2 = Connect(s, "read:ingest/p/cam-a");
        WaitForReaders(s, "ingest/p/cam-a", 2);

        const int count = 400;
        var t1 = Task.Run(() => ReceiveMessages(r1, count, TimeSpan.FromSeconds(2)));
        var t2 = Task.Run(() => ReceiveMessages(r2, count, TimeSpan.FromSeconds(2)));
        for (int i = 0; i < count; i++)
        {
            pub.Send(Message(i));
            if (i % 50 == 49) Thread.Sleep(5);
        }
        var got1 = await t1;
        var got2 = await t2;
        Assert.Equal(count, got1.Count);
        Assert.Equal(count, got2.Count);
        for (int i = 0; i < count; i++)
        {
            Assert.Equal(Message(i), got1[i]);
            Assert.Equal(Message(i), got2[i]);
        }
        var stats = s.GetPathStats("ingest/p/cam-a")!;
        Assert.Equal(new PathStats("ingest/p/cam-a", true, 2, count * 1316L, 2 * count * 1316L, 0, 0), stats);
    }

    [Fact]
    public async Task Reader_gets_only_what_is_sent_after_it_joined()
    {
        using var s = MediaMtxStandIn.Start(new StandInOptions());
        using var pub = Connect(s, "publish:ingest/p/cam-a");
        await s.WaitForAttemptAsync(a => a.Action == "publish" && a.Outcome == SrtAttemptOutcome.Accepted, Wait);
        for (int i = 0; i < 20; i++) pub.Send(Message(i));
        var sw = Stopwatch.StartNew();
        while (s.GetPathStats("ingest/p/cam-a")!.BytesIn < 20 * 1316 && sw.Elapsed < Wait) Thread.Sleep(5);

        using var r = Connect(s, "read:ingest/p/cam-a");
        WaitForReaders(s, "ingest/p/cam-a", 1);
        for (int i = 100; i < 110; i++) pub.Send(Message(i));
        var got = ReceiveMessages(r, 10, TimeSpan.FromSeconds(2));
        Assert.Equal(Enumerable.Range(100, 10), got.Select(m => BitConverter.ToInt32(m)));
    }

    [Fact]
    public async Task New_publisher_replaces_old_one_and_disconnects_readers()
    {
        using var s = MediaMtxStandIn.Start(new StandInOptions());
        using var pub1 = Connect(s, "publish:ingest/p/cam-a");
        await s.WaitForAttemptAsync(a => a.Action == "publish" && a.Outcome == SrtAttemptOutcome.Accepted, Wait);
        using var reader = Connect(s, "read:ingest/p/cam-a");
        WaitForReaders(s, "ingest/p/cam-a", 1);
        Assert.Empty(s.Publishers("ingest/p/cam-a")); // a session starts with the first message
        pub1.Send(Message(0));
        var sw = Stopwatch.StartNew();
        while (s.Publishers("ingest/p/cam-a").Count == 0 && sw.Elapsed < Wait) Thread.Sleep(5);

        // Connected, the newcomer replaces nobody yet: MediaMTX adds a publisher once it has read its tracks.
        using var pub2 = Connect(s, "publish:ingest/p/cam-a");
        await s.WaitForAttemptAsync(a => a.Sequence == 3 && a.Outcome == SrtAttemptOutcome.Accepted, Wait);
        Thread.Sleep(200);
        Assert.True(pub1.IsConnected, "the old publisher was replaced before the new one sent anything");
        Assert.Null(Assert.Single(s.Publishers("ingest/p/cam-a")).Ended);
        pub2.Send(Message(1));
        Assert.True(pub1.WaitForDisconnect(Wait), "old publisher still connected");
        Assert.True(reader.WaitForDisconnect(Wait), "reader of the replaced publisher still connected:\n" + string.Join("\n", s.Attempts()));
        Assert.True(pub2.IsConnected);

        var attempts = s.Attempts();
        Assert.Equal(3, attempts.Count);
        Assert.Equal([1L, 2L, 3L], attempts.Select(a => a.Sequence));
        Assert.Equal("replaced by a new publisher", attempts[0].Reason);
        Assert.NotNull(attempts[0].ClosedAt);
        Assert.Equal("publisher replaced", attempts[1].Reason);
        Assert.NotNull(attempts[1].ClosedAt);
        Assert.Null(attempts[2].ClosedAt);
        Assert.Equal(["ingest/p/cam-a"], s.PublishedPaths());
        // pub1's session ended at the instant pub2's started (its first message): one publisher at a time, exactly.
        var sessions = s.Publishers("ingest/p/cam-a");
        Assert.Equal([1L, 3L], sessions.Select(x => x.Sequence));
        Assert.True(sessions[0].WasReplaced);
        Assert.Equal(sessions[1].Started, sessions[0].Ended);
        Assert.Empty(PublishSession.Overlaps(sessions, TimeSpan.Zero));

        // The new publisher serves new readers.
        using var reader2 = Connect(s, "read:ingest/p/cam-a");
        WaitForReaders(s, "ingest/p/cam-a", 1);
        pub2.Send(Message(7));
        Assert.Equal(Message(7), ReceiveMessages(reader2, 1, TimeSpan.FromSeconds(2)).Single());
    }

    [Fact]
    public async Task Publisher_leaving_closes_its_readers()
    {
        using var s = MediaMtxStandIn.Start(new StandInOptions());
        var pub = Connect(s, "publish:ingest/p/cam-a");
        await s.WaitForAttemptAsync(a => a.Action == "publish" && a.Outcome == SrtAttemptOutcome.Accepted, Wait);
        using var reader = Connect(s, "read:ingest/p/cam-a");
        WaitForReaders(s, "ingest/p/cam-a", 1);

        pub.Dispose();
        Assert.True(reader.WaitForDisconnect(Wait), "reader still connected:\n" + string.Join("\n", s.Attempts()));
        var closed = await s.WaitForAttemptAsync(a => a.Action == "read" && a.ClosedAt != null, Wait);
        Assert.Equal("publisher left", closed.Reason);
        Assert.Equal("publisher disconnected", s.Attempts()[0].Reason);
        Assert.Empty(s.PublishedPaths());
        Assert.Equal(RejxNotFound, Assert.Throws<SrtException>(() => Connect(s, "read:ingest/p/cam-a")).RejectReason);
    }

    [Fact]
    public async Task A_message_of_whole_TS_packets_of_any_count_passes_and_a_broken_one_drops_the_publisher()
    {
        using var s = MediaMtxStandIn.Start(new StandInOptions());
        using var pub = Connect(s, "publish:ingest/p/cam-a");
        await s.WaitForAttemptAsync(a => a.Action == "publish" && a.Outcome == SrtAttemptOutcome.Accepted, Wait);
        using var reader = Connect(s, "read:ingest/p/cam-a");
        WaitForReaders(s, "ingest/p/cam-a", 1);

        var twoPackets = Message(1)[..376]; // the short last message of a frame
        pub.Send(twoPackets);
        Assert.Equal(twoPackets, ReceiveMessages(reader, 1, TimeSpan.FromSeconds(2)).Single());

        pub.Send(Message(2)[..1000]);
        Assert.True(pub.WaitForDisconnect(Wait), "a publisher whose message is not whole TS packets stays connected");
        Assert.Equal("received packet with size 1000 not multiple of 188", s.Attempts()[0].Reason);
        Assert.True(reader.WaitForDisconnect(Wait));
    }

    [Fact]
    public async Task KickPublisher_simulates_a_dropped_feed()
    {
        using var s = MediaMtxStandIn.Start(new StandInOptions());
        using var pub = Connect(s, "publish:ingest/p/cam-a");
        await s.WaitForAttemptAsync(a => a.Action == "publish" && a.Outcome == SrtAttemptOutcome.Accepted, Wait);
        using var reader = Connect(s, "read:ingest/p/cam-a");
        WaitForReaders(s, "ingest/p/cam-a", 1);

        Assert.False(s.KickPublisher("ingest/p/other"));
        Assert.True(s.KickPublisher("ingest/p/cam-a"));
        Assert.Empty(s.PublishedPaths());
        Assert.True(pub.WaitForDisconnect(Wait));
        Assert.True(reader.WaitForDisconnect(Wait));
        Assert.Equal("kicked by test", s.Attempts()[0].Reason);
        Assert.False(s.KickPublisher("ingest/p/cam-a"));
        // The camera can come back.
        using var again = Connect(s, "publish:ingest/p/cam-a");
        await s.WaitForAttemptAsync(a => a.Sequence == 3 && a.Outcome == SrtAttemptOutcome.Accepted, Wait);
        Assert.Equal(["ingest/p/cam-a"], s.PublishedPaths());
    }

    [Fact]
    public async Task Slow_reader_does_not_block_publisher_or_other_readers()
    {
        using var s = MediaMtxStandIn.Start(new StandInOptions());
        using var pub = Connect(s, "publish:ingest/p/cam-a");
        await s.WaitForAttemptAsync(a => a.Action == "publish" && a.Outcome == SrtAttemptOutcome.Accepted, Wait);
        // Never reads, and has a tiny window so its sender side fills almost at once.
        using var slow = Connect(s, "read:ingest/p/cam-a", options: new SrtClientOptions { FlowWindowPackets = 32, ReceiveBufferBytes = 32 * 1500 });
        using var fast = Connect(s, "read:ingest/p/cam-a", options: new SrtClientOptions { LatencyMs = 400 });
        WaitForReaders(s, "ingest/p/cam-a", 2);

        const int count = 3000; // ~3.9 MB at ~2.6 MB/s: the slow reader's 1.5 MB send buffer fills within the 1 s libsrt keeps unacked packets
        const double perMs = 2; // paced by the clock: a sender that overslept (a starved machine) catches up, so the rate holds
        var receive = Task.Run(() => ReceiveMessages(fast, count, TimeSpan.FromSeconds(2)));
        var sw = Stopwatch.StartNew();
        for (int i = 0; i < count; i++)
        {
            while (i > sw.Elapsed.TotalMilliseconds * perMs) Thread.Sleep(1);
            pub.Send(Message(i));
        }
        var sendTime = sw.Elapsed;
        var got = await receive;

        Assert.Equal(count, got.Count);
        Assert.Equal(Enumerable.Range(0, count), got.Select(m => BitConverter.ToInt32(m)));
        var stats = s.GetPathStats("ingest/p/cam-a")!;
        Assert.Equal(count * 1316L, stats.BytesIn);
        Assert.True(stats.MessagesDropped > 0, $"slow reader never overflowed: {stats}");
        Assert.True(sendTime < TimeSpan.FromSeconds(4), $"publisher took {sendTime}");
        Assert.True(slow.IsConnected);
    }

    [Fact]
    public async Task Attempts_record_what_the_client_asked_for_without_secrets()
    {
        using var s = StartWithPassphrases();
        var before = DateTimeOffset.UtcNow;
        using (Connect(s, "publish:ingest/p/cam-a:op:hunter2-secret:token=abc&x=1", IngestPass))
            await s.WaitForAttemptAsync(x => x.Outcome != SrtAttemptOutcome.Pending, Wait); // taken on before the client closes
        var a = await s.WaitForAttemptAsync(x => x.ClosedAt != null, Wait);

        Assert.Equal(1, a.Sequence);
        Assert.InRange(a.At, before, DateTimeOffset.UtcNow);
        Assert.Matches(@"^127\.0\.0\.1:\d+$", a.Remote);
        Assert.Equal("publish:ingest/p/cam-a:op:***:token=abc&x=1", a.StreamId);
        Assert.Equal(("publish", "ingest/p/cam-a", "op", "token=abc&x=1"), (a.Action, a.Path, a.User, a.Query));
        Assert.Equal(SrtAttemptOutcome.Accepted, a.Outcome);
        Assert.True(a.ClosedAt >= a.At);
        Assert.Equal("publisher disconnected", a.Reason);

        var everything = string.Join("\n", s.Attempts()) + s.ToString();
        Assert.DoesNotContain("hunter2", everything);
        Assert.DoesNotContain(IngestPass, everything);
        Assert.DoesNotContain(IngestPass, new StandInOptions { IngestPassphrase = IngestPass }.ToString());
    }

    [Fact]
    public async Task WaitForAttempt_times_out_with_a_listing()
    {
        using var s = MediaMtxStandIn.Start(new StandInOptions());
        Assert.Throws<SrtException>(() => Connect(s, "read:nothing"));
        var ex = await Assert.ThrowsAsync<TimeoutException>(() => s.WaitForAttemptAsync(a => a.Path == "never", TimeSpan.FromMilliseconds(200)));
        Assert.Contains("read:nothing", ex.Message);
    }

    [Fact]
    public async Task Dispose_closes_all_connections_and_frees_the_port()
    {
        var s = MediaMtxStandIn.Start(new StandInOptions());
        int port = s.Port;
        Assert.NotEqual(0, port);
        var pub = Connect(s, "publish:ingest/p/cam-a");
        await s.WaitForAttemptAsync(a => a.Outcome == SrtAttemptOutcome.Accepted, Wait);
        var reader = Connect(s, "read:ingest/p/cam-a");
        WaitForReaders(s, "ingest/p/cam-a", 1);

        s.Dispose();
        s.Dispose(); // idempotent
        Assert.True(pub.WaitForDisconnect(Wait));
        Assert.True(reader.WaitForDisconnect(Wait));
        Assert.All(s.Attempts(), a => Assert.NotNull(a.ClosedAt));
        pub.Dispose();
        reader.Dispose();

        using var again = MediaMtxStandIn.Start(new StandInOptions { Port = port });
        Assert.Equal(port, again.Port);
        using (Connect(again, "publish:x")) { }
    }
}
