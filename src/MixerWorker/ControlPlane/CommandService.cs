using System.Collections.Concurrent;
using System.Globalization;
using System.Threading.Channels;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using MixerWorker.Observability;
using MixerWorker.Pipeline.Scene;
using StackExchange.Redis;

namespace MixerWorker.ControlPlane;

/// <summary>
/// Reads the command stream (mixer:{p}:commands) of every project this worker holds, in order, one
/// reader per project, from the moment the project is on air here until it ends here.
/// A <c>command</c> message on the project's channel wakes its reader at once; without one the stream
/// is read every WORKER__COMMANDPOLLMS, so a writer that only XADDs is served too, a little later.
/// What one entry does is <see cref="CommandExecutor"/>'s job.
/// </summary>
internal sealed class CommandService : BackgroundService
{
    private readonly RedisConnection _redis;
    private readonly ProjectRegistry _registry;
    private readonly WorkerOptions _worker;
    private readonly ILogger<CommandService> _log;
    private readonly ConcurrentDictionary<string, Reader> _readers = new();
    private CancellationToken _stopping;
    private bool _started;

    public CommandService(RedisConnection redis, ProjectRegistry registry, IOptions<WorkerOptions> worker, ILogger<CommandService> log)
    {
        (_redis, _registry, _worker, _log) = (redis, registry, worker.Value, log);
        // Subscribed before any service starts, so that no project going on air is missed.
        registry.OnAir += OnStarted;
        registry.Ended += OnStopped;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var connection = await _redis.GetAsync();
        await _redis.Resilience.ExecuteAsync(async _ =>
            await connection.GetSubscriber().SubscribeAsync(_redis.Keys.AllEvents, OnEvent), stoppingToken);
        lock (_readers)
        {
            _stopping = stoppingToken;
            _started = true;
        }
        foreach (var runtime in _registry.All.Where(r => r.HoldsLease)) OnStarted(runtime);
        try { await Task.Delay(Timeout.Infinite, stoppingToken); }
        catch (OperationCanceledException) { }
        await Task.WhenAll(_readers.Values.Select(r => r.Loop));
    }

    private void OnEvent(RedisChannel channel, RedisValue message)
    {
        if (_redis.Keys.ProjectOf(channel) is { } project && _readers.TryGetValue(project, out var reader)
            && DesiredStateService.TypeOf(message.ToString()) == EventTypes.Command)
            reader.Wake.Writer.TryWrite(true);
    }

    private void OnStarted(ProjectRuntime runtime)
    {
        lock (_readers)
        {
            if (!_started || _stopping.IsCancellationRequested || _readers.ContainsKey(runtime.Project)) return;
            var reader = new Reader(runtime, CancellationTokenSource.CreateLinkedTokenSource(_stopping));
            _readers[runtime.Project] = reader;
            reader.Loop = Task.Run(() => ReadAsync(reader));
        }
    }

    private void OnStopped(ProjectRuntime runtime)
    {
        lock (_readers)
        {
            if (_readers.TryGetValue(runtime.Project, out var reader) && reader.Runtime == runtime)
            {
                _readers.TryRemove(runtime.Project, out _);
                reader.Stop.Cancel();
            }
        }
    }

    private async Task ReadAsync(Reader reader)
    {
        var token = reader.Stop.Token;
        var poll = TimeSpan.FromMilliseconds(_worker.CommandPollMs);
        while (!token.IsCancellationRequested)
        {
            try
            {
                await _redis.Resilience.ExecuteAsync(async _ => await reader.Runtime.DrainCommandsAsync(), token);
            }
            catch (OperationCanceledException) when (token.IsCancellationRequested) { break; }
            catch (Exception e)
            {
                _log.LogError(e, "project {Project}: reading commands failed", reader.Runtime.Project);
                await Task.Delay(poll * 4, token).ContinueWith(_ => { });
            }
            using var wait = CancellationTokenSource.CreateLinkedTokenSource(token);
            wait.CancelAfter(poll);
            try { await reader.Wake.Reader.ReadAsync(wait.Token); }
            catch (OperationCanceledException) { /* poll, or stopping */ }
        }
    }

    private sealed class Reader(ProjectRuntime runtime, CancellationTokenSource stop)
    {
        public ProjectRuntime Runtime { get; } = runtime;
        public CancellationTokenSource Stop { get; } = stop;
        public Channel<bool> Wake { get; } = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
        public Task Loop { get; set; } = Task.CompletedTask;
    }
}
