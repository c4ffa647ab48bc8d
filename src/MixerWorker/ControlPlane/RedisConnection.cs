using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Polly;
using Polly.Retry;
using StackExchange.Redis;

namespace MixerWorker.ControlPlane;

/// <summary>
/// The process's one Redis connection, and the Polly pipeline every Redis round trip runs through.
/// StackExchange.Redis reconnects the socket and re-subscribes by itself; the pipeline makes the
/// callers wait for that with jittered backoff instead of failing or spinning.
/// </summary>
internal sealed class RedisConnection : IAsyncDisposable
{
    private readonly RedisOptions _options;
    private readonly ILogger<RedisConnection> _log;
    private readonly SemaphoreSlim _connectLock = new(1, 1);
    private ConnectionMultiplexer? _multiplexer;

    public RedisConnection(IOptions<RedisOptions> options, ILogger<RedisConnection> log)
    {
        _options = options.Value;
        _log = log;
        Keys = new RedisKeys(_options.Prefix);
        Resilience = new ResiliencePipelineBuilder().AddRetry(new RetryStrategyOptions
        {
            ShouldHandle = new PredicateBuilder()
                .Handle<RedisConnectionException>()
                .Handle<RedisTimeoutException>()
                // A restarted server answers LOADING until its data set is in memory.
                .Handle<RedisServerException>(e => e.Message.StartsWith("LOADING", StringComparison.Ordinal)),
            BackoffType = DelayBackoffType.Exponential,
            UseJitter = true,
            Delay = TimeSpan.FromMilliseconds(200),
            MaxDelay = TimeSpan.FromSeconds(5),
            MaxRetryAttempts = int.MaxValue,
            OnRetry = args =>
            {
                // One warning per outage; the exception message names the endpoint, never the password.
                if (args.AttemptNumber == 0)
                    _log.LogWarning("Redis at {Endpoint} unavailable ({Error}); retrying with backoff", _options.Describe(), FirstSentence(args.Outcome.Exception?.Message));
                return ValueTask.CompletedTask;
            },
        }).Build();
    }

    public RedisKeys Keys { get; }
    /// <summary>True while the connection is up (false before the first connect).</summary>
    public bool IsConnected => _multiplexer?.IsConnected == true;
    public ResiliencePipeline Resilience { get; }

    /// <summary>Raised when the connection comes back after a loss, so that callers can converge at once.</summary>
    public event Action? Restored;

    public async Task<IConnectionMultiplexer> GetAsync()
    {
        await _connectLock.WaitAsync();
        try
        {
            if (_multiplexer is not null) return _multiplexer;
            // With AbortOnConnectFail off this returns even when Redis is down and keeps connecting.
            _multiplexer = await ConnectionMultiplexer.ConnectAsync(_options.ToClientOptions());
            _multiplexer.ConnectionRestored += (_, e) =>
            {
                if (e.ConnectionType != ConnectionType.Interactive) return;
                _log.LogInformation("Redis connection to {Endpoint} restored", e.EndPoint);
                Restored?.Invoke();
            };
            _multiplexer.ConnectionFailed += (_, e) =>
            {
                if (e.ConnectionType == ConnectionType.Interactive)
                    _log.LogWarning("Redis connection to {Endpoint} lost: {Failure}", e.EndPoint, e.FailureType);
            };
            _log.LogInformation("Redis at {Endpoint}, key prefix {Prefix}", _options.Describe(), _options.Prefix);
            return _multiplexer;
        }
        finally { _connectLock.Release(); }
    }

    // The client appends a long diagnostic dump (thread pool, buffers) after the first ';'.
    private static string? FirstSentence(string? message) => message?.Split(';', 2)[0];

    public async ValueTask DisposeAsync()
    {
        if (_multiplexer is not null) await _multiplexer.DisposeAsync();
    }
}
