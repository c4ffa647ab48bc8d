namespace MixerWorker.Deploy.Tests;

/// <summary>mediamtx.yml must load in MediaMTX v1.20.1 (unknown keys are fatal) and carry the platform's settings.</summary>
public sealed class ConfigKeysTests(RenderedConfigFixture rendered) : IClassFixture<RenderedConfigFixture>
{
    [Fact]
    public void TemplateUsesOnlyKeysMediaMtxKnows()
    {
        var problems = MediaMtxSchema.Problems(MediaMtxConfig.Load(Repo.PathOf("mediamtx.yml")));
        Assert.True(problems.Count == 0, string.Join("\n", problems));
    }

    [Fact]
    public void RenderedConfigUsesOnlyKeysMediaMtxKnows()
    {
        var problems = MediaMtxSchema.Problems(rendered.Config);
        Assert.True(problems.Count == 0, string.Join("\n", problems));
    }

    [Fact]
    public void SchemaCheckRejectsUnknownAndDeprecatedKeys()
    {
        // Guards the checker itself: a typo, a pre-1.20 name, and a key valid only at another level.
        using var render = new Render();
        var file = render.WriteTemplate("""
            srtAdress: :8000
            pathDefaults:
              runOnReady: echo
            paths:
              cam:
                apiAddress: :1
            authHTTPExclude:
              - action: metrics
                paht: x
            """);
        var problems = MediaMtxSchema.Problems(MediaMtxConfig.Load(file));
        Assert.Contains(problems, p => p.Contains("'srtAdress'"));
        Assert.Contains(problems, p => p.Contains("deprecated key 'pathDefaults.runOnReady'"));
        Assert.Contains(problems, p => p.Contains("'paths[cam].apiAddress'"));
        Assert.Contains(problems, p => p.Contains("'authHTTPExclude[0].paht'"));
        Assert.Equal(4, problems.Count);
    }

    [Theory]
    [InlineData("rtmpAddress", ":1935")]
    [InlineData("srtAddress", ":8000")]
    [InlineData("webrtcAddress", ":8889")]
    [InlineData("apiAddress", ":9997")]
    [InlineData("metricsAddress", ":9998")]
    [InlineData("authMethod", "http")]
    [InlineData("authHTTPAddress", "http://api:3000/internal/mediamtx/auth")]
    public void ListenersAndAuthAreConfigured(string key, string expected) =>
        Assert.Equal(expected, rendered.Config.Scalar(key));

    [Theory]
    [InlineData("rtmp", "yes")]
    [InlineData("srt", "yes")]
    [InlineData("webrtc", "yes")]
    [InlineData("api", "yes")]
    [InlineData("metrics", "yes")]
    [InlineData("webrtcEncryption", "no")] // TLS is the reverse proxy's job unless switched on
    [InlineData("rtsp", "no")]
    [InlineData("hls", "no")]
    [InlineData("moq", "no")]
    [InlineData("pprof", "no")]
    public void OnlyThePlatformsProtocolsAreEnabled(string key, string expected) =>
        Assert.Equal(expected, rendered.Config.Scalar(key));

    [Fact]
    public void OnlyMetricsBypassTheAuthCallback()
    {
        // v1.20.1 changed the default to []; we exclude metrics and nothing else (see mediamtx.yml).
        var exclude = (YamlDotNet.RepresentationModel.YamlSequenceNode)rendered.Config.Root.Children[
            new YamlDotNet.RepresentationModel.YamlScalarNode("authHTTPExclude")];
        var entry = Assert.Single(exclude.Children);
        var map = (YamlDotNet.RepresentationModel.YamlMappingNode)entry;
        Assert.Equal("metrics", MediaMtxConfig.PathSetting(map, "action"));
        Assert.Null(MediaMtxConfig.PathSetting(map, "path"));
    }

    [Fact]
    public void RecordingGoesToTheVolumeAndIsOffByDefault()
    {
        var defaults = (YamlDotNet.RepresentationModel.YamlMappingNode)rendered.Config.Root.Children[
            new YamlDotNet.RepresentationModel.YamlScalarNode("pathDefaults")];
        Assert.Equal("no", MediaMtxConfig.PathSetting(defaults, "record"));
        var recordPath = MediaMtxConfig.PathSetting(defaults, "recordPath")!;
        Assert.StartsWith("/recordings/", recordPath);
        // MediaMTX rejects a recordPath without %path, or without %s / the full date set.
        Assert.Contains("%path", recordPath);
        Assert.All(new[] { "%Y", "%m", "%d", "%H", "%M", "%S" }, f => Assert.Contains(f, recordPath));
    }

    [Fact]
    public void WebRtcCertificatesComeFromTheCertsVolume()
    {
        Assert.StartsWith("/certs/", rendered.Config.Scalar("webrtcServerKey"));
        Assert.StartsWith("/certs/", rendered.Config.Scalar("webrtcServerCert"));
    }
}
