using System.Collections.Concurrent;
using MixerWorker.Pipeline.Builders;
using MixerWorker.Pipeline.Interop;

namespace MixerWorker.Pipeline.Engine;

/// <summary>
/// The latest meter reading of every input and bus: an input's `level` messages arrive on the control
/// thread, a bus's <see cref="BusMeter"/> reads on its mixer's thread; read from any thread. A meter that
/// stopped reading (an input whose connection dropped sends no buffers, so its level element goes quiet)
/// reads as silence, not as its last value.
/// </summary>
internal sealed class AudioMeterBoard(TimeSpan staleAfter, Func<long>? clockMs = null)
{
    // Milliseconds on a monotonic clock; a test gives its own to read a meter's staleness without a race against the machine.
    private readonly Func<long> _now = clockMs ?? (static () => Environment.TickCount64);
    private readonly ConcurrentDictionary<string, Entry> _inputs = new(), _buses = new();

    private sealed record Entry(AudioLevel Level, long At, long Readings);

    /// <summary>
    /// Takes a reading from an input's or bus's meter (<see cref="ElementName.IsMeter"/>), if
    /// <paramref name="isCurrent"/> says that input or bus still exists (a late message from a removed
    /// one is dropped). Returns false for any other element.
    /// </summary>
    internal bool Record(string sourcePath, LevelReading reading, Func<ElementKind, string, bool> isCurrent)
    {
        if (ElementName.SourceOf(sourcePath) is not { IsMeter: true } meter || !isCurrent(meter.Kind, meter.Owner)) return false;
        Record(meter.Kind, meter.Owner, reading);
        return true;
    }

    /// <summary>Takes a reading of an input's or bus's meter; safe from any thread (a bus meters on its mixer's thread).</summary>
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
