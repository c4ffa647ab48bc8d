using MixerWorker.Pipeline.Srt;
using Xunit;

namespace MixerWorker.Pipeline.Tests.Unit;

public class MediaMtxConnectionTests
{
    // Distinctive values, so a leak anywhere shows up as a substring.
    private const string Token = "TOKEN-7f3a9c.x_y~z+/=";
    private const string IngestPass = "INGEST-PASS-5b1e8d2";
    private const string OutputPass = "OUTPUT-PASS-9c4f0a6";

    private static readonly MediaMtxConnection Plain = new();
    private static readonly MediaMtxConnection Secret = new()
    {
        Host = "mtx.example", SrtPort = 8890, Token = Token, IngestPassphrase = IngestPass, OutputPassphrase = OutputPass, LatencyMs = 200,
    };

    [Fact]
    public void Ingest_reads_the_input_path()
    {
        var e = Plain.Ingest("show-1", "cam-a");
        Assert.Equal("read:ingest/show-1/cam-a", e.StreamId);
        Assert.Equal(("mediamtx", 8000, 120, (string?)null, false), (e.Host, e.Port, e.LatencyMs, e.Passphrase, e.HasToken));
    }

    [Fact]
    public void Output_publishes_the_bus_path()
    {
        var e = Plain.Output("show-1", "aux7");
        Assert.Equal("publish:out/show-1/aux7", e.StreamId);
        Assert.Null(e.Passphrase);
        Assert.False(e.HasToken);
    }

    [Fact]
    public void A_token_is_appended_as_the_query_and_each_direction_gets_its_passphrase()
    {
        var ingest = Secret.Ingest("show-1", "cam-a");
        var output = Secret.Output("show-1", "program");
        Assert.Equal($"read:ingest/show-1/cam-a:token={Token}", ingest.StreamId);
        Assert.Equal($"publish:out/show-1/program:token={Token}", output.StreamId);
        Assert.Equal((IngestPass, true, "mtx.example", 8890, 200), (ingest.Passphrase, ingest.HasToken, ingest.Host, ingest.Port, ingest.LatencyMs));
        Assert.Equal((OutputPass, true), (output.Passphrase, output.HasToken));
    }

    [Theory]
    [InlineData("Show", "cam-a", "project name 'Show' is invalid")]
    [InlineData("show-1", "cam a", "input name 'cam a' is invalid")]
    [InlineData("show-1", "../etc", "input name '../etc' is invalid")]
    [InlineData("a/b", "cam-a", "project name 'a/b' is invalid")]
    [InlineData("show-1", "cam:token=x", "input name 'cam:token=x' is invalid")]
    public void Ingest_refuses_invalid_names(string project, string input, string message) =>
        Assert.StartsWith(message, Assert.Throws<ArgumentException>(() => Plain.Ingest(project, input)).Message);

    [Theory]
    [InlineData("aux8")]
    [InlineData("Program")]
    [InlineData("cam-a")]
    [InlineData("program:token=x")]
    public void Output_refuses_non_buses(string bus) =>
        Assert.Equal($"'{bus}' is not a bus name", Assert.Throws<ArgumentException>(() => Plain.Output("show-1", bus)).Message);

    [Fact]
    public void Output_refuses_an_invalid_project() =>
        Assert.StartsWith("project name 'x=y' is invalid", Assert.Throws<ArgumentException>(() => Plain.Output("x=y", "program")).Message);

    [Fact]
    public void A_sound_configuration_validates()
    {
        Assert.Empty(Plain.Validate());
        Assert.Empty(Secret.Validate());
        Assert.Empty((Plain with { Host = "10.0.0.7", IngestPassphrase = new string('p', 10), OutputPassphrase = new string('q', 79), Token = new string('t', 400) }).Validate());
    }

    [Theory]
    [InlineData("abc:def")]     // a ':' would add streamid parts (user:pass)
    [InlineData("abc&user=x")]  // a '&' would forge another query key
    [InlineData("")]
    [InlineData("has space")]
    [InlineData("abc#feedbackplay")]
    [InlineData("abc\n")]
    [InlineData("töken")]
    public void Refuses_tokens_outside_the_streamid_grammar(string token)
    {
        var error = Assert.Single((Plain with { Token = token }).Validate());
        Assert.Equal("the MediaMTX token must be 1-400 characters of A-Z a-z 0-9 . _ ~ + / = - (it travels inside the SRT streamid)", error);
    }

    [Fact]
    public void Refuses_an_overlong_token() => Assert.Single((Plain with { Token = new string('t', 401) }).Validate());

    [Theory]
    [InlineData(9)]
    [InlineData(80)]
    [InlineData(1)]
    public void Refuses_passphrase_lengths_libsrt_refuses_without_quoting_them(int length)
    {
        var pass = string.Concat(Enumerable.Repeat("Zq7", 30))[..length];
        var errors = (Plain with { IngestPassphrase = pass, OutputPassphrase = pass }).Validate();
        Assert.Equal(
            [$"INGEST_SRT_PASSPHRASE must be 10 to 79 characters long (it has {length})", $"OUTPUT_SRT_PASSPHRASE must be 10 to 79 characters long (it has {length})"],
            errors);
        Assert.All(errors, e => Assert.DoesNotContain("Zq7", e));
    }

    [Theory]
    [InlineData("", "MediaMTX host '' is not a host name or IP address")]
    [InlineData("srt://mtx", "MediaMTX host 'srt://mtx' is not a host name or IP address")]
    [InlineData("mtx:8000", "MediaMTX host 'mtx:8000' is not a host name or IP address")]
    [InlineData("mtx?streamid=x", "MediaMTX host 'mtx?streamid=x' is not a host name or IP address")]
    [InlineData("mtx\n", "MediaMTX host 'mtx\n' is not a host name or IP address")]
    public void Refuses_hosts_that_would_change_the_uri(string host, string message) =>
        Assert.Equal([message], (Plain with { Host = host }).Validate());

    [Fact]
    public void Checks_port_and_latency()
    {
        Assert.Equal(["MediaMTX SRT port 0 is out of range 1-65535"], (Plain with { SrtPort = 0 }).Validate());
        Assert.Equal(["MediaMTX SRT port 65536 is out of range 1-65535"], (Plain with { SrtPort = 65536 }).Validate());
        Assert.Equal(["SRT latency 19 ms must be between 20 and 8000"], (Plain with { LatencyMs = 19 }).Validate());
        Assert.Equal(["SRT latency 8001 ms must be between 20 and 8000"], (Plain with { LatencyMs = 8001 }).Validate());
        Assert.Empty((Plain with { SrtPort = 65535, LatencyMs = 8000 }).Validate());
    }

    [Fact]
    public void Validation_of_a_bad_token_does_not_quote_it()
    {
        const string badToken = "SECRET-TOKEN:with-colon";
        var errors = (Secret with { Token = badToken }).Validate();
        Assert.DoesNotContain(errors, e => e.Contains("SECRET-TOKEN"));
    }

    [Fact]
    public void Text_forms_never_show_secrets()
    {
        var ingest = Secret.Ingest("show-1", "cam-a");
        var output = Secret.Output("show-1", "aux1");
        string[] texts = [Secret.ToString(), ingest.ToString(), output.ToString(), ingest.RedactedStreamId, output.RedactedStreamId, ingest.Uri, output.Uri];
        foreach (var text in texts)
            foreach (var secret in new[] { Token, IngestPass, OutputPass, "7f3a9c" })
                Assert.DoesNotContain(secret, text);
    }

    [Fact]
    public void Text_forms_say_what_is_set()
    {
        Assert.Equal("srt://mtx.example:8890 (latency 200 ms, ingest passphrase set, output passphrase set, token set)", Secret.ToString());
        Assert.Equal("srt://mediamtx:8000 (latency 120 ms, ingest passphrase none, output passphrase none, token none)", Plain.ToString());
        Assert.Equal("read:ingest/show-1/cam-a:token=***", Secret.Ingest("show-1", "cam-a").RedactedStreamId);
        Assert.Equal("srt://mtx.example:8890 streamid=publish:out/show-1/aux1:token=*** (encrypted)", Secret.Output("show-1", "aux1").ToString());
        Assert.Equal("srt://mediamtx:8000 streamid=read:ingest/show-1/cam-a", Plain.Ingest("show-1", "cam-a").ToString());
    }

    [Fact]
    public void The_uri_carries_neither_streamid_nor_passphrase()
    {
        Assert.Equal("srt://mtx.example:8890", Secret.Ingest("show-1", "cam-a").Uri);
        Assert.Equal("srt://mtx.example:8890", Secret.Output("show-1", "program").Uri);
    }
}
