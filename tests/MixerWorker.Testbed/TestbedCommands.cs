using System.Globalization;
using MixerWorker.Testbed.Bench;
using MixerWorker.Testbed.Demo;
using MixerWorker.Testbed.Feeds;
using MixerWorker.Testbed.StandIn;
using MixerWorker.Testbed.Stamps;

namespace MixerWorker.Testbed;

internal static class TestbedCommands
{
    private static string? Env(string name) => Environment.GetEnvironmentVariable(name) is { Length: > 0 } v ? v : null;

    internal static async Task<int> RunAsync(string[] args)
    {
        var options = ParseOptions(args.Skip(1));
        switch (args.FirstOrDefault())
        {
            case "standin":
                return await RunStandIn(Int(options, "port", 8000), Seconds(options), options.GetValueOrDefault("trace"));
            case "feeds":
                return await RunFeeds(options);
            case "demo":
                return await DemoShow.RunAsync(options.GetValueOrDefault("out", "artifacts/demo"), TimeSpan.FromSeconds(Int(options, "hold", 0)));
            case "cmdbench":
                return await CommandBench.RunAsync(options);
            case "fleetbench":
                return await FleetBench.RunAsync(options);
            case "costbench":
                return await CostBench.RunAsync(options);
            case "stamps":
                return await LatencyBench.RunAsync(options);
            case "reappear":
                return await ReappearBench.RunAsync(options);
            case "soak":
                return await SoakBench.RunAsync(options);
            case "child":
                return await RunChild(options.GetValueOrDefault("seconds", "60"));
            default:
                Console.Error.WriteLine("usage: MixerWorker.Testbed standin [--port N] [--trace FILE] | feeds --port N --count K [--project P] [--seconds S] [--width W --height H --fps F --bitrate KBPS --pattern smpte --mux-delay-ms MS --jitter-ms MS --audio aac|opus|mp2|none --sound-packing frame|ffmpeg] [--files DIR: write S seconds of each into DIR/<input>.ts instead] | stamps --port N --scene FILE --seconds S [--buses a,b] [--direct cam-a] [--feed-width W --feed-height H --feed-fps F] [--settle S] [--label L] [--mixer M] [--md FILE] [--record DIR: only record, then stamps --from DIR [--feed-files 1] ... to read] | demo [--out DIR] [--hold SECONDS] | cmdbench --redis HOST:PORT --worker MixerWorker.dll [--port N] [--count 100] [--restarts 3] [--read-modes 200] [--out FILE.md] | fleetbench --redis HOST:PORT --worker MixerWorker.dll [--runs 20] [--modes kill,term] [--width 640 --height 360] [--logs DIR] [--out FILE.md] | costbench --worker MixerWorker.dll [--warmup 6] [--window 12] [--reps 2] [--out FILE.md] | reappear --worker MixerWorker.dll [--reps 20] [--outage 5] [--modes 500,0] [--out FILE.md] | soak --redis HOST:PORT --worker MixerWorker.dll [--minutes 60] [--out FILE.md] [--csv FILE.csv] [--worker-log FILE] | child [--seconds S]");
                return 2;
        }
    }

    // For the tests of ChildProcesses: one child (sleep) that must not outlive this process, however it ends.
    private static async Task<int> RunChild(string seconds)
    {
        using var child = ChildProcesses.Start(new System.Diagnostics.ProcessStartInfo("sleep", [seconds]));
        Console.WriteLine($"child {child.Id}");
        await child.WaitForExitAsync();
        return 0;
    }

    private static async Task<int> RunStandIn(int port, double seconds, string? trace)
    {
        using var standIn = MediaMtxStandIn.Start(new StandInOptions
        {
            Port = port, IngestPassphrase = Env("INGEST_SRT_PASSPHRASE"), OutputPassphrase = Env("OUTPUT_SRT_PASSPHRASE"), RequiredToken = Env("MEDIAMTX__TOKEN"), TracePath = trace,
        });
        Console.WriteLine($"MediaMTX stand-in (test double) listening on SRT 127.0.0.1:{standIn.Port}");
        await WaitForStop(seconds);
        foreach (var a in standIn.Attempts()) Console.WriteLine($"attempt {a.Sequence}: {a.Action} {a.Path} → {a.Outcome} {a.Reason}");
        return 0;
    }

    private static async Task<int> RunFeeds(Dictionary<string, string> o)
    {
        var port = Int(o, "port", 8000);
        var specs = Enumerable.Range(0, Int(o, "count", 3)).Select(i => FeedSpec.Numbered(i) with
        {
            Width = Int(o, "width", 320), Height = Int(o, "height", 180), Fps = Int(o, "fps", 30),
            VideoBitrateKbps = Int(o, "bitrate", 400), Pattern = o.GetValueOrDefault("pattern", "solid-color"),
            MuxDelay = o.TryGetValue("mux-delay-ms", out var delay) ? TimeSpan.FromMilliseconds(int.Parse(delay, CultureInfo.InvariantCulture)) : null,
            SendJitter = TimeSpan.FromMilliseconds(Int(o, "jitter-ms", 0)),
            AudioCodec = o.GetValueOrDefault("audio", "aac"),
            SoundPacking = o.GetValueOrDefault("sound-packing", "frame") switch
            {
                "frame" => SoundPacking.FramePerPes,
                "ffmpeg" => SoundPacking.FfmpegDefault,
                var other => throw new ArgumentException($"--sound-packing {other}: frame (one AAC frame a PES) or ffmpeg (as ffmpeg's muxer packs it by default)"),
            },
        }).ToList();
        if (o.TryGetValue("files", out var dir))
        {
            if (specs.Any(s => s.SoundPacking != SoundPacking.FramePerPes))
                throw new ArgumentException("--sound-packing applies to live feeds: a file is written one frame a PES, and its sender packs the sound its own way");
            // One stamp clock for all: a publisher that starts them together keeps their stamps' times in step, as live feeds' are.
            var zero = StampClock.UnixMillis();
            Directory.CreateDirectory(dir);
            await Task.WhenAll(specs.Select(spec => Task.Run(() => SyntheticFeed.WriteFile(spec, Path.Combine(dir, $"{spec.Input}.ts"), TimeSpan.FromSeconds(Seconds(o)), zero))));
            Console.WriteLine($"{specs.Count} feeds written to {dir}: {string.Join(", ", specs.Select(f => f.Input))}");
            return 0;
        }
        var feeds = specs.Select(spec => SyntheticFeed.Start(spec, o.GetValueOrDefault("project", "demo"), "127.0.0.1", port, Env("INGEST_SRT_PASSPHRASE"), Env("MEDIAMTX__TOKEN"))).ToList();
        Console.WriteLine($"{feeds.Count} feeds publishing: {string.Join(", ", feeds.Select(f => f.Spec.Input))}");
        await WaitForStop(Seconds(o));
        foreach (var f in feeds) f.Dispose();
        return 0;
    }

    private static async Task WaitForStop(double seconds)
    {
        var stop = new TaskCompletionSource();
        Console.CancelKeyPress += (_, e) => { e.Cancel = true; stop.TrySetResult(); };
        AppDomain.CurrentDomain.ProcessExit += (_, _) => stop.TrySetResult();
        await (seconds > 0 ? Task.WhenAny(stop.Task, Task.Delay(TimeSpan.FromSeconds(seconds))) : stop.Task);
    }

    private static Dictionary<string, string> ParseOptions(IEnumerable<string> args)
    {
        var list = args.ToList();
        var result = new Dictionary<string, string>();
        for (var i = 0; i + 1 < list.Count; i += 2) result[list[i].TrimStart('-')] = list[i + 1];
        return result;
    }

    private static int Int(Dictionary<string, string> o, string key, int fallback) =>
        o.TryGetValue(key, out var v) ? int.Parse(v, CultureInfo.InvariantCulture) : fallback;

    private static double Seconds(Dictionary<string, string> o) =>
        o.TryGetValue("seconds", out var v) ? double.Parse(v, CultureInfo.InvariantCulture) : 0;
}
