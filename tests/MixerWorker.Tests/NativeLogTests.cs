using System.Text.Json;
using MixerWorker.Pipeline.Engine;
using MixerWorker.Testbed.Feeds;
using Xunit;
using Xunit.Abstractions;
using static MixerWorker.Tests.WorkerHarness;

namespace MixerWorker.Tests;

/// <summary>What libsrt, GStreamer and GLib log reaches the worker's output through its logger, never as raw lines.</summary>
public sealed class NativeLogTests(ITestOutputHelper output)
{
    private static readonly FeedSpec A = FeedSpec.Numbered(0, Input) with { Width = 160, Height = 90 };

    [Fact]
    public async Task Json_output_stays_json_line_by_line_while_libsrt_and_GStreamer_complain_about_wrong_passphrases()
    {
        const string WrongIngest = "wrong-ingest-pass-0001", WrongOutput = "wrong-output-pass-0002";
        await using var h = await WorkerHarness.StartAsync(output);
        h.StartFeed(A);
        await h.WaitForPublisherAsync($"ingest/{Project}/{A.Input}", TimeSpan.FromSeconds(20));
        await h.WriteDesiredAsync(Scene(1));
        var worker = h.StartWorker(("LOGGING__FORMAT", "json"), ("GST_DEBUG", "2"),
            ("INGEST_SRT_PASSPHRASE", WrongIngest), ("OUTPUT_SRT_PASSPHRASE", WrongOutput));
        // Both sides refused several times: the reader's libsrt and srtsink's have had their say.
        await h.WaitForStatusAsync(s => s.Inputs[A.Input] is { State: ConnectionState.Retrying, Attempts: >= 3 } input
            && input.Error!.Contains("passphrase", StringComparison.Ordinal)
            && s.Buses["program"] is { Output: ConnectionState.Retrying, Error: not null }, TimeSpan.FromSeconds(40));
        worker.Terminate();
        await worker.WaitForExitAsync(TimeSpan.FromSeconds(15));

        var lines = worker.Lines; // standard output and standard error
        output.WriteLine($"{lines.Count} lines");
        var contexts = new HashSet<string>();
        foreach (var line in lines)
        {
            using var doc = JsonDocument.Parse(line); // throws on anything that is not one JSON value
            Assert.Equal(JsonValueKind.Object, doc.RootElement.ValueKind);
            Assert.True(doc.RootElement.TryGetProperty("@m", out _), line);
            if (doc.RootElement.TryGetProperty("SourceContext", out var context)) contexts.Add(context.GetString()!);
        }
        output.WriteLine("sources: " + string.Join(", ", contexts.Order()));
        Assert.Contains(NativeLogs.LibSrtCategory, contexts);
        Assert.Contains(NativeLogs.GStreamerCategory, contexts);
        foreach (var line in lines.Where(l => l.Contains($"\"SourceContext\":\"{NativeLogs.LibSrtCategory}\"", StringComparison.Ordinal)).Take(5))
            output.WriteLine(line);
        // libsrt's lines come to the worker's handler even after srtsink's plugin (which takes them over when it loads) is in use.
        Assert.DoesNotContain(lines, l => l.Contains("\"GstCategory\":\"srtlib\"", StringComparison.Ordinal));
        Assert.DoesNotContain(lines, l => l.Contains(WrongIngest, StringComparison.Ordinal) || l.Contains(WrongOutput, StringComparison.Ordinal));
        h.AssertNoSecretLeaked();
    }
}
