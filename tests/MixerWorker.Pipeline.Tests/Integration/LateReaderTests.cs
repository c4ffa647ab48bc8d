using System.Diagnostics;
using MixerWorker.Pipeline.Scene;
using MixerWorker.Testbed.Feeds;
using MixerWorker.Testbed.Reading;
using MixerWorker.Testbed.StandIn;
using Xunit;
using Xunit.Abstractions;
using static MixerWorker.Pipeline.Tests.Integration.MixHarness;

namespace MixerWorker.Pipeline.Tests.Integration;

/// <summary>
/// A viewer joining a bus that has been on air for a while (a monitor opened mid-show) gets a picture
/// within a GOP: every keyframe of the output carries its parameter sets, and the server (MediaMTX, here
/// its stand-in) starts the reader at a keyframe with the stream's tables first.
/// </summary>
public sealed class LateReaderTests(ITestOutputHelper output)
{
    private static readonly FeedSpec A = FeedSpec.Numbered(0) with { Width = 160, Height = 90 };
    // The SRT latency and a loaded machine's delays on top of the wait for the next keyframe.
    private static readonly TimeSpan Margin = TimeSpan.FromSeconds(1);

    [Fact]
    public async Task A_reader_joining_a_running_output_gets_the_tables_then_a_keyframe_and_decodes_every_picture_from_there()
    {
        var scene = new SceneDefinition
        {
            Project = Project,
            Inputs = [new InputDefinition { Name = A.Input }],
            Buses = [Bus("program", 160, 90, At(A.Input, 0, 0, 160, 90))],
        };
        var gop = TimeSpan.FromSeconds(scene.Buses[0].Format.GopSeconds);
        await using var h = await MixHarness.StartShowAsync(output, scene, [A]);
        await h.Read("program").WaitForFrameAsync(TimeSpan.FromSeconds(15));
        // Well into the show, at a moment the output's keyframes do not decide.
        await Task.Delay(gop * 1.5);

        using var late = SrtClient.Connect("127.0.0.1", h.StandIn.Port, $"read:out/{Project}/program:token={Token}",
            new SrtClientOptions { Passphrase = OutputPassphrase, LatencyMs = 80 });
        var joined = Stopwatch.StartNew();
        TimeSpan? firstData = null;
        var capture = new MemoryStream();
        var buffer = new byte[1500];
        while (joined.Elapsed < gop + Margin)
        {
            var n = late.Receive(buffer, TimeSpan.FromMilliseconds(100));
            if (n < 0) break;
            if (n == 0) continue;
            firstData ??= joined.Elapsed;
            capture.Write(buffer, 0, n);
        }

        var report = TsCapture.Read(capture.ToArray());
        output.WriteLine($"first data {firstData?.TotalMilliseconds:F0} ms after joining; first PIDs {string.Join(" ", report.FirstPids)} (PMT {report.PmtPid}: {string.Join(" ", report.FirstPmtStreams.Select(t => $"0x{t:X2}"))}); " +
            $"first picture NAL types {string.Join(" ", report.FirstPictureNals)}; {report.VideoPes} pictures, {report.Decoded} decoded");
        Assert.NotNull(firstData);
        Assert.True(firstData < gop + Margin / 2, $"first data {firstData} after joining, GOP {gop}");
        // What MediaMTX's own muxer writes first for a new reader, so the demuxer needs nothing it has not got.
        Assert.Equal([0, report.PmtPid], report.FirstPids.Take(2));
        // The first PMT lists the sound as well as the picture: readers take it for the stream's tracks (MediaMTX keeps them).
        Assert.True(report.FirstPmtStreams.Count == 2 && report.FirstPmtStreams.Contains(0x1B), $"first PMT lists stream types {string.Join(" ", report.FirstPmtStreams.Select(t => $"0x{t:X2}"))}");
        // The first picture can be decoded on its own: SPS, PPS and an IDR slice.
        Assert.Superset(new HashSet<int> { 5, 7, 8 }, report.FirstPictureNals.ToHashSet());
        Assert.True(report.VideoPes >= 10, $"only {report.VideoPes} pictures arrived in {gop + Margin}");
        // Every picture received decodes (the last one may have been cut short by the end of the capture).
        Assert.InRange(report.Decoded, report.VideoPes - 1, report.VideoPes);
    }
}
