using Microsoft.Extensions.Logging;
using MixerWorker.Pipeline.Srt;
using Polly;
using Polly.Retry;

namespace MixerWorker.Pipeline.Engine;

/// <summary>Held: an output that may not connect now (its worker does not hold the project's lease).</summary>
public enum ConnectionState { Connecting, Connected, Retrying, Stopped, Held }

/// <summary>
/// Keeps one SRT connection (an input's source or a bus's output) alive: connect, wait until it is
/// ready, wait until it ends, tear down, back off with jitter, again. Backoff is Polly's; the
/// pipeline work itself runs on the control thread through <paramref name="open"/> and <paramref name="close"/>.
/// </summary>
internal sealed class ConnectionSupervisor(
    string what,
    MixerOptions options,
    ILogger logger,
    Func<Task<ConnectionSession>> open,
    Func<ConnectionSession, Task> close,
    Action<ConnectionState, string?> report,
    TimeSpan readyTimeout,
    PublishGate? gate = null) : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private CancellationTokenSource _wait = new();
    private Task? _loop;
    private int _attempts;

    private int _dataFaults;
    private FailureKind? _lastKind;

    internal ConnectionSession? Current { get; private set; }

    // An element can fail before Current names its session: open() has finished its pipeline work
    // and the bus has posted the error, but this loop has not yet run on. Kept here for that session.
    private readonly Lock _failLock = new();
    private (int Generation, string Reason)? _earlyFailure;

    /// <summary>Ends the session of connection <paramref name="generation"/> (an element of it failed); any thread.</summary>
    internal void Fail(int generation, string reason)
    {
        lock (_failLock)
        {
            if (Current is { } s && s.Generation == generation) s.Fail(reason);
            else if (Current is null || Current.Generation < generation) _earlyFailure = (generation, reason);
        }
    }
    internal int Attempts => Volatile.Read(ref _attempts);
    /// <summary>Connections that worked but carried nothing decodable.</summary>
    internal int DataFaults => Volatile.Read(ref _dataFaults);

    private ResiliencePipeline BuildRetry(CancellationToken waitToken) => new ResiliencePipelineBuilder()
        .AddRetry(new RetryStrategyOptions
        {
            ShouldHandle = new PredicateBuilder().Handle<ConnectionFailedException>(),
            MaxRetryAttempts = int.MaxValue,
            BackoffType = DelayBackoffType.Exponential,
            UseJitter = true,
            Delay = options.ReconnectInitialDelay,
            MaxDelay = options.ReconnectMaxDelay,
            // A hub that says at once "nothing published there" is asked again soon (the feed may be
            // back any moment, and the question is cheap); anything else backs off exponentially.
            DelayGenerator = args => ValueTask.FromResult<TimeSpan?>(
                args.Outcome.Exception is ConnectionFailedException { Kind: FailureKind.NothingPublished } && options.ReconnectProbeInterval > TimeSpan.Zero
                    ? options.ReconnectProbeInterval * (0.8 + 0.4 * Random.Shared.NextDouble())
                    : null),
            OnRetry = args =>
            {
                var reason = args.Outcome.Exception?.Message;
                report(ConnectionState.Retrying, reason);
                var kind = (args.Outcome.Exception as ConnectionFailedException)?.Kind ?? FailureKind.Connection;
                if (kind == FailureKind.Undecodable) Interlocked.Increment(ref _dataFaults);
                // Undecodable data or an empty path will not change by being told again: each is said
                // once (undecodable data as an error), and the retries that follow stay quiet until something changes.
                var repeated = kind != FailureKind.Connection && kind == _lastKind;
                _lastKind = kind;
                if (repeated)
                    logger.LogDebug("{What}: still failing ({Reason}); retry {Attempt} in {Delay:F1} s", what, reason, args.AttemptNumber + 1, args.RetryDelay.TotalSeconds);
                else if (kind == FailureKind.Undecodable)
                    logger.LogError("{Reason}; retrying quietly", reason);
                else
                    logger.LogWarning("{What}: connection failed ({Reason}); retry {Attempt} in {Delay:F1} s",
                        what, reason, args.AttemptNumber + 1, args.RetryDelay.TotalSeconds);
                return default;
            },
        })
        .Build();

    internal void Start() => _loop = Task.Run(RunAsync);

    /// <summary>Skips the current backoff wait and connects at once (e.g. the feed was announced online).</summary>
    internal void ConnectNow()
    {
        Volatile.Write(ref _forced, 1);
        try { _wait.Cancel(); } catch (ObjectDisposedException) { /* between attempts: nothing to skip */ }
    }

    private volatile bool _paused;
    private int _forced;

    /// <summary>
    /// Paused: after a failure, wait for <see cref="ConnectNow"/> instead of retrying (the peer said the
    /// stream is gone); each ConnectNow makes one attempt. Unpausing connects at once.
    /// </summary>
    internal bool Paused
    {
        get => _paused;
        set
        {
            if (_paused == value) return;
            _paused = value;
            if (!value) ConnectNow();
        }
    }

    private async Task RunAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            using var wait = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
            _wait = wait;
            try
            {
                var session = await BuildRetry(wait.Token).ExecuteAsync(ConnectOnceAsync, wait.Token);
                report(ConnectionState.Connected, null);
                _lastKind = null;
                logger.LogInformation("{What}: connected", what);
                var reason = await session.Ended.WaitAsync(_stop.Token);
                logger.LogWarning("{What}: connection lost: {Reason}", what, reason);
                report(ConnectionState.Retrying, reason);
                await close(session);
                Current = null;
            }
            catch (OperationCanceledException) when (!_stop.IsCancellationRequested)
            {
                // ConnectNow: start over without waiting out the backoff.
            }
            catch (OperationCanceledException) { break; }
            catch (Exception e)
            {
                logger.LogError(e, "{What}: supervisor failed", what);
                await Task.Delay(options.ReconnectMaxDelay, _stop.Token).ContinueWith(_ => { });
            }
        }
    }

    private async ValueTask<ConnectionSession> ConnectOnceAsync(CancellationToken token)
    {
        if (Current is { } stale) { await close(stale); Current = null; }
        if (_paused && Interlocked.Exchange(ref _forced, 0) == 0) await Task.Delay(Timeout.Infinite, token);
        Interlocked.Exchange(ref _forced, 0);
        if (gate is { IsOpen: false })
        {
            report(ConnectionState.Held, null);
            logger.LogInformation("{What}: held until this worker may publish", what);
            await gate.WaitOpenAsync(token);
        }
        Interlocked.Increment(ref _attempts);
        report(ConnectionState.Connecting, null);
        var session = await open();
        lock (_failLock)
        {
            Current = session;
            if (_earlyFailure is { } early && early.Generation == session.Generation) session.Fail(early.Reason);
            _earlyFailure = null;
        }
        try
        {
            // Failed before it was watched (data may already have flowed, so it may even look ready): a
            // failed attempt like any other, retried after the backoff, not at once.
            if (!session.HasEnded)
            {
                await session.Ready.WaitAsync(readyTimeout, token);
                return session;
            }
        }
        catch (TimeoutException)
        {
            if (session.ExplainNotReady?.Invoke(readyTimeout) is { } undecodable) session.Fail(undecodable, FailureKind.Undecodable);
            else session.Fail($"not ready within {readyTimeout.TotalSeconds:F0} s");
        }
        catch (OperationCanceledException)
        {
            session.Fail("cancelled");
            await close(session);
            Current = null;
            throw;
        }
        catch (ConnectionFailedException) { }
        await close(session);
        Current = null;
        throw new ConnectionFailedException(session.Ended.Result, session.Kind);
    }

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        if (_loop is not null) await _loop;
        if (Current is { } s) { s.Fail("stopped"); await close(s); Current = null; }
        report(ConnectionState.Stopped, null);
        _stop.Dispose();
    }
}
