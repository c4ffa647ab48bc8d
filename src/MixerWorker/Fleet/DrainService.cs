using System.Diagnostics;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using MixerWorker.ControlPlane;
using StackExchange.Redis;

namespace MixerWorker.Fleet;

/// <summary>
/// SIGTERM (docker stop, scale-down, rolling update): the worker stops claiming, and hands every project
/// over make-before-break (<see cref="ProjectRuntime.HandOverAsync"/>) while everything else keeps running;
/// what no successor takes within the drain time is released, at once when no other live worker is left
/// to take it (the whole fleet stopping). Registered last, so the host stops it first.
/// </summary>
internal sealed class DrainService(
    ProjectRegistry registry,
    RedisConnection redis,
    FleetView fleet,
    IOptions<ShutdownOptions> shutdown,
    IOptions<WorkerOptions> worker,
    ILogger<DrainService> log) : IHostedService
{
    /// <summary>What the other services need after the drain to stop within SHUTDOWN__GRACESECONDS.</summary>
    public static readonly TimeSpan StopReserve = TimeSpan.FromSeconds(2);

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        registry.StartDraining();
        var held = registry.All.Where(r => r.HoldsLease).ToList();
        var preparing = registry.All.Where(r => r.Role == ProjectRole.Preparing).ToList();
        var timeout = TimeSpan.FromSeconds(Math.Max(1, shutdown.Value.GraceSeconds - StopReserve.TotalSeconds));
        log.LogInformation("draining: handing {Count} project(s) over (up to {Seconds:F0} s); taking no more", held.Count, timeout.TotalSeconds);
        var clock = Stopwatch.StartNew();
        using var noSuccessor = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var watch = held.Count == 0 ? Task.CompletedTask : WatchForSuccessorsAsync(held.Select(r => r.Project).ToList(), noSuccessor);
        try
        {
            await Task.WhenAll([
                .. held.Select(r => r.HandOverAsync(timeout, noSuccessor.Token)),
                .. preparing.Select(r => r.StopAsync(StopReason.Abandoned, "this worker is draining")),
            ]).WaitAsync(cancellationToken);
            log.LogInformation("drained in {Ms} ms", clock.ElapsedMilliseconds);
        }
        catch (OperationCanceledException)
        {
            log.LogWarning("drain cut short by the shutdown timeout after {Ms} ms", clock.ElapsedMilliseconds);
        }
        noSuccessor.Cancel();
        await watch;
    }

    // Cancels the wait for successors when no other live worker is left that is not draining itself,
    // unless a successor already prepares one of the projects: on a starved machine its heartbeat can
    // lapse while it builds, and releasing then would cost the show seconds of black.
    private async Task WatchForSuccessorsAsync(IReadOnlyList<string> projects, CancellationTokenSource noSuccessor)
    {
        while (!noSuccessor.IsCancellationRequested)
        {
            try
            {
                var db = (await redis.GetAsync()).GetDatabase();
                var others = (await fleet.ReadAsync(db)).Count(w => w.Id != worker.Value.Id && w.State != WorkerStates.Draining);
                var preparing = others == 0 && (await Task.WhenAll(projects.Select(p => db.KeyExistsAsync(redis.Keys.Successor(p))))).Any(x => x);
                if (others == 0 && !preparing)
                {
                    log.LogInformation("draining: no other live worker can take projects over; releasing them");
                    noSuccessor.Cancel();
                    return;
                }
            }
            catch (Exception e) when (e is RedisConnectionException or RedisTimeoutException) { }
            try { await Task.Delay(250, noSuccessor.Token); }
            catch (OperationCanceledException) { return; }
        }
    }
}
