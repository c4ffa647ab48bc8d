using System.Diagnostics;
using System.Text.Json;
using MixerWorker.ControlPlane;
using MixerWorker.Fleet;
using MixerWorker.Pipeline.Engine;
using MixerWorker.Testbed.Feeds;
using MixerWorker.Testbed.Imaging;
using MixerWorker.Testbed.Reading;
using MixerWorker.Testbed.StandIn;
using Xunit;
using Xunit.Abstractions;
using static MixerWorker.Tests.WorkerHarness;

namespace MixerWorker.Tests.Fleet;

/// <summary>
/// Several worker processes (the real engine, 160x90 outputs) on one redis-server and the MediaMTX
/// stand-in, whose record of publish connections per path is the judge of "one publisher per bus".
/// </summary>
public sealed class FleetProcessTests(ITestOutputHelper output)
{
    private static readonly FeedSpec A = FeedSpec.Numbered(0, Input) with { Width = 160, Height = 90 };
    private static readonly FeedSpec B = FeedSpec.Numbered(1, InputB) with { Width = 160, Height = 90 };
    private static readonly TimeSpan Long = TimeSpan.FromSeconds(25);
    private const string ProgramPath = $"out/{Project}/program";

    private static (string, string)[] Fleet(string id) => [("WORKER__ID", id), ("SHUTDOWN__GRACESECONDS", "10")];

    private async Task<WorkerHeartbeat[]> HeartbeatsAsync(WorkerHarness h, params string[] ids)
    {
        var beats = new List<WorkerHeartbeat>();
        foreach (var id in ids)
            if (await h.Db.StringGetAsync(h.Keys.Worker(id)) is { IsNull: false } v)
                beats.Add(JsonSerializer.Deserialize<WorkerHeartbeat>(v.ToString(), ControlPlaneJson.Options)!);
        return [.. beats];
    }

    private void Show(IReadOnlyList<PublishSession> sessions) =>
        output.WriteLine("publishers of program: " + string.Join(" | ", sessions.Select(s => $"#{s.Sequence} {s.Started:HH:mm:ss.fff}-{s.Ended:HH:mm:ss.fff} {s.EndReason}")));

    // Sessions start at a publisher's first message, where MediaMTX (and the stand-in) replaces the previous
    // publisher, whose session ends at that same instant: any overlap at all is two publishers on air.
    private static void AssertOnePublisherAtATime(IReadOnlyList<PublishSession> sessions) =>
        Assert.Empty(PublishSession.Overlaps(sessions, TimeSpan.Zero));

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    public async Task With_several_workers_exactly_one_publishes_a_project_and_the_others_stand_by(int workers)
    {
        await using var h = await WorkerHarness.StartAsync(output);
        h.StartFeed(A);
        await h.WriteDesiredAsync(Scene(1));
        var ids = Enumerable.Range(1, workers).Select(i => $"w{i}").ToArray();
        foreach (var id in ids) h.StartWorker(Fleet(id));
        await h.WaitForPublisherAsync(ProgramPath, Long);
        var status = await h.WaitForStatusAsync(s => s.Buses["program"].Output == ConnectionState.Connected, Long);
        await Task.Delay(4000); // long enough for a second publisher to show up, were there one

        var sessions = h.StandIn.Publishers(ProgramPath);
        Show(sessions);
        var session = Assert.Single(sessions);
        Assert.Null(session.Ended);
        Assert.Equal(1, status.Epoch);
        var claimed = Assert.Single(h.Events(), e => e.Type == EventTypes.Claimed);
        Assert.Equal(status.Worker, claimed.Worker);
        var beats = await HeartbeatsAsync(h, ids);
        Assert.Equal(workers, beats.Length);
        Assert.Equal([status.Worker!], beats.Where(b => b.State == WorkerStates.Active).Select(b => b.Id));
        Assert.All(beats.Where(b => b.Id != status.Worker), b => Assert.Equal((WorkerStates.Standby, 0), (b.State, b.Projects.Count)));

        var (code, text) = await WorkerProcess.RunAsync(h.Environment(), Long, "ctl", "workers");
        output.WriteLine(text);
        Assert.Equal(0, code);
        Assert.Equal(workers - 1, text.Split('\n').Count(l => l.Contains("\tstandby\t", StringComparison.Ordinal)));
        (code, text) = await WorkerProcess.RunAsync(h.Environment(), Long, "ctl", "status", Project);
        Assert.Equal(0, code);
        Assert.Contains($"\"lease\":{{\"owner\":\"{status.Worker}\",\"epoch\":1", text);
        h.AssertNoSecretLeaked();
    }

    [Fact]
    public async Task Kill_9_of_the_owner_puts_the_show_back_on_another_worker_and_a_command_sent_meanwhile_is_applied_once()
    {
        await using var h = await WorkerHarness.StartAsync(output);
        h.StartFeed(A);
        h.StartFeed(B);
        await h.WriteDesiredAsync(TwoInputScene(1));
        var first = h.StartWorker(Fleet("w1"));
        var status = await h.WaitForStatusAsync(s => s.Worker == "w1" && s.Buses["program"].Output == ConnectionState.Connected && s.Inputs.Values.All(i => i.State == ConnectionState.Connected), Long);
        var second = h.StartWorker(Fleet("w2"));
        await Eventually(async () => (await HeartbeatsAsync(h, "w2")).Length == 1, Long, "w2 wrote no heartbeat");
        var program = h.Read("program");
        await program.WaitForFrameAsync(Long, f => Colors.Near(f.ColorAt(80, 45), A.Rgb));
        program.StartRecordingFrames();

        var killedAt = DateTimeOffset.UtcNow;
        await first.KillAsync();
        // An operator cuts while nobody runs the show.
        var entry = await h.AddCommandAsync("""{"type":"cut","id":"cut-in-the-gap","bus":"program"}""");
        var answer = await h.AnswerAsync(entry, Long);
        Assert.Equal((EventTypes.CommandApplied, "w2", 2L), (answer.Type, answer.Worker, answer.Revision!.Value));
        var frame = await program.WaitForFrameAsync(Long, f => Colors.Near(f.ColorAt(80, 45), B.Rgb));

        var sessions = h.StandIn.Publishers(ProgramPath);
        Show(sessions);
        Assert.Equal(2, sessions.Count);
        AssertOnePublisherAtATime(sessions);
        Assert.True(sessions[0].WasReplaced, "the dead owner's output was not replaced by the successor's");
        Assert.Null(sessions[1].Ended);
        var firstFrame = program.RecordedFrames.First(f => f.At >= sessions[1].Started);
        output.WriteLine($"kill -9 to the successor publishing: {(sessions[1].Started - killedAt).TotalMilliseconds:F0} ms; to its first frame at a reader: {(firstFrame.At - killedAt).TotalMilliseconds:F0} ms; to the cut on air: {(frame.At - killedAt).TotalMilliseconds:F0} ms");
        status = await h.WaitForStatusAsync(s => s.Worker == "w2", Long);
        Assert.Equal(2, status.Epoch);
        var lost = Assert.Single(h.Events(), e => e.Type == EventTypes.Lost);
        Assert.Equal(("w1", 1L, "w2"), (lost.Worker, lost.Epoch!.Value, lost.By));
        Assert.Single(h.Events(), e => e.Type == EventTypes.Claimed && e.Worker == "w2" && e.Previous == "w1");
        // Once: one answer, one revision, and w2 did not apply it again on a resync.
        await Task.Delay(2500);
        Assert.Single(h.Events(), e => e.Command == "cut-in-the-gap");
        Assert.Equal(2, (await h.DesiredAsync())!.Revision);
        Assert.Contains(second.Lines, l => l.Contains("claimed at epoch 2", StringComparison.Ordinal));
        h.AssertNoSecretLeaked();
    }

    [Fact]
    public async Task Sigterm_hands_the_show_over_make_before_break_with_a_short_gap_at_the_reader()
    {
        await using var h = await WorkerHarness.StartAsync(output);
        h.StartFeed(A);
        await h.WriteDesiredAsync(Scene(1));
        var first = h.StartWorker(Fleet("w1"));
        await h.WaitForStatusAsync(s => s.Worker == "w1" && s.Buses["program"].Output == ConnectionState.Connected, Long);
        var second = h.StartWorker(Fleet("w2"));
        await Eventually(async () => (await HeartbeatsAsync(h, "w2")).Length == 1, Long, "w2 wrote no heartbeat");
        var program = h.Read("program");
        await program.WaitForFrameAsync(Long, f => Colors.Near(f.ColorAt(80, 45), A.Rgb));
        await Task.Delay(1000);
        program.StartRecordingFrames();

        var clock = Stopwatch.StartNew();
        first.Terminate();
        var code = await first.WaitForExitAsync(TimeSpan.FromSeconds(15));
        var exited = clock.Elapsed;
        await h.WaitForStatusAsync(s => s.Worker == "w2" && s.Buses["program"].Output == ConnectionState.Connected, Long);
        await Task.Delay(1500);

        var frames = program.RecordedFrames;
        var gap = frames.Zip(frames.Skip(1), (a, b) => b.At - a.At).Max();
        var sessions = h.StandIn.Publishers(ProgramPath);
        Show(sessions);
        output.WriteLine($"SIGTERM to exit: {exited.TotalMilliseconds:F0} ms; largest gap between frames at the reader: {gap.TotalMilliseconds:F0} ms over {frames.Count} frames");
        Assert.Equal(0, code);
        Assert.Equal(2, sessions.Count);
        Assert.True(sessions[0].WasReplaced, "w1's output was replaced by w2's (make-before-break), not closed before it");
        AssertOnePublisherAtATime(sessions);
        Assert.True(gap <= TimeSpan.FromSeconds(1), $"the reader saw a gap of {gap.TotalMilliseconds:F0} ms");
        Assert.True(frames.Last().At > DateTimeOffset.UtcNow.AddSeconds(-1), "the reader is getting frames from w2");
        Assert.Contains(first.Lines, l => l.Contains("handed over to w2", StringComparison.Ordinal));
        Assert.Single(h.Events(), e => e.Type == EventTypes.Released && e.Worker == "w1" && e.Reason == "handover");
        Assert.DoesNotContain(h.Events(), e => e.Type == EventTypes.Lost);
        h.AssertNoSecretLeaked();
    }

    [Fact]
    public async Task A_worker_cut_off_from_Redis_loses_its_show_to_another_never_publishes_it_again_and_stops_it_when_Redis_is_back()
    {
        await using var h = await WorkerHarness.StartAsync(output);
        await using var proxy = new TcpProxy(h.Redis.Port);
        h.StartFeed(A);
        await h.WriteDesiredAsync(Scene(1));
        var cutOff = h.StartWorker([.. Fleet("w1"), ("REDIS__CONFIGURATION", $"127.0.0.1:{proxy.Port},password={RedisPassword}")]);
        await h.WaitForStatusAsync(s => s.Worker == "w1" && s.Buses["program"].Output == ConnectionState.Connected, Long);
        var other = h.StartWorker(Fleet("w2"));
        await Eventually(async () => (await HeartbeatsAsync(h, "w2")).Length == 1, Long, "w2 wrote no heartbeat");

        var clock = Stopwatch.StartNew();
        proxy.Cut();
        await h.WaitForStatusAsync(s => s.Worker == "w2" && s.Buses["program"].Output == ConnectionState.Connected, Long);
        var takenOver = clock.Elapsed;
        await Task.Delay(4000); // w1 still runs the project, cut off: it must not take the output back
        var sessions = h.StandIn.Publishers(ProgramPath);
        Show(sessions);
        Assert.Equal(2, sessions.Count);
        Assert.True(sessions[0].WasReplaced);
        Assert.Null(sessions[1].Ended);
        Assert.Contains(cutOff.Lines, l => l.Contains("lease not confirmed", StringComparison.Ordinal));

        proxy.Heal();
        await cutOff.WaitForOutputAsync(new System.Text.RegularExpressions.Regex("stopping on this worker \\(lease lost\\): .*w2 holds the project now"), _ => true, Long);
        await Task.Delay(2000);
        sessions = h.StandIn.Publishers(ProgramPath);
        Show(sessions);
        output.WriteLine($"cut to w2 on air: {takenOver.TotalMilliseconds:F0} ms");
        Assert.Equal(2, sessions.Count);
        AssertOnePublisherAtATime(sessions);
        Assert.Equal("w2", (await h.StatusAsync())!.Worker);
        Assert.Contains(h.Events(), e => e.Type == EventTypes.Lost && e.Worker == "w1" && e.By == "w2");
        Assert.False(other.HasExited);
        h.AssertNoSecretLeaked();
    }

    [Fact]
    public async Task A_Redis_restarted_empty_keeps_the_show_on_air_gives_the_owner_its_lease_back_and_never_a_second_publisher()
    {
        await using var h = await WorkerHarness.StartAsync(output);
        h.StartFeed(A);
        await h.WriteDesiredAsync(Scene(1));
        h.StartWorker(Fleet("w1"));
        await h.WaitForStatusAsync(s => s.Worker == "w1" && s.Buses["program"].Output == ConnectionState.Connected, Long);
        h.StartWorker(Fleet("w2"));
        await Eventually(async () => (await HeartbeatsAsync(h, "w2")).Length == 1, Long, "w2 wrote no heartbeat");
        var program = h.Read("program");
        await program.WaitForFrameAsync(Long, f => Colors.Near(f.ColorAt(80, 45), A.Rgb));

        await h.Redis.KillAsync();
        await Task.Delay(3000); // longer than the lease's TTL
        await h.Redis.StartAsync(); // empty: no persistence
        await h.ConnectClientAsync();
        await h.WriteDesiredAsync(Scene(2, boxWidth: 80), notify: false); // the API writes its projects again
        var status = await h.WaitForStatusAsync(s => s.Revision == 2, Long);
        await Task.Delay(3000);

        var sessions = h.StandIn.Publishers(ProgramPath);
        Show(sessions);
        Assert.Equal("w1", status.Worker);
        Assert.True(status.Epoch >= 2, $"epoch {status.Epoch}: the lease taken back from the emptied Redis keeps rising");
        Assert.Single(sessions);
        Assert.True(program.Connections == 1, program.ConnectionReport);
        var lease = LeaseToken.Parse(await h.Db.StringGetAsync(h.Keys.Lease(Project)));
        Assert.Equal("w1", lease!.Worker);
        h.AssertNoSecretLeaked();
    }
}
