using System.Text.Json.Serialization;

namespace MixerWorker.Pipeline.Scene;

// The vision-mixer vocabulary: shots (what a bus shows), transitions, operator commands and the
// per-frame picture of a bus in the middle of a transition. Plain data and pure functions, free of
// GStreamer: the engine asks "what does bus X look like at progress p" and carries it out per frame.

/// <summary>What a bus shows: a layout preset expanded against the bus's format, or free boxes.</summary>
public sealed record Shot
{
    /// <summary>When set, <see cref="Boxes"/> must be empty; the boxes come from the preset.</summary>
    public LayoutPreset? Preset { get; init; }
    public IReadOnlyList<Box> Boxes { get; init; } = [];
}

public enum PresetKind { Single, Pip, SideBySide, Grid2x2, Grid3x3 }

public enum Corner { TopLeft, TopRight, BottomLeft, BottomRight }

/// <summary>
/// A layout by name. <see cref="Sources"/> fill the preset's slots in order: single 1, pip 2 (main,
/// inset), side-by-side 2, grid2x2 up to 4, grid3x3 up to 9 (missing slots stay empty).
/// </summary>
public sealed record LayoutPreset
{
    public required PresetKind Kind { get; init; }
    public IReadOnlyList<string> Sources { get; init; } = [];
    /// <summary>Picture-in-picture: where the inset sits.</summary>
    public Corner Corner { get; init; } = Corner.BottomRight;
    /// <summary>Picture-in-picture: inset width as a fraction of the frame width (0.1–0.6).</summary>
    public double Size { get; init; } = 0.3;
    /// <summary>Gap in output pixels between boxes and the frame edge (pip) or between cells (grids).</summary>
    public int Margin { get; init; } = 0;
    /// <summary>Contain keeps the aspect ratio (letterbox/pillarbox), fill stretches.</summary>
    public Fit Fit { get; init; } = Fit.Contain;
}

public enum TransitionKind
{
    /// <summary>Instant, on the next frame.</summary>
    Cut,
    /// <summary>Dissolve: the incoming shot's alpha goes 0→1 over the outgoing one.</summary>
    Mix,
    /// <summary>Outgoing fades to <see cref="TransitionSpec.Color"/>, then the incoming fades in from it.</summary>
    Dip,
    /// <summary>The incoming shot is revealed behind a moving edge; the picture itself does not move.</summary>
    Wipe,
    /// <summary>The incoming shot slides in and pushes the outgoing one out.</summary>
    Push,
    /// <summary>Boxes of the same source glide from their old to their new rectangle; others fade.</summary>
    Move,
}

/// <summary>Direction of travel of the edge (wipe) or of the pictures (push).</summary>
public enum Direction { Left, Right, Up, Down }

public enum DipColor { Black, White }

public sealed record TransitionSpec
{
    public TransitionKind Kind { get; init; } = TransitionKind.Mix;
    public int DurationMs { get; init; } = 500;
    public Direction Direction { get; init; } = Direction.Right;
    public DipColor Color { get; init; } = DipColor.Black;

    public static readonly TransitionSpec Cut = new() { Kind = TransitionKind.Cut, DurationMs = 0 };
}

/// <summary>A PNG or SVG from the graphics directory drawn above the video of a bus.</summary>
public sealed record GraphicLayer
{
    /// <summary>A file name relative to the graphics directory; absolute paths and ".." are refused.</summary>
    public required string File { get; init; }
    public int X { get; init; }
    public int Y { get; init; }
    /// <summary>0 keeps the image's own size.</summary>
    public int Width { get; init; }
    public int Height { get; init; }
    public double Opacity { get; init; } = 1.0;
    public bool Visible { get; init; }
    /// <summary>Fade in/out time used when <see cref="Visible"/> changes.</summary>
    public int FadeMs { get; init; } = 300;
}

public enum BusKind
{
    /// <summary>Program/preview with layouts and transitions.</summary>
    Composition,
    /// <summary>Every input in a grid, labelled, with tally borders and Program/Preview tiles.</summary>
    Multiview,
}

public enum AudioMode
{
    /// <summary>The inputs visible on air are heard, crossfaded with the video transition.</summary>
    FollowVideo,
    /// <summary>The inputs listed in <see cref="AudioMix.Sources"/> at their own levels.</summary>
    Fixed,
}

// ---- Operator commands ----------------------------------------------------------------------

/// <summary>
/// An operator command. Commands are reduced against the scene by <c>ShowReducer</c>: the result is
/// the next scene (what stays true after the command) plus, for animated commands, how to get there.
/// <see cref="Id"/> makes a command idempotent: a command whose id was already applied is ignored.
/// </summary>
[JsonPolymorphic(TypeDiscriminatorPropertyName = "type", UnknownDerivedTypeHandling = JsonUnknownDerivedTypeHandling.FailSerialization)]
[JsonDerivedType(typeof(CutCommand), "cut")]
[JsonDerivedType(typeof(AutoCommand), "auto")]
[JsonDerivedType(typeof(FadeToBlackCommand), "fadeToBlack")]
[JsonDerivedType(typeof(SetPreviewCommand), "setPreview")]
[JsonDerivedType(typeof(SetLayoutCommand), "setLayout")]
[JsonDerivedType(typeof(GraphicsCommand), "graphics")]
[JsonDerivedType(typeof(InputAudioCommand), "inputAudio")]
[JsonDerivedType(typeof(BusAudioCommand), "busAudio")]
public abstract record ShowCommand
{
    public string? Id { get; init; }
}

/// <summary>Preview goes on air on the next frame; what was on air becomes the preview.</summary>
public sealed record CutCommand : ShowCommand { public required string Bus { get; init; } }

/// <summary>Preview goes on air through a transition (the bus's default when none is given).</summary>
public sealed record AutoCommand : ShowCommand
{
    public required string Bus { get; init; }
    public TransitionSpec? Transition { get; init; }
}

/// <summary>Toggles fade to black of a bus.</summary>
public sealed record FadeToBlackCommand : ShowCommand
{
    public required string Bus { get; init; }
    public int DurationMs { get; init; } = 1000;
}

public sealed record SetPreviewCommand : ShowCommand
{
    public required string Bus { get; init; }
    public required Shot Shot { get; init; }
}

/// <summary>Changes what is on air directly; with a Move transition the boxes glide.</summary>
public sealed record SetLayoutCommand : ShowCommand
{
    public required string Bus { get; init; }
    public required Shot Shot { get; init; }
    public TransitionSpec? Transition { get; init; }
}

public sealed record GraphicsCommand : ShowCommand
{
    public required string Bus { get; init; }
    /// <summary>Index into the bus's <see cref="BusDefinition.Graphics"/> (0–3).</summary>
    public required int Layer { get; init; }
    public required bool Visible { get; init; }
}

/// <summary>Changes an input's audio; null fields are left as they are.</summary>
public sealed record InputAudioCommand : ShowCommand
{
    public required string Input { get; init; }
    public double? GainDb { get; init; }
    public bool? Muted { get; init; }
    public int? DelayMs { get; init; }
}

/// <summary>Changes a bus's audio; null fields are left as they are.</summary>
public sealed record BusAudioCommand : ShowCommand
{
    public required string Bus { get; init; }
    public AudioMode? Mode { get; init; }
    public double? MasterGainDb { get; init; }
    /// <summary>Replaces the fixed mix's sources when set.</summary>
    public IReadOnlyList<AudioSource>? Sources { get; init; }
}

/// <summary>
/// The outcome of one command: the scene to run from now on and, per bus, the animation that gets
/// there. A bus without an animation switches on the next frame.
/// </summary>
public sealed record ShowStep(SceneDefinition Next, IReadOnlyDictionary<string, BusAnimation> Animations)
{
    /// <summary>
    /// Per bus whose <see cref="BusDefinition.FadedToBlack"/> this step toggled, how long the black
    /// veil takes to reach its new state. Not a layout change, so it is not one of <see cref="Animations"/>.
    /// </summary>
    public IReadOnlyDictionary<string, int> FadeToBlackMs { get; init; } = new Dictionary<string, int>();

    /// <summary>Buses whose running transition ends now, on its final picture (a cut during a transition).</summary>
    public IReadOnlySet<string> FinishTransitions { get; init; } = new HashSet<string>();
}

/// <summary>How one bus moves from <see cref="From"/> to <see cref="To"/>.</summary>
public sealed record BusAnimation(BusDefinition From, BusDefinition To, TransitionSpec Transition)
{
    public TimeSpan Duration => TimeSpan.FromMilliseconds(Math.Max(0, Transition.DurationMs));
}

// ---- What one frame of a bus looks like --------------------------------------------------------

/// <summary>Which side of a transition a box belongs to, and its index in that side's boxes.</summary>
public enum Side { From, To }

public readonly record struct BoxKey(Side Side, int Index);

/// <summary>
/// One box as drawn in one frame. <see cref="Box"/> is the box as defined (its size is what the
/// engine scales the source to); X/Y/Width/Height are where it is drawn in this frame (they differ
/// from the box during a Move or Push: a box that glides in a Move keeps its From key and its From
/// box, and X/Y/Width/Height are the size it is drawn at); <see cref="Clip"/> is cut off the drawn
/// rectangle, in output pixels, for wipes; Z orders boxes across both sides (higher is drawn above).
/// </summary>
public sealed record PlacedBox(BoxKey Key, Box Box, int X, int Y, int Width, int Height, Crop Clip, double Alpha, int Z);

/// <summary>
/// A bus at one instant: its boxes, and a full-frame veil of <see cref="VeilColor"/> drawn above
/// the video (dip to colour) at <see cref="VeilAlpha"/>. Fade to black is a second veil applied by
/// the engine above graphics, so it is not part of this picture.
/// </summary>
public sealed record ComposedFrame(IReadOnlyList<PlacedBox> Boxes, double VeilAlpha, DipColor VeilColor);

/// <summary>Which inputs are on air and in preview, per bus. During a transition both sides are on air.</summary>
/// <remarks>Equality compares contents, so a change notification can be sent only when something changed.</remarks>
public sealed record TallyState(IReadOnlyDictionary<string, BusTally> Buses)
{
    public bool IsOnAir(string bus, string input) => Buses.TryGetValue(bus, out var b) && b.OnAir.Contains(input);

    public bool Equals(TallyState? other) =>
        other is not null && Buses.Count == other.Buses.Count &&
        Buses.All(kv => other.Buses.TryGetValue(kv.Key, out var b) && Equals(kv.Value, b));

    public override int GetHashCode() => Buses.Count;
}

/// <summary>
/// <see cref="OnAir"/> and <see cref="Preview"/> are sorted. A bus faded to black still lists what
/// it has on air; <see cref="FadedToBlack"/> says the viewer sees black.
/// </summary>
// FadedToBlack is a constructor parameter, not an init-only property beside them: the generated JSON contract reads
// such a mixed record through one constructor call and words a bad value differently (JsonContractTests).
public sealed record BusTally(IReadOnlyList<string> OnAir, IReadOnlyList<string> Preview, bool FadedToBlack = false)
{
    public bool Equals(BusTally? other) =>
        other is not null && FadedToBlack == other.FadedToBlack && OnAir.SequenceEqual(other.OnAir) && Preview.SequenceEqual(other.Preview);

    public override int GetHashCode() => HashCode.Combine(OnAir.Count, Preview.Count, FadedToBlack);
}

/// <summary>One tile of a multiview, in output pixels.</summary>
public sealed record MultiviewTile(MultiviewTileKind Kind, string? Input, string Label, int X, int Y, int Width, int Height);

public enum MultiviewTileKind { Input, Program, Preview }
