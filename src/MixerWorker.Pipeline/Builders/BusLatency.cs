using MixerWorker.Pipeline.Interop;

namespace MixerWorker.Pipeline.Builders;

/// <summary>
/// How long a bus's mixers (compositor, audiomixer) wait past a frame's running time before they
/// make it with whatever arrived: the inputs' jitter allowance, which every input also declares as
/// its latency (<see cref="Sources.InputBranch"/>), plus the bus's own processing headroom.
/// </summary>
internal readonly record struct BusLatency(TimeSpan InputJitter, TimeSpan Processing)
{
    internal TimeSpan Total => InputJitter + Processing;

    /// <summary>
    /// The jitter goes in as the least upstream latency, so the deadline is the same before any
    /// input has connected as after (a deadline that moved later when the first input arrived would
    /// stall the output once); the headroom is the aggregator's own latency.
    /// </summary>
    internal void ApplyTo(Element aggregator)
    {
        aggregator.Set("min-upstream-latency", ClockTime.FromTimeSpan(InputJitter));
        aggregator.Set("latency", ClockTime.FromTimeSpan(Processing));
    }
}
