using System.Text.RegularExpressions;

namespace MixerWorker.Deploy.Tests;

/// <summary>scripts/render-mediamtx-config.sh: good values render, bad or missing ones fail loudly without echoing secrets.</summary>
public sealed class RenderTests : IDisposable
{
    private readonly Render _render = new();

    public void Dispose() => _render.Dispose();

    [Fact]
    public void GoodValuesRenderWithoutPlaceholdersAndWithOwnerOnlyPermissions()
    {
        var values = Render.GoodValues();
        values["MEDIAMTX_WEBRTC_ALLOW_ORIGIN"] = "https://app.example.com, https://*.example.org";
        values["MEDIAMTX_WEBRTC_ADDITIONAL_HOSTS"] = "203.0.113.7,media.example.com";
        values["MEDIAMTX_WEBRTC_ENCRYPTION"] = "yes";

        var result = _render.FromEnvFile(values);

        Assert.True(result.ExitCode == 0, result.StdErr);
        var text = File.ReadAllText(_render.Output);
        Assert.DoesNotContain("@@", text);
        var config = MediaMtxConfig.Load(_render.Output);
        Assert.Equal(new[] { "https://app.example.com", "https://*.example.org" }, config.List("webrtcAllowOrigins"));
        Assert.Equal(new[] { "203.0.113.7", "media.example.com" }, config.List("webrtcAdditionalHosts"));
        Assert.Equal("yes", config.Scalar("webrtcEncryption"));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(_render.Output));
        AssertNoSecretIn(result);
    }

    [Fact]
    public void DefaultsAllowAnyOriginAndNoExtraHosts()
    {
        var result = _render.FromEnvFile(Render.GoodValues());

        Assert.True(result.ExitCode == 0, result.StdErr);
        var config = MediaMtxConfig.Load(_render.Output);
        Assert.Equal(new[] { "*" }, config.List("webrtcAllowOrigins"));
        Assert.Empty(config.List("webrtcAdditionalHosts"));
        Assert.Equal("no", config.Scalar("webrtcEncryption"));
    }

    [Fact]
    public void ValuesFromTheEnvironmentRenderTooAsInTheContainer()
    {
        var result = _render.FromEnvironment(Render.GoodValues());

        Assert.True(result.ExitCode == 0, result.StdErr);
        Assert.DoesNotContain("@@", File.ReadAllText(_render.Output));
    }

    [Fact]
    public void EnvFileQuotesCommentsAndCrLfAreHandled()
    {
        var envFile = Path.Combine(Path.GetDirectoryName(_render.Output)!, "crlf.env");
        File.WriteAllText(envFile,
            "# comment\r\n\r\nexport INGEST_SRT_PASSPHRASE=\"" + Render.IngestPassphrase + "\"\r\n" +
            "OUTPUT_SRT_PASSPHRASE='" + Render.OutputPassphrase + "'\r\nPATH=/nowhere\r\n");

        var result = _render.FromFile(envFile);

        Assert.True(result.ExitCode == 0, result.StdErr);
        var ingest = MediaMtxConfig.Load(_render.Output).Paths.Single(p => p.Key.StartsWith("~^ingest")).Value;
        Assert.Equal(Render.IngestPassphrase, MediaMtxConfig.PathSetting(ingest, "srtPublishPassphrase"));
    }

    [Theory]
    [InlineData(10)]
    [InlineData(79)]
    public void PassphraseLengthBoundariesAreAccepted(int length)
    {
        var values = Render.GoodValues();
        values["OUTPUT_SRT_PASSPHRASE"] = new string('k', length);

        Assert.Equal(0, _render.FromEnvFile(values).ExitCode);
    }

    public static TheoryData<string, string?, string> BadValues => new()
    {
        // variable, value (null = absent), what the message must say
        { "INGEST_SRT_PASSPHRASE", null, "INGEST_SRT_PASSPHRASE is missing" },
        { "OUTPUT_SRT_PASSPHRASE", null, "OUTPUT_SRT_PASSPHRASE is missing" },
        { "INGEST_SRT_PASSPHRASE", "", "INGEST_SRT_PASSPHRASE is missing" },
        { "INGEST_SRT_PASSPHRASE", "short9chr", "INGEST_SRT_PASSPHRASE has 9 characters; MediaMTX requires 10 to 79" },
        { "OUTPUT_SRT_PASSPHRASE", new string('x', 80), "OUTPUT_SRT_PASSPHRASE has 80 characters; MediaMTX requires 10 to 79" },
        { "OUTPUT_SRT_PASSPHRASE", "has space inside it", "OUTPUT_SRT_PASSPHRASE contains a character outside" },
        { "OUTPUT_SRT_PASSPHRASE", "quote\"breaks-yaml", "OUTPUT_SRT_PASSPHRASE contains a character outside" },
        { "OUTPUT_SRT_PASSPHRASE", "amp&breaks-uris", "OUTPUT_SRT_PASSPHRASE contains a character outside" },
        { "MEDIAMTX_WEBRTC_ALLOW_ORIGIN", "https://ok.example, \"bad\"", "MEDIAMTX_WEBRTC_ALLOW_ORIGIN has an entry" },
        { "MEDIAMTX_WEBRTC_ADDITIONAL_HOSTS", "1.2.3.4,two words", "MEDIAMTX_WEBRTC_ADDITIONAL_HOSTS has an entry" },
        { "MEDIAMTX_WEBRTC_ENCRYPTION", "maybe", "MEDIAMTX_WEBRTC_ENCRYPTION must be yes or no" },
        { "MEDIAMTX_RECORD_OUTPUTS", "acme/aux8", "bus in 'acme/aux8' must be program or aux1..aux7" },
        { "MEDIAMTX_RECORD_OUTPUTS", "Acme/program", "'Acme/program' is not <project>/<bus>" },
        { "MEDIAMTX_RECORD_OUTPUTS", "acme", "bus in 'acme' must be" },
        { "MEDIAMTX_RECORD_OUTPUTS", "*/program", "'*/program' is not <project>/<bus>" },
    };

    [Theory]
    [MemberData(nameof(BadValues))]
    public void BadOrMissingValuesFailWithAClearMessageAndNoOutput(string variable, string? value, string message)
    {
        var values = Render.GoodValues();
        if (value == null)
        {
            values.Remove(variable);
        }
        else
        {
            values[variable] = value;
        }

        var result = _render.FromEnvFile(values);

        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains(message, result.StdErr);
        Assert.False(File.Exists(_render.Output), "a failed render must not leave a config behind");
        Assert.Empty(Directory.GetFiles(Path.GetDirectoryName(_render.Output)!, ".mediamtx.yml.*"));
        if (variable.EndsWith("PASSPHRASE") && !string.IsNullOrEmpty(value))
        {
            Assert.DoesNotContain(value, result.StdErr + result.StdOut);
        }
        AssertNoSecretIn(result);
    }

    [Fact]
    public void FailedRenderKeepsThePreviousConfig()
    {
        Assert.Equal(0, _render.FromEnvFile(Render.GoodValues()).ExitCode);
        var before = File.ReadAllText(_render.Output);
        var values = Render.GoodValues();
        values.Remove("INGEST_SRT_PASSPHRASE");

        Assert.NotEqual(0, _render.FromEnvFile(values).ExitCode);
        Assert.Equal(before, File.ReadAllText(_render.Output));
    }

    [Fact]
    public void UnrenderedTemplateCannotRunWithAGuessablePassphrase()
    {
        // MediaMTX rejects srt*Passphrase values outside 10-79 characters at start-up (checkSRTPassphrase), so
        // every placeholder must fall outside that range; a template mounted as-is then refuses to start.
        var template = MediaMtxConfig.Load(Repo.PathOf("mediamtx.yml"));
        var placeholders = template.Paths.Values
            .SelectMany(p => new[] { "srtPublishPassphrase", "srtReadPassphrase" }.Select(k => MediaMtxConfig.PathSetting(p, k)))
            .OfType<string>()
            .ToList();
        Assert.Equal(4, placeholders.Count);
        Assert.All(placeholders, p =>
        {
            Assert.StartsWith("@@", p);
            Assert.True(p.Length is < 10 or > 79, $"placeholder '{p}' ({p.Length} chars) would be accepted by MediaMTX");
        });
        // And the bool placeholder is a string, which MediaMTX cannot decode into webrtcEncryption.
        Assert.StartsWith("@@", template.Scalar("webrtcEncryption"));
    }

    [Fact]
    public void UnknownPlaceholderInTheTemplateFails()
    {
        var template = _render.WriteTemplate(File.ReadAllText(Repo.PathOf("mediamtx.yml")) + "\nlogFile: \"@@NOT_A_VARIABLE@@\"\n");

        var result = _render.FromEnvFile(Render.GoodValues(), template);

        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("unknown placeholder NOT_A_VARIABLE", result.StdErr);
    }

    [Fact]
    public void ExampleEnvFileMustBeEditedBeforeItRenders()
    {
        // Copying the example unchanged must not yield a deployment with published passphrases.
        var result = _render.FromFile(Repo.PathOf("config/mediamtx.env.example"));

        Assert.NotEqual(0, result.ExitCode);
        Assert.Matches(new Regex("(INGEST|OUTPUT)_SRT_PASSPHRASE is missing"), result.StdErr);
    }

    private static void AssertNoSecretIn(ProcessResult result)
    {
        foreach (var secret in new[] { Render.IngestPassphrase, Render.OutputPassphrase })
        {
            Assert.DoesNotContain(secret, result.StdOut + result.StdErr);
        }
    }
}
