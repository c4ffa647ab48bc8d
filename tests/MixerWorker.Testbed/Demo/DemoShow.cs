using System.Diagnostics;
using MixerWorker.Pipeline.Scene;
using MixerWorker.Testbed.Feeds;
using MixerWorker.Testbed.Imaging;
using MixerWorker.Testbed.Reading;
using MixerWorker.Testbed.StandIn;

namespace MixerWorker.Testbed.Demo;

/// <summary>
/// The show behind ./run.sh demo, run the way production runs it: the MediaMTX stand-in, three
/// synthetic cameras, a real redis-server, two workers as real daemon processes (the owner of the
/// project is killed mid-show and the other takes it over), and an operator
/// driving it with mixerctl (cut, auto with mix/wipe/dip, a picture-in-picture that glides into
/// side-by-side, a lower-third graphic, audio following video, fade to black) while ctl watch
/// prints status and tally, and one camera drops (its "no signal" card shows) and comes back by itself. Program and the AUX1 multiview are recorded and snapshotted.
/// The cameras look like cameras (a moving ball, the name large, a running clock, a tone each); the
/// fleet dashboard (ctl dashboard) and the worker's /metrics run alongside, and --hold keeps the show
/// on air afterwards so a person can open them.
/// </summary>
internal static class DemoShow
{
    private const string Project = "demo";
    private const string IngestPassphrase = "demo-ingest-passphrase", OutputPassphrase = "demo-output-passphrase", Token = "demo-token";

    private static Box Full(string s) => new() { Source = s, Width = 640, Height = 360 };

    private static SceneDefinition Scene() => new()
    {
        Project = Project, Revision = 1,
        Inputs = [new() { Name = "cam-a" }, new() { Name = "cam-b" }, new() { Name = "cam-c" }],
        Buses =
        [
            new()
            {
                Name = "program", Format = new OutputFormat { Width = 640, Height = 360, VideoBitrateKbps = 1500 },
                Layout = [Full("cam-a")], Preview = new Shot { Boxes = [Full("cam-b")] },
                Graphics = [new GraphicLayer { File = "lower-third.png", X = 40, Y = 280, FadeMs = 400 }],
                // No audio section: the program hears what it shows (audio follows video).
            },
            new() { Name = "aux1", Kind = BusKind.Multiview, Format = new OutputFormat { Width = 640, Height = 360, VideoBitrateKbps = 1200 } },
        ],
    };

    // What the operator does, and when (seconds after the show is on air).
    private static readonly (double At, string Note, string[] Ctl)[] Script =
    [
        (3, "auto: 1 s mix to cam-b", ["auto", Project, "program", "--kind", "mix", "--ms", "1000"]),
        (6, "preview: cam-c with cam-a picture-in-picture", ["preview", Project, "program", "--preset", "pip", "--sources", "cam-c,cam-a", "--corner", "topRight", "--size", "0.3", "--margin", "16"]),
        (8, "auto: 800 ms wipe to the PiP", ["auto", Project, "program", "--kind", "wipe", "--ms", "800", "--direction", "right"]),
        (11, "graphics: lower third on", ["graphics", Project, "program", "0", "on"]),
        (14, "layout: the PiP glides into side-by-side", ["layout", Project, "program", "--preset", "sideBySide", "--sources", "cam-a,cam-c", "--kind", "move", "--ms", "1200"]),
        (17, "graphics: lower third off", ["graphics", Project, "program", "0", "off"]),
        (18, "auto: dip through black to the preview (cam-b)", ["auto", Project, "program", "--kind", "dip", "--ms", "1000"]),
        (21, "audio: cam-a 6 dB down", ["audio", Project, "cam-a", "--gain", "-6"]),
        (22, "fade to black", ["ftb", Project, "program", "--ms", "1000"]),
        (25, "fade up", ["ftb", Project, "program", "--ms", "1000"]),
        (27, "cut", ["cut", Project, "program"]),
    ];
    private const double ShowSeconds = 30;
    // When the project's owner is killed: after the dip, before the audio change and the fade, which
    // the other worker then carries out.
    private const double KillAt = 19.5;

    private static FeedSpec Camera(int index) => FeedSpec.Numbered(index) with { Width = 640, Height = 360, CameraLook = true };

    internal static async Task<int> RunAsync(string outDir, TimeSpan hold)
    {
        Directory.CreateDirectory(outDir);
        var graphics = Directory.CreateDirectory(Path.Combine(outDir, "graphics")).FullName;
        PngWriter.Write(LowerThird(), Path.Combine(graphics, "lower-third.png"));
        var scenePath = Path.Combine(outDir, "scene.json");
        await File.WriteAllTextAsync(scenePath, SceneJson.Write(Scene()));

        using var standIn = MediaMtxStandIn.Start(new StandInOptions { IngestPassphrase = IngestPassphrase, OutputPassphrase = OutputPassphrase, RequiredToken = Token });
        Say($"MediaMTX stand-in (test double) on SRT 127.0.0.1:{standIn.Port}");
        var feeds = Enumerable.Range(0, 3).Select(i => SyntheticFeed.Start(Camera(i), Project, "127.0.0.1", standIn.Port, IngestPassphrase, Token)).ToList();
        Say("three cameras publishing, each a moving ball, its name and a clock: cam-a on red with a 330 Hz tone, cam-b green 440 Hz, cam-c blue 550 Hz");

        var redisPort = FreePorts.Tcp();
        using var redis = Start("redis-server", ["--port", redisPort.ToString(), "--save", "", "--appendonly", "no", "--bind", "127.0.0.1"], quiet: true);
        Say($"redis-server on 127.0.0.1:{redisPort}");
        await Task.Delay(500);

        var env = new Dictionary<string, string>
        {
            ["REDIS__CONFIGURATION"] = $"127.0.0.1:{redisPort}",
            ["MEDIAMTX__HOST"] = "127.0.0.1",
            ["MEDIAMTX__SRTPORT"] = standIn.Port.ToString(),
            ["MEDIAMTX__TOKEN"] = Token,
            ["INGEST_SRT_PASSPHRASE"] = IngestPassphrase,
            ["OUTPUT_SRT_PASSPHRASE"] = OutputPassphrase,
            ["GRAPHICS__DIRECTORY"] = graphics,
            ["METRICS__PORT"] = FreePorts.Tcp().ToString(),
        };
        var dashboardPort = FreePorts.Tcp();
        var exit = 0;
        // Two workers share the project the way a fleet does: one holds its lease and runs it, the other
        // stands by; mid-show the owner is killed (SIGKILL, as a crash) and the other takes the show over.
        var workers = new[] { "demo-worker-1", "demo-worker-2" }
            .ToDictionary(id => id, id => Start("dotnet", [WorkerDll()], new(env) { ["WORKER__ID"] = id, ["METRICS__PORT"] = id.EndsWith('1') ? env["METRICS__PORT"] : "0" }, prefix: id));
        string? killed = null;
        using (var watch = Start("dotnet", [WorkerDll(), "ctl", "watch", Project], env, prefix: "watch"))
        using (var dashboard = Start("dotnet", [WorkerDll(), "ctl", "dashboard", "--port", dashboardPort.ToString()], env, prefix: "dashboard"))
        {
            Say($"dashboard: http://127.0.0.1:{dashboardPort}/   demo-worker-1's metrics: http://127.0.0.1:{env["METRICS__PORT"]}/metrics");
            exit |= await Ctl(env, "set", Project, scenePath);
            using var program = new OutputReader("127.0.0.1", standIn.Port, $"read:out/{Project}/program:token={Token}", OutputPassphrase, Path.Combine(outDir, "program.ts"));
            using var aux1 = new OutputReader("127.0.0.1", standIn.Port, $"read:out/{Project}/aux1:token={Token}", OutputPassphrase, Path.Combine(outDir, "aux1.ts"));
            await program.WaitForFrameAsync(TimeSpan.FromSeconds(30));
            Say("program is on air");

            var snapshots = new List<RgbFrame>();
            var multiview = new List<RgbFrame>();
            var clock = Stopwatch.StartNew();
            // The operator works on its own timeline, one command after the other (mixerctl takes
            // about a second to start), while pictures are taken every second.
            var operatorTask = Task.Run(async () =>
            {
                var failed = 0;
                foreach (var (at, note, ctl) in Script)
                {
                    var wait = TimeSpan.FromSeconds(at) - clock.Elapsed;
                    if (wait > TimeSpan.Zero) await Task.Delay(wait);
                    Say($"t={clock.Elapsed.TotalSeconds:0.0}s {note}: mixerctl {string.Join(' ', ctl)}");
                    failed |= await Ctl(env, ctl);
                }
                return failed;
            });
            var (dropped, back) = (false, false);
            while (clock.Elapsed.TotalSeconds < ShowSeconds)
            {
                await Task.Delay(1000 - (int)(clock.ElapsedMilliseconds % 1000));
                // cam-a (the PiP by then) drops and comes back on its own: its box shows its "no signal" card meanwhile.
                var t = clock.Elapsed.TotalSeconds;
                if (!dropped && t >= 12) { feeds[0].Dispose(); dropped = true; Say("cam-a dropped (its box shows its \"no signal\" card)"); }
                else if (dropped && !back && t >= 15)
                {
                    feeds[0] = SyntheticFeed.Start(Camera(0), Project, "127.0.0.1", standIn.Port, IngestPassphrase, Token);
                    back = true;
                    Say("cam-a is back");
                }
                if (killed is null && t >= KillAt && await OwnerAsync(env) is { } owner && workers.TryGetValue(owner, out var victim))
                {
                    killed = owner;
                    victim.Kill(entireProcessTree: true);
                    program.ResetCounters();
                    Say($"t={t:0.0}s killed {owner} (SIGKILL), the owner of {Project}: the other worker takes over once the lease lapses");
                    _ = Task.Run(async () =>
                    {
                        // What a viewer sees: the longest wall-clock stretch without a new picture on
                        // Program, once the new owner's pictures have flowed for a second.
                        var since = Stopwatch.StartNew();
                        var (frames, lastNew, longest, gapEnd) = (program.Stats.Frames, since.Elapsed, TimeSpan.Zero, TimeSpan.Zero);
                        string? next = null;
                        var ownerPoll = Task.FromResult<string?>(null);
                        while (since.Elapsed < TimeSpan.FromSeconds(20))
                        {
                            await Task.Delay(50);
                            if (program.Stats.Frames is var n && n != frames)
                            {
                                if (since.Elapsed - lastNew > longest) (longest, gapEnd) = (since.Elapsed - lastNew, since.Elapsed);
                                (frames, lastNew) = (n, since.Elapsed);
                            }
                            if (next is null && ownerPoll.IsCompleted)
                            {
                                if (ownerPoll.Result is { } o && o != owner)
                                {
                                    next = o;
                                    Say($"{next} owns {Project} {since.Elapsed.TotalSeconds:0.0} s after the kill");
                                }
                                else ownerPoll = OwnerAsync(env);
                            }
                            if (next is not null && longest > TimeSpan.FromMilliseconds(500) && since.Elapsed - gapEnd > TimeSpan.FromSeconds(1)
                                && since.Elapsed - lastNew < TimeSpan.FromMilliseconds(200))
                            {
                                Say($"program is back on air from {next}: it was {longest.TotalSeconds:0.0} s without a new picture");
                                return;
                            }
                        }
                        Say(next is null ? $"nobody took {Project} over within 20 s of the kill" : $"program did not come back within 20 s of the kill");
                    });
                }
                if (program.Latest is not { } frame) continue;
                snapshots.Add(frame);
                if (aux1.Latest is { } mv && snapshots.Count % 3 == 0) multiview.Add(mv);
            }
            exit |= await operatorTask;
            exit |= await Ctl(env, "status", Project);
            // Tiles half the bus's size: the cameras' names and clocks stay readable.
            PngWriter.Write(PngWriter.ContactSheet(snapshots, 4, 320, 180), Path.Combine(outDir, "program-contact-sheet.png"));
            if (multiview.Count > 0) PngWriter.Write(PngWriter.ContactSheet(multiview, 5, 256, 144), Path.Combine(outDir, "multiview-contact-sheet.png"));
            if (aux1.Latest is { } last) PngWriter.Write(last, Path.Combine(outDir, "multiview-last.png"));
            Say($"program: {program.Stats.Frames} frames read back; aux1 multiview: {aux1.Stats.Frames} frames");
            if (hold > TimeSpan.Zero)
            {
                Say($"the show stays on air for {hold.TotalSeconds:F0} s (Ctrl-C ends it sooner): dashboard http://127.0.0.1:{dashboardPort}/");
                await Hold(hold);
            }
            Stop(dashboard);

            Stop(watch);
            foreach (var (id, worker) in workers)
            {
                Stop(worker);
                if (id == killed) continue;
                Say($"{id} stopped (exit code {worker.ExitCode})");
                exit |= worker.ExitCode;
            }
            if (killed is null) { Say("no worker was killed: the project's owner was never seen"); exit |= 1; }
        }
        foreach (var w in workers.Values) w.Dispose();
        Stop(redis);
        foreach (var f in feeds) f.Dispose();
        Say($"files in {Path.GetFullPath(outDir)}: program.ts, aux1.ts, program-contact-sheet.png, multiview-contact-sheet.png, multiview-last.png, scene.json, graphics/");
        return exit == 0 ? 0 : 1;
    }

    private static async Task Hold(TimeSpan hold)
    {
        var stop = new TaskCompletionSource();
        Console.CancelKeyPress += (_, e) => { e.Cancel = true; stop.TrySetResult(); };
        await Task.WhenAny(stop.Task, Task.Delay(hold));
    }

    // A white bar with a red tab: enough to see a graphic fade in and out over the picture.
    private static RgbFrame LowerThird()
    {
        const int w = 360, h = 48;
        var pixels = new byte[w * h * 3];
        for (var y = 0; y < h; y++)
            for (var x = 0; x < w; x++)
            {
                var i = (y * w + x) * 3;
                var tab = x < 24;
                (pixels[i], pixels[i + 1], pixels[i + 2]) = tab ? ((byte)220, (byte)30, (byte)30) : ((byte)240, (byte)240, (byte)240);
            }
        return new RgbFrame(w, h, pixels, DateTimeOffset.UtcNow);
    }

    private static Task<int> Ctl(Dictionary<string, string> env, params string[] args) => Ctl(env, args.AsEnumerable());

    private static async Task<int> Ctl(Dictionary<string, string> env, IEnumerable<string> args)
    {
        using var p = Start("dotnet", [WorkerDll(), "ctl", .. args], env, prefix: "mixerctl");
        await p.WaitForExitAsync();
        if (p.ExitCode != 0) Say($"mixerctl {string.Join(' ', args)} failed with exit code {p.ExitCode}");
        return p.ExitCode;
    }

    // The worker holding the project's lease, as `ctl status` reports it; null while nobody holds it.
    private static async Task<string?> OwnerAsync(Dictionary<string, string> env)
    {
        var psi = new ProcessStartInfo("dotnet", [WorkerDll(), "ctl", "status", Project]) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var (k, v) in env) psi.Environment[k] = v;
        using var p = Process.Start(psi) ?? throw new InvalidOperationException("could not start ctl status");
        var output = await p.StandardOutput.ReadToEndAsync();
        await p.WaitForExitAsync();
        try { return System.Text.Json.Nodes.JsonNode.Parse(output)?["lease"]?["owner"]?.GetValue<string>(); }
        catch (System.Text.Json.JsonException) { return null; }
    }

    private static string WorkerDll() => Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "..", "..", "src", "MixerWorker", "bin",
        new DirectoryInfo(AppContext.BaseDirectory).Parent!.Name, "net10.0", "MixerWorker.dll"));

    private static Process Start(string file, IEnumerable<string> args, Dictionary<string, string>? env = null, string? prefix = null, bool quiet = false)
    {
        var psi = new ProcessStartInfo(file, args) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var (k, v) in env ?? []) psi.Environment[k] = v;
        var p = ChildProcesses.Start(psi);
        void Echo(string? line) { if (line is not null && !quiet) Console.WriteLine($"{prefix ?? file}: {line}"); }
        p.OutputDataReceived += (_, e) => Echo(e.Data);
        p.ErrorDataReceived += (_, e) => Echo(e.Data);
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        return p;
    }

    // SIGTERM (graceful: the worker ends its outputs with EOS), then a bounded wait.
    private static void Stop(Process p)
    {
        if (p.HasExited) return;
        Process.Start("kill", ["-TERM", p.Id.ToString()])?.WaitForExit();
        if (!p.WaitForExit(15_000)) p.Kill(entireProcessTree: true);
        p.WaitForExit();
    }

    private static void Say(string line) => Console.WriteLine($"demo: {line}");
}
