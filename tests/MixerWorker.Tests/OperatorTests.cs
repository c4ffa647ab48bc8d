using System.Diagnostics;
using System.Text.Json;
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

/// <summary>MediaMTX events, JSON logs, project removal and mixerctl's commands, against a worker process and a real redis-server.</summary>
public sealed class OperatorTests(ITestOutputHelper output)
{
    private static readonly FeedSpec A = FeedSpec.Numbered(0, Input) with { Width = 160, Height = 90 };
    private static readonly FeedSpec B = FeedSpec.Numbered(1, InputB) with { Width = 160, Height = 90 };
    private static readonly TimeSpan Long = TimeSpan.FromSeconds(20);

    private static string MediaMtxEvent(string e, string name) => $$"""{"event":"{{e}}","project":"{{Project}}","name":"{{name}}","protocol":"srt"}""";

    [Fact]
    public async Task Ingest_offline_shows_the_input_offline_and_pauses_its_retries_until_ingest_online()
    {
        await using var h = await WorkerHarness.StartAsync(output);
        var feed = h.StartFeed(A);
        await h.WaitForPublisherAsync($"ingest/{Project}/{A.Input}", Long);
        await h.WriteDesiredAsync(Scene(1));
        // Short backoff: without the pause the input would be tried several times a second.
        h.StartWorker(("RECONNECT__INITIALDELAYMS", "100"), ("RECONNECT__MAXDELAYMS", "300"), ("WORKER__INGESTPOLLSECONDS", "60"));
        await h.WaitForStatusAsync(s => s.Inputs[A.Input].State == ConnectionState.Connected && s.Buses["program"].Output == ConnectionState.Connected, Long);

        // OUTPUT_ONLINE / OUTPUT_OFFLINE: MediaMTX's view of the bus.
        await h.Db.PublishAsync(h.Keys.MediaMtxEvents, MediaMtxEvent("OUTPUT_ONLINE", "program"));
        await h.WaitForStatusAsync(s => s.Buses["program"].Published == true, TimeSpan.FromSeconds(5));
        await h.Db.PublishAsync(h.Keys.MediaMtxEvents, MediaMtxEvent("OUTPUT_OFFLINE", "program"));
        await h.WaitForStatusAsync(s => s.Buses["program"].Published == false, TimeSpan.FromSeconds(5));

        // The feed goes away and MediaMTX says so.
        feed.Dispose();
        await h.Db.PublishAsync(h.Keys.MediaMtxEvents, MediaMtxEvent("INGEST_OFFLINE", A.Input));
        await h.WaitForStatusAsync(s => s.Inputs[A.Input].Ingest == "offline" && s.Inputs[A.Input].State != ConnectionState.Connected, Long);
        await Task.Delay(1500); // the loss is noticed and the one attempt that follows it fails
        var quietFrom = DateTimeOffset.UtcNow;
        await Task.Delay(3000);
        var attempts = h.StandIn.Attempts().Count(a => a.Path == $"ingest/{Project}/{A.Input}" && a.Action == "read" && a.At >= quietFrom);
        output.WriteLine($"read attempts on the offline input in 3 s: {attempts}");
        Assert.Equal(0, attempts);

        // Back: INGEST_ONLINE connects it at once.
        h.StartFeed(A);
        await h.WaitForPublisherAsync($"ingest/{Project}/{A.Input}", Long);
        var announced = DateTimeOffset.UtcNow;
        await h.Db.PublishAsync(h.Keys.MediaMtxEvents, MediaMtxEvent("INGEST_ONLINE", A.Input));
        var status = await h.WaitForStatusAsync(s => s.Inputs[A.Input].Ingest == "online" && s.Inputs[A.Input].State == ConnectionState.Connected, TimeSpan.FromSeconds(5));
        output.WriteLine($"INGEST_ONLINE to connected in the status: {(DateTimeOffset.UtcNow - announced).TotalMilliseconds:F0} ms");
        Assert.Contains(h.Events(), e => e.Type == EventTypes.Status && e.Status!.Inputs[A.Input].Ingest == "offline");
        h.AssertNoSecretLeaked();
    }

    [Fact]
    public async Task The_slow_poll_finds_an_offline_input_that_came_back_without_an_event()
    {
        await using var h = await WorkerHarness.StartAsync(output);
        await h.WriteDesiredAsync(Scene(1));
        h.StartWorker(("RECONNECT__INITIALDELAYMS", "100"), ("RECONNECT__MAXDELAYMS", "300"), ("WORKER__INGESTPOLLSECONDS", "2"));
        await h.WaitForStatusAsync(s => s.Buses["program"].Output == ConnectionState.Connected, Long);
        await h.Db.PublishAsync(h.Keys.MediaMtxEvents, MediaMtxEvent("INGEST_OFFLINE", A.Input));
        await h.WaitForStatusAsync(s => s.Inputs[A.Input].Ingest == "offline", Long);
        h.StartFeed(A); // INGEST_ONLINE is lost
        var status = await h.WaitForStatusAsync(s => s.Inputs[A.Input].State == ConnectionState.Connected, TimeSpan.FromSeconds(10));
        Assert.Equal("online", (await h.WaitForStatusAsync(s => s.Inputs[A.Input].Ingest == "online", TimeSpan.FromSeconds(5))).Inputs[A.Input].Ingest);
    }

    [Fact]
    public async Task Json_logs_are_one_object_per_line_and_hold_no_secret()
    {
        await using var h = await WorkerHarness.StartAsync(output);
        h.StartFeed(A);
        h.StartFeed(B);
        await h.WaitForPublisherAsync($"ingest/{Project}/{A.Input}", Long);
        await h.WriteDesiredAsync(TwoInputScene(1));
        var worker = h.StartWorker(("LOGGING__FORMAT", "json"));
        await h.WaitForStatusAsync(s => s.Revision == 1 && s.Buses["program"].Output == ConnectionState.Connected, Long);
        // Walk the new paths: commands (good and bad), MediaMTX events, a refused desired state.
        Assert.Equal(EventTypes.CommandApplied, (await h.AnswerAsync(await h.AddCommandAsync(new CutCommand { Bus = "program" }))).Type);
        Assert.Equal(EventTypes.Error, (await h.AnswerAsync(await h.AddCommandAsync("""{"type":"cut","bus":"nope"}"""))).Type);
        await h.Db.PublishAsync(h.Keys.MediaMtxEvents, MediaMtxEvent("INGEST_OFFLINE", B.Input));
        await h.Db.PublishAsync(h.Keys.MediaMtxEvents, MediaMtxEvent("INGEST_ONLINE", B.Input));
        await h.Db.PublishAsync(h.Keys.MediaMtxEvents, MediaMtxEvent("OUTPUT_ONLINE", "program"));
        await h.WriteDesiredAsync("""{"project":"show","revision":9,"buses":[""");
        await h.NextEventAsync(e => e.Type == EventTypes.Error && e.Reason == ErrorReasons.InvalidScene, Long);
        await h.WaitForStatusAsync(s => s.Buses["program"].Published == true, Long);
        worker.Terminate();
        await worker.WaitForExitAsync(TimeSpan.FromSeconds(15));

        var lines = worker.StdoutLines;
        output.WriteLine($"{lines.Count} lines on stdout; first: {lines.FirstOrDefault()}");
        Assert.True(lines.Count > 10);
        foreach (var line in lines)
        {
            using var doc = JsonDocument.Parse(line); // throws on anything that is not one JSON value
            Assert.Equal(JsonValueKind.Object, doc.RootElement.ValueKind);
            Assert.True(doc.RootElement.TryGetProperty("@t", out _), line);
            Assert.True(doc.RootElement.TryGetProperty("@m", out _), line);
        }
        Assert.Contains(lines, l => l.Contains("\"Project\":\"show\"", StringComparison.Ordinal)); // properties are kept as fields
        h.AssertNoSecretLeaked();

        var (code, text) = await WorkerProcess.RunAsync(h.Environment(("LOGGING__FORMAT", "xml")), Long);
        output.WriteLine(text);
        Assert.Equal(2, code);
        Assert.Contains("LOGGING__FORMAT", text);
    }

    [Fact]
    public async Task Removing_a_project_stops_its_mixer_and_clears_its_status()
    {
        await using var h = await WorkerHarness.StartAsync(output);
        h.StartFeed(A);
        await h.WaitForPublisherAsync($"ingest/{Project}/{A.Input}", Long);
        await h.WriteDesiredAsync(Scene(1));
        var worker = h.StartWorker();
        await h.WaitForStatusAsync(s => s.Buses["program"].Output == ConnectionState.Connected, Long);
        await h.WaitForPublisherAsync($"out/{Project}/program", Long);
        var env = h.Environment();

        var clock = Stopwatch.StartNew();
        var (code, text) = await WorkerProcess.RunAsync(env, Long, "ctl", "remove", Project);
        output.WriteLine($"{text} ({clock.ElapsedMilliseconds} ms)");
        Assert.Equal(0, code);
        Assert.Contains("stopped by worker-under-test", text);
        Assert.Null(await h.StatusAsync());
        Assert.Null(await h.DesiredAsync());
        Assert.False(await h.Db.SetContainsAsync(h.Keys.Projects, Project));
        await Eventually(() => Task.FromResult(!h.StandIn.PublishedPaths().Contains($"out/{Project}/program")), TimeSpan.FromSeconds(5), "the output was still published");
        await Task.Delay(2500); // a resync: the status stays gone, nothing starts again
        Assert.Null(await h.StatusAsync());
        Assert.Contains(h.Events(), e => e.Type == EventTypes.Stopped && e.Worker == "worker-under-test");

        // The same project created again runs again.
        var file = Path.GetTempFileName();
        try
        {
            await File.WriteAllTextAsync(file, SceneJson.Write(Scene(0)));
            Assert.Equal(0, (await WorkerProcess.RunAsync(env, Long, "ctl", "set", Project, file)).ExitCode);
            await h.WaitForStatusAsync(s => s.Buses["program"].Output == ConnectionState.Connected, Long);
        }
        finally { File.Delete(file); }
        Assert.False(worker.HasExited);
        h.AssertNoSecretLeaked();
    }

    [Fact]
    public async Task Mixerctl_sends_each_command_and_waits_for_the_answer()
    {
        await using var h = await WorkerHarness.StartAsync(output);
        h.StartFeed(A);
        h.StartFeed(B);
        await h.WaitForPublisherAsync($"ingest/{Project}/{A.Input}", Long);
        await h.WaitForPublisherAsync($"ingest/{Project}/{B.Input}", Long);
        await h.WriteDesiredAsync(TwoInputScene(1, withGraphics: true));
        h.StartWorker();
        await h.WaitForStatusAsync(s => s.Revision == 1 && s.Inputs.Values.All(i => i.State == ConnectionState.Connected), Long);
        var env = h.Environment();
        await using var watch = WorkerProcess.Start(env, null, "ctl", "watch", Project);
        // It says so once it has subscribed: from then on it sees every event (a process start can take seconds on a starved machine).
        await watch.WaitForOutputAsync(new Regex("watching "), _ => true, Long);

        async Task<(int Code, string Text)> Ctl(params string[] args)
        {
            var result = await WorkerProcess.RunAsync(env, Long, ["ctl", .. args]);
            output.WriteLine($"$ ctl {string.Join(' ', args)} → {result.ExitCode}\n{result.Output}");
            AssertNoSecretIn(result.Output);
            return result;
        }

        var revision = 1;
        foreach (var args in new[]
        {
            new[] { "preview", Project, "program", "--preset", "single", "--sources", InputB },
            ["cut", Project, "program", "--id", "ctl-cut-1"],
            ["auto", Project, "program", "--kind", "wipe", "--ms", "200", "--direction", "left"],
            ["layout", Project, "program", "--preset", "sideBySide", "--sources", $"{Input},{InputB}"],
            ["audio", Project, InputB, "--gain", "-6", "--mute", "--delay", "20"],
            ["bus-audio", Project, "program", "--fixed", "--master", "-2"],
            ["graphics", Project, "program", "0", "on"],
            ["ftb", Project, "program", "--ms", "100"],
        })
        {
            var (code, text) = await Ctl(args);
            Assert.Equal(0, code);
            Assert.Contains($"\"type\":\"commandApplied\"", text);
            Assert.Contains($"\"revision\":{++revision}", text);
        }
        Assert.Contains("\"command\":\"ctl-cut-1\"", (await Ctl("cut", Project, "program", "--id", "ctl-cut-1")).Text); // the same id: a duplicate
        var desired = (await h.DesiredAsync())!;
        Assert.Equal(revision, desired.Revision);
        Assert.Equal(new InputDefinition { Name = InputB, GainDb = -6, Muted = true, DelayMs = 20 }, desired.FindInput(InputB));

        var file = Path.GetTempFileName();
        try
        {
            await File.WriteAllTextAsync(file, """{"bus":"program","type":"ftb-typo"}""");
            var (code, text) = await Ctl("command", Project, file);
            Assert.Equal(1, code);
            Assert.Contains(ErrorReasons.UnknownCommand, text);
            await File.WriteAllTextAsync(file, """{"bus":"program","type":"fadeToBlack","durationMs":100}""");
            Assert.Equal(0, (await Ctl("command", Project, file)).Code);
        }
        finally { File.Delete(file); }

        var (badCode, badText) = await Ctl("cut", Project, "aux5");
        Assert.Equal(1, badCode);
        Assert.Contains("aux5", badText);
        Assert.Equal(2, (await Ctl("auto", Project, "program", "--kind", "spin")).Code);
        Assert.Equal(2, (await Ctl("graphics", Project, "program", "x", "on")).Code);
        Assert.Equal(1, (await Ctl("cut", "nobody-runs-this", "program", "--timeout", "1")).Code);

        // Events reach the watcher on its own connection, and its lines through a pipe: each may still be on its way.
        foreach (var said in new[] { "tally program: on air", "commandApplied ctl-cut-1", "error invalid-command" })
            await watch.WaitForOutputAsync(new Regex(Regex.Escape(said)), _ => true, Long);
        var watched = watch.Output;
        output.WriteLine(watched);
        AssertNoSecretIn(watched);
        h.AssertNoSecretLeaked();
    }
}
