using System.Diagnostics;
using System.Text.Json;
using MixerWorker.Pipeline.Scene;
using MixerWorker.Testbed.Feeds;
using MixerWorker.Testbed.Imaging;
using MixerWorker.Testbed.Reading;
using MixerWorker.Testbed.StandIn;

namespace MixerWorker.Testbed.Demo;

/// <summary>
/// The scripted show behind ./run.sh demo: the MediaMTX stand-in, three synthetic cameras, and the
/// worker as a real process running a scene with a script of layout changes, while one camera
/// drops and comes back. Program and AUX1 are recorded, snapshotted and tiled into a contact sheet.
/// </summary>
internal static class DemoShow
{
    private const string Project = "demo";
    private const string IngestPassphrase = "demo-ingest-passphrase", OutputPassphrase = "demo-output-passphrase", Token = "demo-token";
    private const double ShowSeconds = 24;

    private static Box At(string s, int x, int y, int w, int h, int z = 0) => new() { Source = s, X = x, Y = y, Width = w, Height = h, Z = z };

    private static SceneDefinition Scene(long revision, params Box[] program) => new()
    {
        Project = Project, Revision = revision,
        Inputs = [new() { Name = "cam-a" }, new() { Name = "cam-b" }, new() { Name = "cam-c" }],
        Buses =
        [
            new() { Name = "program", Format = new OutputFormat { Width = 640, Height = 360, VideoBitrateKbps = 1500 }, Layout = program },
            new() { Name = "aux1", Format = new OutputFormat { Width = 640, Height = 360, VideoBitrateKbps = 1000 }, Layout = [At("cam-b", 0, 0, 640, 360)] },
        ],
    };

    internal static async Task<int> RunAsync(string outDir)
    {
        Directory.CreateDirectory(outDir);
        var grid = Scene(1, At("cam-a", 0, 0, 320, 180), At("cam-b", 320, 0, 320, 180), At("cam-c", 0, 180, 320, 180), At("cam-a", 320, 180, 320, 180), At("cam-c", 470, 20, 150, 84, 1));
        var sideBySide = Scene(2, At("cam-a", 0, 0, 320, 360), At("cam-b", 320, 0, 320, 360));
        var pip = Scene(3, At("cam-c", 0, 0, 640, 360), At("cam-a", 440, 20, 180, 100, 1));
        var scenePath = Path.Combine(outDir, "scene.json");
        var scriptPath = Path.Combine(outDir, "show.json");
        await File.WriteAllTextAsync(scenePath, SceneJson.Write(grid));
        await File.WriteAllTextAsync(scriptPath, JsonSerializer.Serialize(new
        {
            steps = new object[]
            {
                new { at = 6.0, note = "side by side", scene = sideBySide },
                new { at = 14.0, note = "cam-c full frame with cam-a picture-in-picture", scene = pip },
            },
        }, SceneJson.Options));

        using var standIn = MediaMtxStandIn.Start(new StandInOptions { IngestPassphrase = IngestPassphrase, OutputPassphrase = OutputPassphrase, RequiredToken = Token });
        Say($"MediaMTX stand-in (test double) on SRT 127.0.0.1:{standIn.Port}");
        var feeds = Enumerable.Range(0, 3).Select(i => StartFeed(FeedSpec.Numbered(i), standIn.Port)).ToList();
        Say("three cameras publishing: cam-a red, cam-b green, cam-c blue");

        using var worker = StartWorker(scenePath, scriptPath, standIn.Port);
        using var program = new OutputReader("127.0.0.1", standIn.Port, $"read:out/{Project}/program:token={Token}", OutputPassphrase, Path.Combine(outDir, "program.ts"));
        using var aux1 = new OutputReader("127.0.0.1", standIn.Port, $"read:out/{Project}/aux1:token={Token}", OutputPassphrase, Path.Combine(outDir, "aux1.ts"));

        var snapshots = new List<RgbFrame>();
        var clock = Stopwatch.StartNew();
        var (dropped, back) = (false, false);
        while (clock.Elapsed.TotalSeconds < ShowSeconds - 1)
        {
            await Task.Delay(2000);
            var t = clock.Elapsed.TotalSeconds;
            if (!dropped && t > 9) { feeds[1].Dispose(); dropped = true; Say("cam-b dropped (its boxes show the slate)"); }
            else if (dropped && !back && t > 12) { feeds[1] = StartFeed(FeedSpec.Numbered(1), standIn.Port); back = true; Say("cam-b is back"); }
            if (program.Latest is { } frame)
            {
                snapshots.Add(frame);
                PngWriter.Write(frame, Path.Combine(outDir, $"program-{snapshots.Count:00}-{t:00}s.png"));
            }
        }
        await worker.WaitForExitAsync();
        if (aux1.Latest is { } a) PngWriter.Write(a, Path.Combine(outDir, "aux1-last.png"));
        PngWriter.Write(PngWriter.ContactSheet(snapshots, 4, 320, 180), Path.Combine(outDir, "contact-sheet.png"));
        foreach (var f in feeds) f.Dispose();

        Say($"program: {program.Stats.Frames} frames read back; aux1: {aux1.Stats.Frames} frames");
        Say($"worker exit code {worker.ExitCode}");
        Say($"files in {Path.GetFullPath(outDir)}: program.ts, aux1.ts, {snapshots.Count} program snapshots, aux1-last.png, contact-sheet.png, scene.json, show.json");
        return worker.ExitCode;
    }

    private static SyntheticFeed StartFeed(FeedSpec spec, int port) =>
        SyntheticFeed.Start(spec, Project, "127.0.0.1", port, IngestPassphrase, Token);

    private static Process StartWorker(string scenePath, string scriptPath, int port)
    {
        var dll = Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "..", "..", "src", "MixerWorker", "bin",
            new DirectoryInfo(AppContext.BaseDirectory).Parent!.Name, "net10.0", "MixerWorker.dll"));
        var psi = new ProcessStartInfo("dotnet", [dll, "run", scenePath, "--duration", ShowSeconds.ToString(), "--script", scriptPath]) { UseShellExecute = false };
        psi.Environment["MEDIAMTX__HOST"] = "127.0.0.1";
        psi.Environment["MEDIAMTX__SRTPORT"] = port.ToString();
        psi.Environment["MEDIAMTX__TOKEN"] = Token;
        psi.Environment["INGEST_SRT_PASSPHRASE"] = IngestPassphrase;
        psi.Environment["OUTPUT_SRT_PASSPHRASE"] = OutputPassphrase;
        Say($"worker: dotnet {dll} run {scenePath} --duration {ShowSeconds} --script {scriptPath}");
        return Process.Start(psi) ?? throw new InvalidOperationException("could not start the worker");
    }

    private static void Say(string line) => Console.WriteLine($"demo: {line}");
}
