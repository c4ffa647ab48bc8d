using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using MixerWorker.ControlPlane;
using MixerWorker.Pipeline.Engine;
using MixerWorker.Pipeline.Scene;
using MixerWorker.Testbed.Feeds;
using MixerWorker.Testbed.Imaging;
using Xunit;
using Xunit.Abstractions;
using static MixerWorker.Tests.WorkerHarness;

namespace MixerWorker.Tests;

/// <summary>The worker process against a real redis-server and the MediaMTX stand-in.</summary>
public sealed class WorkerTests(ITestOutputHelper output)
{
    private static readonly FeedSpec A = FeedSpec.Numbered(0, Input) with { Width = 160, Height = 90 };
    private static readonly TimeSpan Long = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task A_worker_started_after_the_write_converges_on_the_desired_state()
    {
        await using var h = await WorkerHarness.StartAsync(output);
        h.StartFeed(A);
        await h.WaitForPublisherAsync($"ingest/{Project}/{A.Input}", Long);
        await h.WriteDesiredAsync(Scene(3)); // nobody listens yet

        var clock = Stopwatch.StartNew();
        h.StartWorker();
        var program = h.Read("program");
        var status = await h.WaitForStatusAsync(s => s.Revision == 3
            && s.Inputs[A.Input].State == ConnectionState.Connected && s.Buses["program"].Output == ConnectionState.Connected, Long);
        var frame = await program.WaitForFrameAsync(Long, f => Colors.Near(f.ColorAt(80, 45), A.Rgb));
        output.WriteLine($"process start to status connected: {status.UpdatedAt - DateTimeOffset.UtcNow + clock.Elapsed:g}; to the input's colour on air: {clock.Elapsed.TotalSeconds:F1} s");
        Assert.Equal("worker-under-test", status.Worker);
        Assert.InRange(await h.Db.KeyTimeToLiveAsync(h.Keys.Status(Project)) ?? TimeSpan.Zero, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(15));
        Assert.NotNull(frame);
        h.AssertNoSecretLeaked();
    }

    [Fact]
    public async Task Ingest_online_connects_the_input_at_once_instead_of_after_its_backoff()
    {
        await using var h = await WorkerHarness.StartAsync(output);
        await h.WriteDesiredAsync(Scene(1));
        var worker = h.StartWorker(("RECONNECT__INITIALDELAYMS", "20000"), ("RECONNECT__MAXDELAYMS", "20000"), ("RECONNECT__PROBEINTERVALMS", "20000"));
        // Wait until the input is in a long backoff (jitter can make the first waits short; those pass by themselves).
        var retry = new Regex($@"input {A.Input} \(.*?\): connection failed .*?; retry \d+ in (?<s>[\d.]+) s", RegexOptions.Singleline);
        var match = await worker.WaitForOutputAsync(retry, m => double.Parse(m.Groups["s"].Value, CultureInfo.InvariantCulture) >= 8, TimeSpan.FromSeconds(60));
        var backoffStarted = DateTimeOffset.UtcNow;
        var backoff = double.Parse(match.Groups["s"].Value, CultureInfo.InvariantCulture);

        h.StartFeed(A);
        await h.WaitForPublisherAsync($"ingest/{Project}/{A.Input}", Long);
        var announced = DateTimeOffset.UtcNow;
        await h.Db.PublishAsync(h.Keys.MediaMtxEvents,
            $$"""{"event":"INGEST_ONLINE","project":"{{Project}}","name":"{{A.Input}}","protocol":"srt"}""");
        var attempt = await h.StandIn.WaitForAttemptAsync(a => a.Path == $"ingest/{Project}/{A.Input}" && a.Action == "read" && a.At >= announced, TimeSpan.FromSeconds(5));
        // How soon the worker tried is the attempt's time; the connection itself may take a starved machine longer.
        await h.WaitForStatusAsync(s => s.Inputs[A.Input].State == ConnectionState.Connected, Long);
        var latency = attempt.At - announced;
        output.WriteLine($"backoff pending: {backoff:F1} s; INGEST_ONLINE to the worker's connection attempt: {latency.TotalMilliseconds:F0} ms");
        Assert.True(latency < TimeSpan.FromSeconds(2), $"connected {latency.TotalSeconds:F1} s after the event");
        Assert.True(attempt.At < backoffStarted.AddSeconds(backoff - 2), "the attempt came well before the backoff would have ended");
        h.AssertNoSecretLeaked();
    }

    [Fact]
    public async Task A_Redis_restart_keeps_the_outputs_on_air_and_the_worker_catches_up_with_changes()
    {
        await using var h = await WorkerHarness.StartAsync(output);
        h.StartFeed(A);
        await h.WaitForPublisherAsync($"ingest/{Project}/{A.Input}", Long);
        await h.WriteDesiredAsync(Scene(1));
        h.StartWorker();
        var program = h.Read("program");
        await program.WaitForFrameAsync(Long, f => Colors.Near(f.ColorAt(80, 45), A.Rgb));
        await h.WaitForStatusAsync(s => s.Revision == 1, Long);
        program.ResetCounters();

        await h.Redis.KillAsync();
        await Task.Delay(2000); // the worker notices, backs off and keeps trying
        await h.Redis.StartAsync(); // empty: no persistence
        await h.ConnectClientAsync();
        var back = Stopwatch.StartNew();
        // Written after the restart without a notification: only the worker's resync can find it.
        await h.WriteDesiredAsync(Scene(2, boxWidth: 80), notify: false);
        await h.WaitForStatusAsync(s => s.Revision == 2, Long);
        var converged = back.Elapsed;
        await program.WaitForFrameAsync(Long, f => Colors.IsBlack(f.ColorAt(120, 45)) && Colors.Near(f.ColorAt(40, 45), A.Rgb));
        var stats = program.Stats;
        output.WriteLine($"Redis back to revision 2 in the status key: {converged.TotalSeconds:F1} s; output across the outage: {stats}");
        Assert.True(program.Connections == 1, program.ConnectionReport);
        Assert.InRange(stats.MaxFrameGapMs, 1, 250);
        h.AssertNoSecretLeaked();
    }

    [Fact]
    public async Task Each_bad_desired_state_yields_an_error_event_and_nothing_changes_on_air()
    {
        await using var h = await WorkerHarness.StartAsync(output);
        h.StartFeed(A);
        await h.WaitForPublisherAsync($"ingest/{Project}/{A.Input}", Long);
        await h.WriteDesiredAsync(Scene(1));
        // A long resync: every reaction below comes from the notification.
        h.StartWorker(("WORKER__RESYNCSECONDS", "600"));
        var program = h.Read("program");
        await program.WaitForFrameAsync(Long, f => Colors.Near(f.ColorAt(120, 45), A.Rgb));
        await h.WaitForStatusAsync(s => s.Revision == 1, Long);

        var narrower = SceneJson.Write(Scene(1, boxWidth: 80));
        (string Payload, string Reason, string Says)[] cases =
        [
            ("""{"project":"show","revision":2,"buses":[""", ErrorReasons.InvalidScene, "malformed"),
            (SceneJson.Write(Scene(2) with { Buses = [Scene(2).Buses[0] with { Layout = [new Box { Source = "ghost", Width = 10, Height = 10 }] }] }), ErrorReasons.InvalidScene, "ghost"),
            (narrower.Replace("\"revision\": 1", "\"revision\": 2, \"colour\": \"red\""), ErrorReasons.InvalidScene, "colour"),
            (SceneJson.Write(Scene(2)).Replace("\"project\"", $"\"padding\": \"{new string('x', 300 * 1024)}\", \"project\""), ErrorReasons.Oversized, "262144"),
            (narrower, ErrorReasons.StaleRevision, "applied revision 1"),
            (SceneJson.Write(Scene(0, boxWidth: 80)), ErrorReasons.StaleRevision, "revision 0"),
            (SceneJson.Write(Scene(7) with { Project = "other" }), ErrorReasons.WrongProject, "'other'"),
        ];
        foreach (var (payload, reason, says) in cases)
        {
            await h.WriteDesiredAsync(payload);
            var error = await h.NextEventAsync(e => e.Type == EventTypes.Error, TimeSpan.FromSeconds(10));
            output.WriteLine($"{reason}: {string.Join("; ", error.Errors!)}");
            Assert.Equal(reason, error.Reason);
            Assert.Contains(error.Errors!, m => m.Contains(says, StringComparison.Ordinal));
        }
        program.ResetCounters();
        await Task.Delay(1000);
        Assert.Equal(1, (await h.StatusAsync())!.Revision);
        // The bus keeps publishing: 20 new frames, however long a starved machine takes to deliver them.
        await WorkerHarness.Eventually(() => Task.FromResult(program.Stats.Frames >= 20), Long, "the bus stopped publishing after the refused scenes (fewer than 20 new frames)");
        Assert.True(Colors.Near(program.Latest!.ColorAt(120, 45), A.Rgb), "the refused scenes changed nothing on air");
        Assert.True(program.Connections == 1, program.ConnectionReport);

        // The worker is still listening: a good revision goes on air.
        await h.WriteDesiredAsync(SceneJson.Write(Scene(2, boxWidth: 80)));
        var applied = await h.NextEventAsync(e => e.Type == EventTypes.Applied, TimeSpan.FromSeconds(10));
        Assert.Equal(2, applied.Revision);
        await program.WaitForFrameAsync(Long, f => Colors.IsBlack(f.ColorAt(120, 45)));
        h.AssertNoSecretLeaked();
    }

    [Fact]
    public async Task Sigterm_ends_the_outputs_and_exits_within_the_grace_period()
    {
        await using var h = await WorkerHarness.StartAsync(output);
        await h.WriteDesiredAsync(Scene(1));
        var worker = h.StartWorker(("SHUTDOWN__GRACESECONDS", "5"));
        await h.WaitForPublisherAsync($"out/{Project}/program", Long);

        var clock = Stopwatch.StartNew();
        worker.Terminate();
        var code = await worker.WaitForExitAsync(TimeSpan.FromSeconds(8));
        output.WriteLine($"SIGTERM to exit: {clock.ElapsedMilliseconds} ms");
        Assert.Equal(0, code);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(6));
        await WorkerHarness.Eventually(() => Task.FromResult(!h.StandIn.PublishedPaths().Contains($"out/{Project}/program")), TimeSpan.FromSeconds(3), "the output was still published");
        h.AssertNoSecretLeaked();
    }

    [Fact]
    public async Task Invalid_configuration_is_refused_at_start_naming_the_variable_without_the_password()
    {
        await using var h = await WorkerHarness.StartAsync(output);
        var (code, text) = await WorkerProcess.RunAsync(h.Environment(("REDIS__CONFIGURATION", "")), Long);
        output.WriteLine(text);
        Assert.Equal(2, code);
        Assert.Contains("REDIS__CONFIGURATION", text);

        (code, text) = await WorkerProcess.RunAsync(h.Environment(("REDIS__CONFIGURATION", $"127.0.0.1:1,password={RedisPassword},nosuchoption=1")), Long);
        output.WriteLine(text);
        Assert.Equal(2, code);
        Assert.Contains("REDIS__CONFIGURATION", text);
        Assert.DoesNotContain(RedisPassword, text);

        // The fleet's settings too: a renewal interval above a third of the TTL.
        (code, text) = await WorkerProcess.RunAsync(h.Environment(("FLEET__RENEWINTERVALMS", "1500")), Long);
        output.WriteLine(text);
        Assert.Equal(2, code);
        Assert.Contains("FLEET__RENEWINTERVALMS", text);
        Assert.DoesNotContain(RedisPassword, text);

        // And the engine's: a bus stall timeout of zero.
        (code, text) = await WorkerProcess.RunAsync(h.Environment(("STALL__BUSTIMEOUTMS", "0")), Long);
        output.WriteLine(text);
        Assert.Equal(2, code);
        Assert.Contains("STALL__BUSTIMEOUTMS", text);
    }

    [Fact]
    public async Task Mixerctl_stores_a_scene_with_the_next_revision_and_reports_status()
    {
        await using var h = await WorkerHarness.StartAsync(output);
        var file = Path.GetTempFileName();
        try
        {
            await File.WriteAllTextAsync(file, SceneJson.Write(Scene(0)));
            var env = h.Environment();
            Assert.Equal(0, (await WorkerProcess.RunAsync(env, Long, "ctl", "set", Project, file)).ExitCode);
            h.StartWorker();
            await h.WaitForStatusAsync(s => s.Revision == 1, Long);
            var (code, text) = await WorkerProcess.RunAsync(env, Long, "ctl", "set", Project, file);
            Assert.Equal((0, $"{Project}: revision 2 stored"), (code, text.Trim()));
            await h.WaitForStatusAsync(s => s.Revision == 2, Long);

            (code, text) = await WorkerProcess.RunAsync(env, Long, "ctl", "list");
            Assert.Equal(0, code);
            Assert.Contains($"{Project}\tdesired 2\tapplied 2\ton worker-under-test", text);
            (code, text) = await WorkerProcess.RunAsync(env, Long, "ctl", "status", Project);
            Assert.Equal(0, code);
            Assert.Contains("\"program\"", text);

            await File.WriteAllTextAsync(file, SceneJson.Write(Scene(0)).Replace("\"fill\"", "\"stretch\""));
            (code, text) = await WorkerProcess.RunAsync(env, Long, "ctl", "set", Project, file);
            output.WriteLine(text);
            Assert.Equal(1, code);
            Assert.Contains("scene:", text);
            h.AssertNoSecretLeaked();
        }
        finally { File.Delete(file); }
    }
}
