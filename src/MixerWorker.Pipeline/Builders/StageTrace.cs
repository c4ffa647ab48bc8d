using System.Collections.Concurrent;
using System.Globalization;

namespace MixerWorker.Pipeline.Builders;

/// <summary>
/// When each picture and block of sound passed each stage of the engine, for the latency bench
/// (bench/latency.sh STAGES=1, bench/stage-trace.py): with MIXERWORKER_STAGE_TRACE=PREFIX set, a line
/// per buffer and stage goes to PREFIX.PID: <c>stage where running-time-ns now-ns duration-ns</c>, now
/// being the pipeline's running time when the buffer passed. Off (the variable unset) every stage costs
/// one static read, and no probe is added for the trace alone. The streaming threads only queue a line;
/// a thread of its own writes them, so the trace never makes a streaming thread wait for the disk.
/// Nothing of it goes to the logs.
/// </summary>
internal static class StageTrace
{
    internal const string Variable = "MIXERWORKER_STAGE_TRACE";

    private readonly record struct Entry(string Stage, string Where, ulong RunningTime, ulong Now, long Duration);

    private static readonly ConcurrentQueue<Entry>? s_queue;

    /// <summary>Whether the trace is on: the probes that exist only for it are added, and <see cref="Note"/> writes.</summary>
    internal static bool On => s_queue is not null;

    static StageTrace()
    {
        if (Environment.GetEnvironmentVariable(Variable) is not { Length: > 0 } prefix) return;
        s_queue = new ConcurrentQueue<Entry>();
        var writer = new StreamWriter($"{prefix}.{Environment.ProcessId}") { AutoFlush = false };
        var queue = s_queue;
        void Drain()
        {
            lock (writer)
            {
                while (queue.TryDequeue(out var e))
                    writer.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{e.Stage} {e.Where} {e.RunningTime} {e.Now} {e.Duration}"));
                writer.Flush();
            }
        }
        new Thread(() =>
        {
            while (true)
            {
                Thread.Sleep(200);
                Drain();
            }
        }) { IsBackground = true, Name = "stage trace", Priority = ThreadPriority.BelowNormal }.Start();
        AppDomain.CurrentDomain.ProcessExit += (_, _) => Drain();
    }

    /// <summary>A buffer of <paramref name="runningTime"/> passed <paramref name="stage"/> of <paramref name="where"/> (a bus, an input, a mix chain) at <paramref name="now"/>. Any thread.</summary>
    internal static void Note(string stage, string where, ulong runningTime, ulong now, long duration = 0) =>
        s_queue?.Enqueue(new Entry(stage, where, runningTime, now, duration));
}
