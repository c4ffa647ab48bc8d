using System.Diagnostics;
using MixerWorker.Pipeline.Scene;
using MixerWorker.Pipeline.Sources;
using MixerWorker.Testbed.Feeds;
using Xunit;
using Xunit.Abstractions;
using static MixerWorker.Pipeline.Tests.Integration.MixHarness;

namespace MixerWorker.Pipeline.Tests.Exploration;

public sealed class TimingExploration(ITestOutputHelper output)
{
    internal static Process Ffmpeg(int port, string input, int fps, bool zeroDelay, string extra = "")
    {
        var url = $"srt://127.0.0.1:{port}?mode=caller&streamid=publish:ingest/{Integration.MixHarness.Project}/{input}:token={Integration.MixHarness.Token}" +
                  $"&passphrase={Integration.MixHarness.IngestPassphrase}&pbkeylen=16&latency=80000&pkt_size=1316";
        var mux = zeroDelay ? "-muxdelay 0 -muxpreload 0" : "";
        var psi = new ProcessStartInfo("ffmpeg",
            $"-nostdin -loglevel error -re -f lavfi -i testsrc2=size=320x180:rate={fps} -f lavfi -i sine=f=440:r=48000 " +
            $"-c:v libx264 -preset ultrafast -tune zerolatency -g {fps} -b:v 400k -c:a aac -b:a 64k {extra} {mux} -f mpegts \"{url}\"")
        { RedirectStandardError = true, UseShellExecute = false };
        return Process.Start(psi)!;
    }

    [Theory]
    [InlineData("gst", 30)]
    [InlineData("ffmpeg", 30)]
    [InlineData("ffmpeg0", 30)]
    [InlineData("ffmpeg", 25)]
    public async Task Repeats_seen_by_the_compositor(string kind, int fps)
    {
        var input = "cam-a";
        var scene = new SceneDefinition
        {
            Project = Project,
            Inputs = [new InputDefinition { Name = input }],
            Buses = [Bus("program", 320, 180, At(input, 0, 0, 160, 90), At(input, 160, 90, 160, 90))],
        };
        await using var h = new Integration.MixHarness(output);
        Process? ff = null;
        if (kind == "gst") h.StartFeed(FeedSpec.Numbered(0) with { Fps = fps });
        else ff = Ffmpeg(h.StandIn.Port, input, fps, kind == "ffmpeg0");
        try
        {
            await h.WaitForPublisherAsync($"ingest/{Project}/{input}", TimeSpan.FromSeconds(10));
            var mixer = await h.StartMixerAsync(scene);
            await Task.Delay(4000);
            var before = await mixer.InspectBusAsync("program", b => b!.Director.Branches.Select(x => x.Pictures).ToList());
            await Task.Delay(8000);
            var after = await mixer.InspectBusAsync("program", b => b!.Director.Branches.Select(x => x.Pictures).ToList());
            for (var i = 0; i < before.Count; i++)
            {
                var (f, r, k) = (after[i].Frames - before[i].Frames, after[i].Repeats - before[i].Repeats, after[i].Skips - before[i].Skips);
                output.WriteLine($"{kind} {fps}: box frames {f} repeats {r} ({100.0 * r / Math.Max(1, f):F0}%) skips {k}");
            }
            var tl = (await mixer.TimelineAsync(input))!;
            output.WriteLine($"timeline: jumps {tl.Jumps} corrections {tl.Corrections} held back {tl.HeldBack} offset {tl.OffsetNs / 1e6:F1} ms");
        }
        finally
        {
            if (ff is not null) { try { ff.Kill(); } catch { } ff.WaitForExit(2000); }
        }
    }
}
