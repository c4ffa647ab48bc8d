using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;
using MixerWorker.ControlPlane;
using MixerWorker.Pipeline.Engine;
using MixerWorker.Pipeline.Scene;
using MixerWorker.Testbed.Feeds;
using Xunit;
using Xunit.Abstractions;
using YamlDotNet.RepresentationModel;
using static MixerWorker.Tests.WorkerHarness;

namespace MixerWorker.Tests;

/// <summary>/metrics, /healthz and /readyz of a worker process with a live project, and the alert rules in deploy/ against what it serves.</summary>
public sealed partial class ObservabilityTests(ITestOutputHelper output)
{
    private static readonly FeedSpec A = FeedSpec.Numbered(0, Input) with { Width = 160, Height = 90 };
    private static readonly FeedSpec B = FeedSpec.Numbered(1, InputB) with { Width = 160, Height = 90 };
    private static readonly TimeSpan Long = TimeSpan.FromSeconds(20);
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(10) };

    private static (string Key, string Value) L(string key, string value) => (key, value);

    [Fact]
    public async Task Metrics_describe_a_live_project_and_health_follows_Redis()
    {
        await using var h = await WorkerHarness.StartAsync(output);
        h.StartFeed(A);
        h.StartFeed(B);
        await h.WaitForPublisherAsync($"ingest/{Project}/{A.Input}", Long);
        await h.WaitForPublisherAsync($"ingest/{Project}/{B.Input}", Long);
        await h.WriteDesiredAsync(TwoInputScene(1));
        var port = MetricsScrape.FreeTcpPort();
        var worker = h.StartWorker(("METRICS__PORT", port.ToString()));
        await h.WaitForStatusAsync(s => s.Inputs.Values.All(i => i.State == ConnectionState.Connected) && s.Buses["program"].Output == ConnectionState.Connected, Long);
        Assert.Equal(EventTypes.CommandApplied, (await h.AnswerAsync(await h.AddCommandAsync(new CutCommand { Bus = "program" }))).Type);
        Assert.Equal(ErrorReasons.InvalidCommand, (await h.AnswerAsync(await h.AddCommandAsync("""{"type":"cut","bus":"nope"}"""))).Reason);
        await h.AddCommandAsync("""{"type":"explode"}""");
        await h.AnswerAsync((await h.AddCommandAsync("""{"type":"explode","bus":"x"}""")));

        var first = await MetricsScrape.GetAsync(Http, port);
        await Task.Delay(1500);
        var m = await MetricsScrape.GetAsync(Http, port);
        output.WriteLine(m.Text);
        (string, string) show = L("project", Project), program = L("bus", "program"), camA = L("input", A.Input), camB = L("input", B.Input);

        // Per bus: frames and bytes keep coming, the output is connected, the encoder is named, audio is metered.
        Assert.True(m.Value("mixer_bus_frames_total", show, program) > first.Value("mixer_bus_frames_total", show, program));
        var bitrate = (m.Value("mixer_bus_sent_bytes_total", show, program) - first.Value("mixer_bus_sent_bytes_total", show, program)) * 8 / 1.5;
        output.WriteLine($"bitrate sent ≈ {bitrate / 1000:F0} kb/s");
        Assert.InRange(bitrate, 50_000, 2_000_000); // 300 kb/s video + 64 kb/s audio + TS overhead
        Assert.Equal(1, m.Value("mixer_bus_output_state", show, program, L("state", "connected")));
        Assert.Equal(0, m.Value("mixer_bus_output_state", show, program, L("state", "retrying")));
        Assert.InRange(m.Value("mixer_bus_output_reconnects_total", show, program), 0, 2); // as for the inputs below
        Assert.Equal(1, m.Value("mixer_bus_encoder_info", show, program, L("backend", "software")));
        // Lateness: the series are there and consistent (whether a loaded test machine drops frames is not asserted).
        Assert.Contains(m.Value("mixer_bus_dropping", show, program), new[] { 0.0, 1.0 });
        Assert.InRange(m.Value("mixer_bus_delivered_fps", show, program), 1, 30);
        Assert.InRange(m.Value("mixer_bus_dropped_frames_total", show, program), 0, m.Value("mixer_bus_frames_total", show, program));
        Assert.InRange(m.Value("mixer_bus_audio_peak_dbfs", show, program), -40, 0);
        // Live timing's lateness: present for every bus (a loaded test machine may drop a few frames).
        Assert.InRange(m.Value("mixer_bus_dropped_frames_total", show, program), 0, m.Value("mixer_bus_frames_total", show, program));
        Assert.True(m.Value("mixer_bus_late_episodes_total", show, program) >= 0);
        Assert.Contains(m.Value("mixer_bus_dropping", show, program), new[] { 0.0, 1.0 });
        // Where the pictures leave: the muxer's pictures are found in the TS handed to SRT (paired by PTS), so
        // about as many leave as were encoded, and how late they leave is known.
        Assert.InRange(m.Value("mixer_bus_pictures_sent_late_total", show, program), 0, m.Value("mixer_bus_frames_total", show, program));
        var status = await h.StatusAsync();
        var leaving = status?.Buses["program"].Lateness;
        output.WriteLine($"program's lateness: {leaving}; shedding: {status?.Shedding}");
        Assert.True(leaving is { PicturesSent: > 0, SentLateP95Ms: not null }, $"no picture was seen leaving: {leaving}");
        // Program first: it never sheds; the project's shedding is in the status and the metrics, whatever a loaded
        // test machine made of it.
        Assert.Equal((false, 1), (leaving!.Shed, leaving.ShedEvery));
        Assert.Equal(1, m.Value("mixer_bus_shed_every", show, program));
        Assert.True(status?.Shedding is { Level: >= 0 and <= 4, Episodes: >= 0 }, $"shedding: {status?.Shedding}");
        Assert.InRange(m.Value("mixer_project_shedding_level", show), 0, 4);
        Assert.True(m.Value("mixer_project_shedding_episodes_total", show) >= 0);

        // Per input: connected, pictures arriving, tone metered at its level.
        foreach (var (input, spec) in new[] { (camA, A), (camB, B) })
        {
            Assert.Equal(1, m.Value("mixer_input_state", show, input, L("state", "connected")));
            Assert.True(m.Value("mixer_input_frames_total", show, input) > first.Value("mixer_input_frames_total", show, input));
            Assert.InRange(m.Value("mixer_input_last_frame_age_seconds", show, input), 0, 1);
            // A starved test machine has lost one SRT connection, or one packet, now and then: the series
            // must be there and small, not zero.
            Assert.InRange(m.Value("mixer_input_decode_errors_total", show, input), 0, 3);
            Assert.InRange(m.Value("mixer_input_reconnects_total", show, input), 0, 2);
            Assert.InRange(m.Value("mixer_input_audio_peak_dbfs", show, input), spec.TonePeakDb - 3, spec.TonePeakDb + 3);
        }

        // Per worker.
        Assert.Equal(1, m.Value("mixer_worker_info", L("worker", "worker-under-test")));
        Assert.Equal(1, m.Value("mixer_worker_projects"));
        Assert.Equal(1, m.Value("mixer_projects_desired"));
        Assert.Equal(1, m.Value("mixer_redis_connected"));
        // The fleet's view: one lease held, a load that counts it, within a capacity below the CPUs.
        Assert.Equal(1, m.Value("mixer_worker_projects_owned"));
        Assert.Equal(0, m.Value("mixer_worker_projects_preparing"));
        Assert.Equal(0, m.Value("mixer_worker_draining"));
        Assert.True(m.Value("mixer_project_lease_epoch", show) >= 1);
        var cpus = m.Samples.Single(s => s.Name == "mixer_worker_cpus").Value;
        Assert.InRange(m.Value("mixer_worker_capacity_cpus"), 0.01, cpus);
        Assert.True(m.Value("mixer_worker_estimated_cpus") > 0, "the project on air costs something");
        Assert.True(m.Value("mixer_worker_load_cpus") >= m.Value("mixer_worker_estimated_cpus"), "admission's load is at least the estimate");
        Assert.Matches(@"^1\.\d+\.\d+$", m.Samples.Single(s => s.Name == "mixer_gstreamer_info").Labels["version"]);
        Assert.Equal(1, m.Value("mixer_encoder_backend_available", L("backend", "software")));
        Assert.True(m.Contains("mixer_encoder_backend_available", L("backend", "nvenc")));
        Assert.Equal(1, m.Value("mixer_command_latency_seconds_count", L("type", "cut"), L("result", "applied")));
        Assert.Equal(1, m.Value("mixer_command_latency_seconds_count", L("type", "cut"), L("result", ErrorReasons.InvalidCommand)));
        Assert.Equal(2, m.Value("mixer_command_latency_seconds_count", L("type", "other"), L("result", ErrorReasons.UnknownCommand)));
        Assert.InRange(m.Value("mixer_command_latency_seconds_sum", L("type", "cut"), L("result", "applied")), 0.0001, 5);
        Assert.Equal(1, m.Value("mixer_desired_convergence_seconds_count", L("result", "applied")));
        Assert.True(m.Contains("process_cpu_seconds_total"));
        // Bounded cardinality: no command or entry ids, no secrets.
        Assert.DoesNotMatch(@"\d{13}-\d", m.Text);
        AssertNoSecretIn(m.Text);

        // Health: live and ready; Redis gone: still live, not ready; Redis back: ready again.
        var (liveCode, live) = await GetJsonAsync(port, "/healthz");
        Assert.Equal(HttpStatusCode.OK, liveCode);
        Assert.Equal("healthy", live.GetProperty("checks").GetProperty("gstreamer").GetProperty("status").GetString());
        Assert.Equal("healthy", live.GetProperty("checks").GetProperty("engine").GetProperty("status").GetString());
        var (readyCode, ready) = await GetJsonAsync(port, "/readyz");
        Assert.Equal(HttpStatusCode.OK, readyCode);
        Assert.Equal(["draining", "redis", "selfcheck"], ready.GetProperty("checks").EnumerateObject().Select(c => c.Name).Order());

        await h.Redis.KillAsync();
        await Eventually(async () => (await GetJsonAsync(port, "/readyz")).Code == HttpStatusCode.ServiceUnavailable, TimeSpan.FromSeconds(10), "/readyz stayed 200 without Redis");
        var (_, notReady) = await GetJsonAsync(port, "/readyz");
        Assert.Equal("unhealthy", notReady.GetProperty("checks").GetProperty("redis").GetProperty("status").GetString());
        Assert.Equal(HttpStatusCode.OK, (await GetJsonAsync(port, "/healthz")).Code);
        await Eventually(async () => (await MetricsScrape.GetAsync(Http, port)).Value("mixer_redis_connected") == 0, TimeSpan.FromSeconds(10), "mixer_redis_connected stayed 1");
        await h.Redis.StartAsync();
        await Eventually(async () => (await GetJsonAsync(port, "/readyz")).Code == HttpStatusCode.OK, TimeSpan.FromSeconds(20), "/readyz did not come back with Redis");
        Assert.Equal(HttpStatusCode.NotFound, (await Http.GetAsync($"http://127.0.0.1:{port}/nothing")).StatusCode);

        // SIGTERM: not ready ("draining") while the mixers stop, before the process exits.
        worker.Terminate();
        var drainingSeen = false;
        while (!worker.HasExited)
        {
            try
            {
                using var response = await Http.GetAsync($"http://127.0.0.1:{port}/readyz");
                var text = await response.Content.ReadAsStringAsync();
                // A probe reads only the code. An answer without our JSON (the closing listener's own
                // error page; once, an answer cut short by the stopping worker: 200 with no body) must not
                // say ready, and once it has said draining, nothing may.
                if (drainingSeen || !text.StartsWith('{'))
                    Assert.True(response.StatusCode != HttpStatusCode.OK, $"/readyz said ready while stopping: \"{text}\"");
                if (text.StartsWith('{'))
                {
                    var body = JsonDocument.Parse(text).RootElement;
                    drainingSeen |= response.StatusCode == HttpStatusCode.ServiceUnavailable && body.GetProperty("checks").GetProperty("draining").GetProperty("status").GetString() == "unhealthy";
                }
            }
            catch (HttpRequestException) { } // the listener is gone: the process is about to exit
            await Task.Delay(20);
        }
        Assert.True(drainingSeen, "/readyz never said draining during the shutdown");
        h.AssertNoSecretLeaked();
    }

    [Fact]
    public async Task The_alert_rules_parse_and_use_only_metrics_the_worker_serves()
    {
        var rules = LoadYaml("deploy/alert-rules.yml");
        var exprs = new List<(string Alert, string Expr)>();
        foreach (YamlMappingNode group in (YamlSequenceNode)rules["groups"])
            foreach (YamlMappingNode rule in (YamlSequenceNode)group["rules"])
            {
                var alert = Scalar(rule, "alert");
                exprs.Add((alert, Scalar(rule, "expr")));
                Assert.Matches(@"^\d+[smh]$", Scalar(rule, "for"));
                Assert.Contains(Scalar((YamlMappingNode)rule["labels"], "severity"), new[] { "page", "ticket" });
                Assert.False(string.IsNullOrWhiteSpace(Scalar((YamlMappingNode)rule["annotations"], "summary")), $"{alert} has no summary");
            }
        var alerts = exprs.Select(e => e.Alert).ToList();
        Assert.Equal(alerts.Count, alerts.Distinct().Count());
        // The failures the issue names: a bus publishing nothing, an input down, a project without owner.
        Assert.Contains("MixerBusPublishingNoFrames", alerts);
        Assert.Contains("MixerInputDown", alerts);
        Assert.Contains("MixerProjectWithoutOwner", alerts);

        var config = LoadYaml("deploy/prometheus.yml");
        Assert.Equal("alert-rules.yml", ((YamlSequenceNode)config["rule_files"]).Children.Single().ToString());
        var worker = ((YamlSequenceNode)config["scrape_configs"]).Cast<YamlMappingNode>().Single(j => Scalar(j, "job_name") == "mixer-worker");
        Assert.Equal(MetricsPortOfTheImage(), Scalar((YamlMappingNode)((YamlSequenceNode)worker["dns_sd_configs"]).Children[0], "port"));

        // The names against a real worker's /metrics, with a project on air so that every per-project family exists.
        await using var h = await WorkerHarness.StartAsync(output);
        h.StartFeed(A);
        await h.WaitForPublisherAsync($"ingest/{Project}/{A.Input}", Long);
        await h.WriteDesiredAsync(Scene(1));
        var port = MetricsScrape.FreeTcpPort();
        h.StartWorker(("METRICS__PORT", port.ToString()));
        await h.WaitForStatusAsync(s => s.Inputs[A.Input].State == ConnectionState.Connected && s.Buses["program"].Output == ConnectionState.Connected, Long);
        await h.AnswerAsync(await h.AddCommandAsync(new CutCommand { Bus = "program" }));
        var served = await MetricsScrape.GetAsync(Http, port);
        foreach (var (alert, expr) in exprs)
        {
            var names = MetricNames(expr).ToList();
            Assert.NotEmpty(names);
            foreach (var name in names.Where(n => n != "up")) // up: Prometheus's own, per target
                Assert.True(served.Samples.Any(s => s.Name == name), $"alert {alert} uses {name}, which the worker does not serve");
            output.WriteLine($"{alert}: {string.Join(", ", names)}");
        }
    }

    [Fact]
    public async Task A_bad_metrics_port_stops_the_start_with_a_message()
    {
        await using var redis = await RedisServer.StartAsync("pw-metrics-1234");
        var env = new Dictionary<string, string> { ["REDIS__CONFIGURATION"] = redis.Configuration, ["METRICS__PORT"] = "70000" };
        var (code, text) = await WorkerProcess.RunAsync(env, TimeSpan.FromSeconds(30));
        Assert.Equal(2, code);
        Assert.Contains("METRICS__PORT", text);
    }

    private static async Task<(HttpStatusCode Code, JsonElement Body)> GetJsonAsync(int port, string path)
    {
        using var response = await Http.GetAsync($"http://127.0.0.1:{port}{path}");
        return (response.StatusCode, JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone());
    }

    /// <summary>The metric names a PromQL expression reads: what is left after strings, matchers, ranges, grouping lists, functions and keywords.</summary>
    internal static IEnumerable<string> MetricNames(string expr)
    {
        expr = QuotedString().Replace(expr, " ");
        expr = Braces().Replace(expr, " ");
        expr = Brackets().Replace(expr, " ");
        expr = Grouping().Replace(expr, " ");
        return Identifier().Matches(expr).Select(m => m.Value).Where(n => !PromQlKeywords.Contains(n)).Distinct();
    }

    private static readonly HashSet<string> PromQlKeywords = ["and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right", "offset", "bool", "inf", "nan"];

    [GeneratedRegex(@"""(?:[^""\\]|\\.)*""|'(?:[^'\\]|\\.)*'")]
    private static partial Regex QuotedString();
    [GeneratedRegex(@"\{[^}]*\}")]
    private static partial Regex Braces();
    [GeneratedRegex(@"\[[^\]]*\]")]
    private static partial Regex Brackets();
    [GeneratedRegex(@"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")]
    private static partial Regex Grouping();
    [GeneratedRegex(@"\b[a-zA-Z_:][a-zA-Z0-9_:]*\b(?!\s*\()")]
    private static partial Regex Identifier();

    [Fact]
    public void Metric_names_are_read_from_PromQL_as_Prometheus_would()
    {
        Assert.Equal(["mixer_command_latency_seconds_bucket"],
            MetricNames("histogram_quantile(0.99, sum by (le) (rate(mixer_command_latency_seconds_bucket{job=\"x\"}[5m]))) > 1"));
        Assert.Equal(["mixer_input_state", "mixer_input_last_frame_age_seconds"],
            MetricNames("mixer_input_state{state=\"connected\"} == 1 and on (project, input) mixer_input_last_frame_age_seconds > 5"));
        Assert.Equal(["up"], MetricNames("absent(up{job=\"mixer-worker\"} == 1)"));
    }

    private static string MetricsPortOfTheImage() =>
        MetricsPortEnv().Match(File.ReadAllText(Repo.PathOf("docker/Dockerfile.gst"))).Groups[1].Value;

    [GeneratedRegex(@"METRICS__PORT=(\d+)")]
    private static partial Regex MetricsPortEnv();

    private static YamlMappingNode LoadYaml(string path)
    {
        var yaml = new YamlStream();
        using var reader = new StringReader(File.ReadAllText(Repo.PathOf(path)));
        yaml.Load(reader);
        return (YamlMappingNode)yaml.Documents[0].RootNode;
    }

    private static string Scalar(YamlMappingNode node, string key) => ((YamlScalarNode)node[key]).Value!;
}
