using System.Diagnostics;
using System.Text.Json;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using MixerWorker.ControlPlane;
using MixerWorker.Pipeline.Engine;
using MixerWorker.Pipeline.Scene;

namespace MixerWorker.Headless;

/// <summary>A timed list of scenes to apply while running: {"steps":[{"at":5.0,"scene":{...}}]}.</summary>
public sealed record ShowScript(IReadOnlyList<ScriptStep> Steps)
{
    private static readonly JsonSerializerOptions Options = new(SceneJson.Options) { TypeInfoResolver = WorkerJsonContext.Default.KeepingInitializers() };

    public static ShowScript Load(string path) =>
        JsonSerializer.Deserialize(File.ReadAllText(path), Options.Info<ShowScript>()) ?? new ShowScript([]);
}

public sealed record ScriptStep(double At, SceneDefinition Scene, string? Note = null);

/// <summary>Runs one scene (and an optional script of changes) for a while, without Redis, then stops the host.</summary>
internal sealed class HeadlessShowService(
    IProjectMixerFactory mixers,
    IOptions<HeadlessRunOptions> runOptions,
    ILogger<HeadlessShowService> log,
    IHostApplicationLifetime lifetime) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var run = runOptions.Value;
        try
        {
            var scene = SceneJson.Parse(await File.ReadAllTextAsync(run.ScenePath, stoppingToken));
            var script = run.ScriptPath is null ? new ShowScript([]) : ShowScript.Load(run.ScriptPath);
            var clock = Stopwatch.StartNew();
            await using var mixer = await mixers.StartAsync(scene, PublishGate.AlwaysOpen());
            log.LogInformation("project {Project} running{For}", scene.Project, run.DurationSeconds > 0 ? $" for {run.DurationSeconds} s" : "");
            var end = run.DurationSeconds > 0 ? TimeSpan.FromSeconds(run.DurationSeconds) : Timeout.InfiniteTimeSpan;
            foreach (var step in script.Steps.OrderBy(s => s.At))
            {
                if (!await WaitUntil(clock, TimeSpan.FromSeconds(step.At), end, mixer, stoppingToken)) break;
                await ApplyStep(mixer, step);
            }
            await WaitUntil(clock, end, end, mixer, stoppingToken);
        }
        catch (SceneException e)
        {
            foreach (var error in e.Errors) log.LogError("scene: {Error}", error);
            Environment.ExitCode = 2;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            log.LogError(e, "the run failed");
            Environment.ExitCode = 1;
        }
        finally { lifetime.StopApplication(); }
    }

    private async Task ApplyStep(IProjectMixer mixer, ScriptStep step)
    {
        log.LogInformation("script: {Note}", step.Note ?? $"scene revision {step.Scene.Revision}");
        try { await mixer.ApplyAsync(step.Scene); }
        catch (SceneException e) { log.LogError("script step at {At} s refused: {Errors}", step.At, string.Join("; ", e.Errors)); }
    }

    // Waits until `at` (or the end of the run), logging a status line every five seconds. It sleeps until whichever
    // comes first rather than looking every 100 ms: each look woke a thread-pool thread, which then spun before it
    // slept again (bench/results/2026-12-01-1700-vm-memory-runtime.md).
    private async Task<bool> WaitUntil(Stopwatch clock, TimeSpan at, TimeSpan end, IProjectMixer mixer, CancellationToken token)
    {
        var target = end == Timeout.InfiniteTimeSpan || at < end ? at : end;
        var nextStatus = TimeSpan.FromSeconds(Math.Ceiling(clock.Elapsed.TotalSeconds / 5) * 5);
        while (!token.IsCancellationRequested && (target == Timeout.InfiniteTimeSpan || clock.Elapsed < target))
        {
            if (clock.Elapsed >= nextStatus)
            {
                await LogStatus(mixer);
                nextStatus += TimeSpan.FromSeconds(5);
            }
            var wake = target == Timeout.InfiniteTimeSpan || nextStatus < target ? nextStatus : target;
            var rest = wake - clock.Elapsed;
            if (rest > TimeSpan.Zero) await Task.Delay(rest, token).ContinueWith(_ => { });
        }
        return !token.IsCancellationRequested && (end == Timeout.InfiniteTimeSpan || clock.Elapsed < end);
    }

    private async Task LogStatus(IProjectMixer mixer)
    {
        var s = await mixer.GetStatusAsync();
        log.LogInformation("status: inputs {Inputs}; buses {Buses}",
            string.Join(", ", s.Inputs.Select(i => $"{i.Key}={i.Value.State}")),
            string.Join(", ", s.Buses.Select(b => $"{b.Key}={b.Value.Output}/{b.Value.FramesOut} frames")));
    }
}
