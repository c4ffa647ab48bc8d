namespace MixerWorker.Deploy.Tests;

/// <summary>Which path entry MediaMTX picks for a name, and what it hands the hooks as $G1/$G2.</summary>
public sealed class PathRegexTests(RenderedConfigFixture rendered) : IClassFixture<RenderedConfigFixture>
{
    private const string IngestKey = "~^ingest/([a-z0-9][a-z0-9_-]{0,62})/([a-z0-9][a-z0-9_-]{0,62})$";
    private const string OutKey = "~^out/([a-z0-9][a-z0-9_-]{0,62})/(program|aux[1-7])$";

    private static readonly string Max63 = "a" + new string('9', 62);
    private static readonly string Too64 = "a" + new string('9', 63);

    public static TheoryData<string, string, string> Accepted => new()
    {
        { "ingest/acme/cam1", "acme", "cam1" },
        { "ingest/a/b", "a", "b" },
        { "ingest/0/x_y-z", "0", "x_y-z" },
        { $"ingest/{Max63}/{Max63}", Max63, Max63 },
        { "out/beta/program", "beta", "program" }, // out/acme/program is recorded in the fixture
        { "out/acme/aux1", "acme", "aux1" },
        { "out/p-1_x/aux7", "p-1_x", "aux7" },
    };

    [Theory]
    [MemberData(nameof(Accepted))]
    public void PlatformPathsMatchTheirEntryAndCaptureProjectAndName(string name, string g1, string g2)
    {
        var (key, groups) = rendered.Config.FindPath(name)!.Value;
        Assert.Equal(name.StartsWith("ingest/") ? IngestKey : OutKey, key);
        Assert.Equal(g1, groups[1]);
        Assert.Equal(g2, groups[2]);
    }

    [Theory]
    [InlineData("ingest/p")]
    [InlineData("ingest/acme/cam1/extra")]
    [InlineData("ingest/Acme/cam1")]
    [InlineData("ingest/acme/CAM1")]
    [InlineData("ingest/-acme/cam1")]
    [InlineData("ingest/_acme/cam1")]
    [InlineData("ingest/acme/.cam")]
    [InlineData("ingest/a.b/cam1")]
    [InlineData("xingest/acme/cam1")]
    [InlineData("ingest")]
    [InlineData("out/p")]
    [InlineData("out/acme/aux8")]
    [InlineData("out/acme/aux0")]
    [InlineData("out/acme/aux10")]
    [InlineData("out/acme/aux")]
    [InlineData("out/acme/Program")]
    [InlineData("out/acme/program/x")]
    [InlineData("out/acme/cam1")]
    [InlineData("out//program")]
    public void OtherNamesFallThroughToAllOthers(string name)
    {
        // They may still publish (the API decides), but without hooks or passphrases.
        var match = rendered.Config.FindPath(name);
        Assert.NotNull(match);
        Assert.Equal("all_others", match.Value.Key);
    }

    [Fact]
    public void TooLongSegmentsAreNotPlatformPaths()
    {
        Assert.Equal("all_others", rendered.Config.FindPath($"ingest/{Too64}/cam1")!.Value.Key);
        Assert.Equal("all_others", rendered.Config.FindPath($"ingest/acme/{Too64}")!.Value.Key);
        Assert.Equal("all_others", rendered.Config.FindPath($"out/{Too64}/program")!.Value.Key);
    }

    [Fact]
    public void AllOthersHasNoHooksAndNoPassphrase()
    {
        var allOthers = rendered.Config.Paths["all_others"];
        Assert.Equal("publisher", MediaMtxConfig.PathSetting(allOthers, "source"));
        var keys = allOthers.Children.Keys.Select(k => k.ToString()).ToList();
        Assert.DoesNotContain(keys, k => k.StartsWith("runOn", StringComparison.Ordinal));
        Assert.DoesNotContain(keys, k => k.StartsWith("srt", StringComparison.Ordinal));
    }

    [Fact]
    public void RecordedOutputsWinOverTheGeneralOutEntryAndKeepTheirGroups()
    {
        foreach (var recorded in RenderedConfigFixture.RecordedOutputs)
        {
            var (key, groups) = rendered.Config.FindPath($"out/{recorded}")!.Value;
            Assert.NotEqual(OutKey, key);
            Assert.Equal(recorded, $"{groups[1]}/{groups[2]}");
            Assert.Equal("yes", MediaMtxConfig.PathSetting(rendered.Config.Paths[key], "record"));
        }
        // A neighbour of a recorded output is not recorded.
        var (other, _) = rendered.Config.FindPath("out/acme/aux1")!.Value;
        Assert.Equal(OutKey, other);
        Assert.Equal("no", MediaMtxConfig.PathSetting(rendered.Config.Paths[other], "record"));
    }

    [Fact]
    public void PassphrasesAreSetPerPathFamily()
    {
        foreach (var (name, expected) in new[]
                 {
                     ("ingest/acme/cam1", Render.IngestPassphrase),
                     ("out/acme/aux2", Render.OutputPassphrase),
                     ("out/acme/program", Render.OutputPassphrase), // the recorded copy
                 })
        {
            var path = rendered.Config.Paths[rendered.Config.FindPath(name)!.Value.Key];
            Assert.Equal(expected, MediaMtxConfig.PathSetting(path, "srtPublishPassphrase"));
            Assert.Equal(expected, MediaMtxConfig.PathSetting(path, "srtReadPassphrase"));
        }
    }
}
