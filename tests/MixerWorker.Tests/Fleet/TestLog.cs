using Microsoft.Extensions.Logging;
using Xunit.Abstractions;

namespace MixerWorker.Tests.Fleet;

/// <summary>Logs of one in-process worker: to the test's output with the worker's id, and kept for assertions.</summary>
public sealed class TestLog(string worker, ITestOutputHelper output) : ILoggerProvider
{
    private readonly List<string> _lines = [];

    public IReadOnlyList<string> Lines { get { lock (_lines) return [.. _lines]; } }

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void Dispose() { }

    private void Write(LogLevel level, string category, string message, Exception? e)
    {
        var line = $"{DateTime.Now:HH:mm:ss.fff} [{worker}] {level.ToString()[..3].ToUpperInvariant()} {message}{(e is null ? "" : " " + e.GetType().Name + ": " + e.Message)}";
        lock (_lines) _lines.Add(line);
        try { output.WriteLine(line); } catch (InvalidOperationException) { /* the test has finished */ }
    }

    private sealed class Logger(TestLog log, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information && !(category.StartsWith("Microsoft", StringComparison.Ordinal) && logLevel < LogLevel.Warning);
        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel)) log.Write(logLevel, category, formatter(state, exception), exception);
        }
    }
}
