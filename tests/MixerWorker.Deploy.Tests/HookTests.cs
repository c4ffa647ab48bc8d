using System.Net;
using System.Text.Json;

namespace MixerWorker.Deploy.Tests;

/// <summary>
/// Executes the runOnAvailable/runOnUnavailable command lines from the rendered mediamtx.yml exactly as MediaMTX
/// would, against a loopback HTTP listener standing in for http://api:3000, and checks what the API receives.
/// </summary>
public sealed class HookTests(RenderedConfigFixture rendered) : IClassFixture<RenderedConfigFixture>
{
    private const string EventsUrl = "http://api:3000/internal/mediamtx/events";
    private const string Token = "tok-secret-123";

    public static TheoryData<string, string, string, string, string> Events => new()
    {
        // path name, hook, MTX_SOURCE_TYPE, expected event, expected protocol
        { "ingest/acme/cam1", "runOnAvailable", "srtConn", "INGEST_ONLINE", "srt" },
        { "ingest/acme/cam1", "runOnUnavailable", "srtConn", "INGEST_OFFLINE", "srt" },
        { "ingest/show-2/obs_1", "runOnAvailable", "rtmpConn", "INGEST_ONLINE", "rtmp" },
        { "ingest/show-2/obs_1", "runOnUnavailable", "rtmpsConn", "INGEST_OFFLINE", "rtmp" },
        { "ingest/acme/phone", "runOnAvailable", "webRTCSession", "INGEST_ONLINE", "webrtc" },
        { "ingest/acme/phone", "runOnUnavailable", "webRTCSession", "INGEST_OFFLINE", "webrtc" },
        { "out/acme/aux3", "runOnAvailable", "srtConn", "OUTPUT_ONLINE", "srt" },
        { "out/acme/aux3", "runOnUnavailable", "rtmpConn", "OUTPUT_OFFLINE", "rtmp" },
        { "out/acme/program", "runOnAvailable", "srtConn", "OUTPUT_ONLINE", "srt" },    // recorded copy
        { "out/show-2/aux7", "runOnUnavailable", "srtConn", "OUTPUT_OFFLINE", "srt" }, // recorded copy
        { "ingest/acme/cam1", "runOnAvailable", "rtspSession", "INGEST_ONLINE", "unknown" },
    };

    [Theory]
    [MemberData(nameof(Events))]
    public void HookPostsExactlyTheEventPayload(string pathName, string hook, string sourceType, string expectedEvent, string expectedProtocol)
    {
        using var api = new RecordingHttpServer();
        var (argv, groups) = PrepareHook(pathName, hook, sourceType, api);

        var result = MediaMtxHookRunner.Run(argv, HookEnv(pathName, groups, sourceType));

        Assert.True(result.ExitCode == 0, $"hook exited {result.ExitCode}: {result.StdErr}");
        var request = Assert.Single(api.Requests);
        Assert.Equal("POST", request.Method);
        Assert.Equal("/internal/mediamtx/events", request.Path);
        Assert.Equal("application/json", request.ContentType);
        using var json = JsonDocument.Parse(request.Body);
        var fields = json.RootElement.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString());
        Assert.Equal(new[] { "event", "project", "name", "protocol" }, fields.Keys);
        Assert.Equal(expectedEvent, fields["event"]);
        Assert.Equal(groups[1], fields["project"]);
        Assert.Equal(groups[2], fields["name"]);
        Assert.Equal(expectedProtocol, fields["protocol"]);
        Assert.Equal(pathName, $"{(expectedEvent.StartsWith("INGEST") ? "ingest" : "out")}/{fields["project"]}/{fields["name"]}");
        Assert.DoesNotContain(Token, request.Body + result.StdOut + result.StdErr);
    }

    [Fact]
    public void HookFailsWhenTheApiRefusesTheEvent()
    {
        // A non-zero exit is what makes MediaMTX log the failure; 400 is not retried, so this stays fast.
        using var api = new RecordingHttpServer(HttpStatusCode.BadRequest);
        var (argv, groups) = PrepareHook("ingest/acme/cam1", "runOnAvailable", "srtConn", api);

        var result = MediaMtxHookRunner.Run(argv, HookEnv("ingest/acme/cam1", groups, "srtConn"));

        Assert.NotEqual(0, result.ExitCode);
        Assert.Single(api.Requests);
    }

    [Fact]
    public void HookRefusesNamesThatWouldNeedJsonEscaping()
    {
        // The regexes never produce these, but the script must not build broken or injected JSON if a
        // future path entry passes something else.
        using var api = new RecordingHttpServer();
        var (argv, _) = PrepareHook("ingest/acme/cam1", "runOnAvailable", "srtConn", api);
        argv[3] = "acme\",\"event\":\"INGEST_OFFLINE";

        var result = MediaMtxHookRunner.Run(argv, new Dictionary<string, string>());

        Assert.NotEqual(0, result.ExitCode);
        Assert.Empty(api.Requests);
        Assert.Contains("project", result.StdErr);
    }

    [Fact]
    public void EveryPlatformPathHasBothHooksAndNoDeprecatedNames()
    {
        foreach (var (key, path) in rendered.Config.Paths.Where(p => p.Key.StartsWith('~')))
        {
            Assert.NotNull(MediaMtxConfig.PathSetting(path, "runOnAvailable"));
            Assert.NotNull(MediaMtxConfig.PathSetting(path, "runOnUnavailable"));
            Assert.Null(MediaMtxConfig.PathSetting(path, "runOnReady"));
            Assert.Null(MediaMtxConfig.PathSetting(path, "runOnNotReady"));
            Assert.False(MediaMtxConfig.PathSetting(path, "runOnAvailable")!.TrimStart().StartsWith("sh "), key);
        }
    }

    [Fact]
    public void GoExpandMatchesGoSemantics()
    {
        // Cases from Go's os.Expand documentation and tests; the runner above relies on them.
        string Map(string n) => n switch { "G1" => "acme", "*" => "all", "1" => "one", _ => "" };
        Assert.Equal("x acme y", MediaMtxHookRunner.GoExpand("x $G1 y", Map));
        Assert.Equal("acmez", MediaMtxHookRunner.GoExpand("${G1}z", Map));
        Assert.Equal("one", MediaMtxHookRunner.GoExpand("$1", Map));
        Assert.Equal("all", MediaMtxHookRunner.GoExpand("${*}", Map));
        Assert.Equal("", MediaMtxHookRunner.GoExpand("${}", Map));
        Assert.Equal("a$", MediaMtxHookRunner.GoExpand("a$", Map));
        Assert.Equal("$ x", MediaMtxHookRunner.GoExpand("$ x", Map));
        Assert.Equal(new[] { "a b", "c", "d\"e", "f\\g" }, MediaMtxHookRunner.ShellQuoteSplit("'a b' c \"d\\\"e\" f\\\\g"));
    }

    private (List<string> Argv, IReadOnlyList<string> Groups) PrepareHook(string pathName, string hook, string sourceType, RecordingHttpServer api)
    {
        var (key, groups) = rendered.Config.FindPath(pathName)!.Value;
        var cmdline = MediaMtxConfig.PathSetting(rendered.Config.Paths[key], hook)
                      ?? throw new InvalidOperationException($"{key} has no {hook}");
        var argv = MediaMtxHookRunner.Prepare(cmdline, HookEnv(pathName, groups, sourceType));

        // The executable must be something the MediaMTX image installs; run the repo file it is copied from.
        var installed = MediaMtxImage.InstalledFiles();
        Assert.True(installed.TryGetValue(argv[0], out var source), $"{argv[0]} is not COPYed by docker/Dockerfile.mediamtx");
        argv[0] = Repo.PathOf(source);
        Assert.Equal(EventsUrl, argv[1]);
        argv[1] = api.BaseUrl + new Uri(EventsUrl).AbsolutePath;
        Processes.Require("curl", "curl");
        return (argv, groups);
    }

    /// <summary>The variables MediaMTX sets for runOnAvailable/runOnUnavailable (internal/core/path.go, internal/hooks).</summary>
    private static Dictionary<string, string> HookEnv(string pathName, IReadOnlyList<string> groups, string sourceType)
    {
        var env = new Dictionary<string, string>
        {
            ["MTX_PATH"] = pathName,
            ["RTSP_PATH"] = pathName,
            ["RTSP_PORT"] = "",
            ["MTX_QUERY"] = Uri.EscapeDataString($"token={Token}"),
            ["MTX_SOURCE_TYPE"] = sourceType,
            ["MTX_SOURCE_ID"] = Guid.NewGuid().ToString(),
        };
        for (var i = 1; i < groups.Count; i++)
        {
            env[$"G{i}"] = groups[i];
        }
        return env;
    }
}

internal static class MediaMtxImage
{
    /// <summary>Destination → repo source of every single-source COPY from the build context in docker/Dockerfile.mediamtx.</summary>
    public static Dictionary<string, string> InstalledFiles()
    {
        var map = new Dictionary<string, string>();
        foreach (var line in File.ReadLines(Repo.PathOf("docker/Dockerfile.mediamtx")))
        {
            var parts = line.Trim().Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length == 0 || parts[0] != "COPY" || parts.Any(p => p.StartsWith("--from", StringComparison.Ordinal)))
            {
                continue;
            }
            var args = parts.Skip(1).Where(p => !p.StartsWith("--", StringComparison.Ordinal)).ToList();
            if (args.Count == 2)
            {
                map[args[1]] = args[0];
            }
        }
        return map;
    }
}
