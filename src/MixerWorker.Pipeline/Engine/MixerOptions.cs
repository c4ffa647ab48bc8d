using MixerWorker.Pipeline.Encoding;
using MixerWorker.Pipeline.Srt;

namespace MixerWorker.Pipeline.Engine;

/// <summary>Per-process settings of the engine (the scene says what to mix; this says how).</summary>
public sealed record MixerOptions
{
    public MediaMtxConnection MediaMtx { get; init; } = new();
    public EncoderPreference Encoder { get; init; } = EncoderPreference.Auto;
    /// <summary>First and longest wait between reconnect attempts of an input or output (jittered, exponential).</summary>
    public TimeSpan ReconnectInitialDelay { get; init; } = TimeSpan.FromMilliseconds(250);
    public TimeSpan ReconnectMaxDelay { get; init; } = TimeSpan.FromSeconds(5);
    /// <summary>
    /// How often an input whose path has no publisher is asked again (jittered ±20 %), instead of the
    /// growing backoff: the hub answers such a read at once, so a returning feed is back within about
    /// this long plus its next keyframe. Zero: the backoff applies to it too.
    /// </summary>
    public TimeSpan ReconnectProbeInterval { get; init; } = TimeSpan.FromMilliseconds(500);
    /// <summary>An input that sends no data for this long is treated as lost and shows the slate (host: STALL__INPUTTIMEOUTMS).</summary>
    public TimeSpan InputStallTimeout { get; init; } = TimeSpan.FromSeconds(2);
    /// <summary>
    /// A bus none of whose pictures leave its muxer for this long, while the other buses go on, is
    /// stalled and rebuilt (<see cref="BusStallWatch"/>; a bus below 15 fps gets twice its longest
    /// shedding gap if that is longer). Longer than any gap a working bus was measured to leave under
    /// deep starvation (1.8 s), and than its deliberate ones (0.57 s at 30 fps, shed to one frame in 15).
    /// Host: STALL__BUSTIMEOUTMS.
    /// </summary>
    public TimeSpan BusStallTimeout { get; init; } = TimeSpan.FromSeconds(5);
    /// <summary>How long a connected input may take to deliver its first frame.</summary>
    public TimeSpan FirstFrameTimeout { get; init; } = TimeSpan.FromSeconds(6);
    /// <summary>
    /// How much later than its place on the mixer's timeline an input frame may leave its decoder
    /// and still be shown (the inputs' jitter buffer): every input declares it as its latency, and
    /// every bus waits for it. See docs/architecture.md, "Live timing".
    /// </summary>
    public TimeSpan InputJitter { get; init; } = TimeSpan.FromMilliseconds(60);
    /// <summary>What a bus allows itself on top of <see cref="InputJitter"/> to scale and composite the boxes of a frame.</summary>
    public TimeSpan MixerLatency { get; init; } = TimeSpan.FromMilliseconds(30);
    /// <summary>Where graphics layers' files are; a layer can never name a file outside it. Null: graphics are refused.</summary>
    public string? GraphicsDirectory { get; init; }
    /// <summary>How often each bus's thumbnail is taken (JPEG of the mixed picture); zero: no thumbnails.</summary>
    public TimeSpan ThumbnailInterval { get; init; } = TimeSpan.FromSeconds(1);
    /// <summary>The thumbnails' width in pixels (the bus's aspect; never wider than the bus).</summary>
    public int ThumbnailWidth { get; init; } = 320;

    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>(MediaMtx.Validate());
        if (ReconnectInitialDelay <= TimeSpan.Zero || ReconnectMaxDelay < ReconnectInitialDelay)
            errors.Add("reconnect delays must be positive, the maximum at least the initial one");
        if (ReconnectProbeInterval < TimeSpan.Zero || ReconnectProbeInterval > TimeSpan.FromMinutes(1))
            errors.Add("the reconnect probe interval must be 0 (off) to 60000 ms");
        // Below these an input's or a working bus's ordinary gaps would count as stalls; above, a stall would be no news.
        if (InputStallTimeout < TimeSpan.FromMilliseconds(200) || InputStallTimeout > TimeSpan.FromMinutes(1))
            errors.Add("the input stall timeout must be 200-60000 ms (STALL__INPUTTIMEOUTMS)");
        if (BusStallTimeout < TimeSpan.FromSeconds(1) || BusStallTimeout > TimeSpan.FromMinutes(5))
            errors.Add("the bus stall timeout must be 1000-300000 ms (STALL__BUSTIMEOUTMS)");
        if (GraphicsDirectory is not null && !Directory.Exists(GraphicsDirectory))
            errors.Add($"the graphics directory '{GraphicsDirectory}' does not exist (GRAPHICS__DIRECTORY)");
        if (MixerLatency < TimeSpan.Zero || MixerLatency > TimeSpan.FromSeconds(2)) errors.Add("mixer latency must be 0-2000 ms (TIMING__MIXERLATENCYMS)");
        if (InputJitter < TimeSpan.Zero || InputJitter > TimeSpan.FromSeconds(2)) errors.Add("input jitter allowance must be 0-2000 ms (TIMING__INPUTJITTERMS)");
        if (ThumbnailInterval != TimeSpan.Zero && (ThumbnailInterval < TimeSpan.FromMilliseconds(100) || ThumbnailInterval > TimeSpan.FromMinutes(1)))
            errors.Add("the thumbnail interval must be 0 (off) or 100-60000 ms (THUMBNAILS__INTERVALMS)");
        if (ThumbnailWidth is < 16 or > 1920) errors.Add("the thumbnail width must be 16-1920 pixels (THUMBNAILS__WIDTH)");
        return errors;
    }
}
