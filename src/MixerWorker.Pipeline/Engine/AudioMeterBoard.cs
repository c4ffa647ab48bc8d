using System.Collections.Concurrent;
using MixerWorker.Pipeline.Builders;
using MixerWorker.Pipeline.Interop;

namespace MixerWorker.Pipeline.Engine;

/// <summary>
/// The latest meter reading of every input and bus, each written by its <see cref="SoundMeter"/> on the
/// streaming thread that carries its sound (an input's, a bus's mixer's); read from any thread. A meter
/// that stopped reading (an input whose connection dropped sends no buffers, so its meter goes quiet)
/// reads as silence, not as its last value.
/// </summary>
internal sealed class AudioMeterBoard(TimeSpan staleAfter, Func<long>? clockMs = null)
{
    // Milliseconds on a monotonic clock; a test gives its own to read a meter's staleness without a race against the machine.
    private readonly Func<long> _now = clockMs ?? (static () => Environment.TickCount64);
    private readonly ConcurrentDictionary<string, Entry> _inputs = new(), _buses = new();

    private sealed record Entry(AudioLevel Level, long At, long Readings);

    /// <summary>
    /// Takes a reading of an input's or bus's meter; safe from any thread. The meter's owner ends its
    /// readings (its branch disposed, its streaming thread out of the probe) before it is forgotten.
    /// </summary>
    internal void Record(ElementKind kind, string name, LevelReading reading)
    {
        var level = new AudioLevel(reading.PeakDb, reading.RmsDb);
        var now = _now();
        Of(kind).AddOrUpdate(name, _ => new Entry(level, now, 1), (_, e) => new Entry(level, now, e.Readings + 1));
    }

    internal void Forget(ElementKind kind, string name) => Of(kind).TryRemove(name, out _);

    internal AudioMeters Snapshot() => new(Read(_inputs), Read(_buses));

    /// <summary>How many readings an input or bus has had, for tests of the rate.</summary>
    internal long Readings(ElementKind kind, string name) => Of(kind).TryGetValue(name, out var e) ? e.Readings : 0;

    private ConcurrentDictionary<string, Entry> Of(ElementKind kind) => kind == ElementKind.Input ? _inputs : _buses;

    private IReadOnlyDictionary<string, AudioLevel> Read(ConcurrentDictionary<string, Entry> meters)
    {
        var now = _now();
        return meters.ToDictionary(m => m.Key, m => now - m.Value.At > staleAfter.TotalMilliseconds ? AudioLevel.Silence : m.Value.Level);
    }
}
