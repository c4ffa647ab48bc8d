
namespace MixerWorker.Pipeline.Scene;

// The scene: what a project should look like on every bus. Plain data, free of GStreamer, so the
// control plane can store, diff and validate it without a media stack.

/// <summary>A project's whole desired state: its inputs and its buses.</summary>
public sealed record SceneDefinition
{
    public required string Project { get; init; }
    /// <summary>Monotonic revision set by the control plane; the engine only reports it back.</summary>
    public long Revision { get; init; }
    public IReadOnlyList<InputDefinition> Inputs { get; init; } = [];
    public IReadOnlyList<BusDefinition> Buses { get; init; } = [];

    public InputDefinition? FindInput(string name) => Inputs.FirstOrDefault(i => i.Name == name);
    public BusDefinition? FindBus(string name) => Buses.FirstOrDefault(b => b.Name == name);
}

/// <summary>A feed published to MediaMTX at ingest/&lt;project&gt;/&lt;name&gt;.</summary>
public sealed record InputDefinition
{
    public required string Name { get; init; }
    /// <summary>Applied once where the input is decoded, so every bus hears the same level.</summary>
    public double GainDb { get; init; }
    public bool Muted { get; init; }
    /// <summary>Audio delay for lip-sync (0–1000 ms).</summary>
    public int DelayMs { get; init; }
}

public sealed record BusDefinition
{
    /// <summary>program or aux1..aux7; the output is published at out/&lt;project&gt;/&lt;name&gt;.</summary>
    public required string Name { get; init; }
    /// <summary>A disabled bus is not built at all and costs nothing.</summary>
    public bool Enabled { get; init; } = true;
    public BusKind Kind { get; init; } = BusKind.Composition;
    public OutputFormat Format { get; init; } = new();
    /// <summary>On air: boxes drawn over the background; an empty layout shows the background only.</summary>
    public IReadOnlyList<Box> Layout { get; init; } = [];
    /// <summary>On air, by preset; when set, <see cref="Layout"/> must be empty.</summary>
    public LayoutPreset? Preset { get; init; }
    /// <summary>The next shot, taken on air by cut or auto.</summary>
    public Shot? Preview { get; init; }
    /// <summary>The transition auto uses when the command names none.</summary>
    public TransitionSpec Transition { get; init; } = new();
    public bool FadedToBlack { get; init; }
    /// <summary>Up to four overlay layers above the video, the first lowest.</summary>
    public IReadOnlyList<GraphicLayer> Graphics { get; init; } = [];
    /// <summary>What the bus hears. Null: audio follows video (the inputs visible on air, at unity gain).</summary>
    public AudioMix? Audio { get; init; }
    public Background Background { get; init; } = Background.Black;

    /// <summary>
    /// The inputs heard on this bus at rest: a fixed mix's sources with their gains, or, following
    /// video, every input visible on air (alpha above zero) at unity gain. Transitions are
    /// <see cref="AudioPlan.Gains"/>'s business.
    /// </summary>
    public IReadOnlyList<AudioSource> HeardInputs() =>
        Audio is { Mode: AudioMode.Fixed } mix
            ? mix.Sources ?? []
            : this.ProgramBoxes().Where(b => b.Alpha > 0).Select(b => b.Source).Distinct().Select(s => new AudioSource { Input = s }).ToList();
}

public sealed record OutputFormat
{
    public int Width { get; init; } = 1280;
    public int Height { get; init; } = 720;
    public int Fps { get; init; } = 30;
    public int VideoBitrateKbps { get; init; } = 2500;
    /// <summary>Keyframe interval. Short, because WHEP and SRT readers start at the next keyframe.</summary>
    public double GopSeconds { get; init; } = 1.0;
    /// <summary>Opus by default: WHEP viewers get no AAC.</summary>
    public AudioCodec AudioCodec { get; init; } = AudioCodec.Opus;
    public int AudioBitrateKbps { get; init; } = 128;

    public int GopFrames => Math.Max(1, (int)Math.Round(GopSeconds * Fps));
}

public enum AudioCodec { Opus, Aac }

public enum Background { Black, White, Checker }

public enum Fit
{
    /// <summary>Keep the source's aspect ratio inside the box, with black bars.</summary>
    Contain,
    /// <summary>Stretch the source to the box.</summary>
    Fill,
}

/// <summary>One source drawn in a rectangle of the bus's frame, in output pixels.</summary>
public sealed record Box
{
    public required string Source { get; init; }
    public int X { get; init; }
    public int Y { get; init; }
    public required int Width { get; init; }
    public required int Height { get; init; }
    public Crop? Crop { get; init; }
    public double Alpha { get; init; } = 1.0;
    /// <summary>Higher is drawn above; equal values keep the layout's order.</summary>
    public int Z { get; init; }
    public Fit Fit { get; init; } = Fit.Contain;
}

/// <summary>Pixels removed from each edge of the source before scaling.</summary>
public sealed record Crop
{
    public int Left { get; init; }
    public int Top { get; init; }
    public int Right { get; init; }
    public int Bottom { get; init; }
}

public sealed record AudioMix
{
    public AudioMode Mode { get; init; } = AudioMode.Fixed;
    /// <summary>The fixed mix; ignored when following video.</summary>
    public IReadOnlyList<AudioSource> Sources { get; init; } = [];
    public double MasterGainDb { get; init; }
    /// <summary>A limiter after the master gain so the output never clips.</summary>
    public bool Limiter { get; init; } = true;
}

public sealed record AudioSource
{
    public required string Input { get; init; }
    public double GainDb { get; init; }
}
