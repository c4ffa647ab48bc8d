using MixerWorker.Pipeline.Engine;
using Xunit;

namespace MixerWorker.Pipeline.Tests.Unit;

public class RedactionTests
{
    [Fact]
    public void Replaces_every_occurrence_of_every_secret()
    {
        var r = new SecretRedactor(["TOKEN-123", "pass-ABCDEFGH", null, ""]);
        Assert.Equal("streamid=read:ingest/p/c:token=*** key *** again ***",
            r.Redact("streamid=read:ingest/p/c:token=TOKEN-123 key pass-ABCDEFGH again TOKEN-123"));
    }

    [Fact]
    public void A_secret_containing_another_is_removed_whole()
    {
        // Shorter-first would leave the longer secret's tail behind.
        var r = new SecretRedactor(["abc", "abcdef-tail"]);
        var text = r.Redact("x abcdef-tail y abc");
        Assert.Equal("x *** y ***", text);
        Assert.DoesNotContain("tail", text);
    }

    [Fact]
    public void Without_secrets_text_is_unchanged()
    {
        Assert.Equal("Connection setup failure", new SecretRedactor([]).Redact("Connection setup failure"));
        Assert.Equal("a b", new SecretRedactor([null, ""]).Redact("a b"));
    }

    [Theory]
    [InlineData("Failed to connect: Connection setup failure: connection rejected (reason: Incorrect passphrase)")]
    [InlineData("Password required or unexpected")]
    [InlineData("wrong PASSPHRASE")]
    public void Explains_passphrase_failures(string text) =>
        Assert.Equal($"SRT authentication failed: wrong or missing passphrase (check INGEST_SRT_PASSPHRASE) [{text}]",
            SrtErrorText.Explain(text, "INGEST_SRT_PASSPHRASE"));

    [Theory]
    [InlineData("Connection setup failure: connection rejected")]
    [InlineData("Rogue peer or incorrect parameters")]
    [InlineData("Peer rejected connection")]
    public void Explains_refusals(string text) =>
        Assert.Equal($"MediaMTX refused the connection: no stream on the path, a bad token, or a refused streamid [{text}]",
            SrtErrorText.Explain(text, "OUTPUT_SRT_PASSPHRASE"));

    [Theory]
    [InlineData("Failed to write to SRT socket: Connection does not exist")]
    [InlineData("Socket is broken or closed")]
    public void Explains_a_connection_closed_by_the_hub_naming_the_passphrase_to_check(string text) =>
        Assert.Equal($"MediaMTX refused or closed the connection: a wrong passphrase (check OUTPUT_SRT_PASSPHRASE), a bad token, or a refused streamid [{text}]",
            SrtErrorText.Explain(text, "OUTPUT_SRT_PASSPHRASE"));

    [Theory]
    [InlineData("Connection setup failure: connection timed out")]
    [InlineData("Connection setup failure")]
    public void Explains_timeouts(string text) =>
        Assert.Equal($"MediaMTX did not answer [{text}]", SrtErrorText.Explain(text, "OUTPUT_SRT_PASSPHRASE"));

    [Fact]
    public void Names_the_variable_to_check() =>
        Assert.Contains("check OUTPUT_SRT_PASSPHRASE", SrtErrorText.Explain("Incorrect passphrase", "OUTPUT_SRT_PASSPHRASE"));

    [Fact]
    public void Leaves_other_texts_alone() =>
        Assert.Equal("Internal data stream error.", SrtErrorText.Explain("Internal data stream error.", "INGEST_SRT_PASSPHRASE"));
}
