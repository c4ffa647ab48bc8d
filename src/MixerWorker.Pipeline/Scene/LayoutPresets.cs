namespace MixerWorker.Pipeline.Scene;

/// <summary>
/// Expands layout presets into boxes. Sizes are even (I420 chroma is subsampled by two, so odd sizes
/// smear an edge) and every box lies inside the frame. With <see cref="Fit.Contain"/> each box has
/// the frame's aspect ratio, centred in its slot: a Move between presets then scales pictures
/// uniformly instead of squashing them, and the engine letterboxes other aspects inside the box.
/// </summary>
public static class LayoutPresets
{
    /// <summary>How many sources each kind needs: (fewest, most).</summary>
    public static (int Min, int Max) SourceCount(PresetKind kind) => kind switch
    {
        PresetKind.Single => (1, 1),
        PresetKind.Pip => (2, 2),
        PresetKind.SideBySide => (2, 2),
        PresetKind.Grid2x2 => (1, 4),
        PresetKind.Grid3x3 => (1, 9),
        _ => (0, 0),
    };

    /// <summary>The boxes of a preset in a frame of the given format; extra sources are ignored, missing slots stay empty.</summary>
    public static IReadOnlyList<Box> Expand(LayoutPreset preset, OutputFormat format)
    {
        var sources = preset.Sources ?? [];
        var frame = new Rect(0, 0, Even(format.Width), Even(format.Height));
        // An unvalidated frame too small for a 2x2 box has nothing to show, and would divide by zero.
        if (sources.Count == 0 || frame.Width < 2 || frame.Height < 2) return [];
        return preset.Kind switch
        {
            PresetKind.Single => [Place(sources[0], frame, frame, preset.Fit, 0)],
            PresetKind.Pip => Pip(preset, sources, frame),
            PresetKind.SideBySide => Grid(preset, sources, frame, 2, 1),
            PresetKind.Grid2x2 => Grid(preset, sources, frame, 2, 2),
            PresetKind.Grid3x3 => Grid(preset, sources, frame, 3, 3),
            _ => [],
        };
    }

    /// <summary>The boxes on air on a bus: its preset expanded, or its layout.</summary>
    public static IReadOnlyList<Box> ProgramBoxes(this BusDefinition bus) =>
        bus.Preset is { } preset ? Expand(preset, bus.Format ?? new()) : bus.Layout ?? [];

    /// <summary>The boxes of a shot on a bus of the given format.</summary>
    public static IReadOnlyList<Box> Resolve(this Shot shot, OutputFormat format) =>
        shot.Preset is { } preset ? Expand(preset, format) : shot.Boxes ?? [];

    /// <summary>What a bus has on air, as a shot: the preset when it has one, so a later cut brings the preset back.</summary>
    public static Shot ProgramShot(this BusDefinition bus) =>
        bus.Preset is { } preset ? new Shot { Preset = preset } : new Shot { Boxes = bus.Layout ?? [] };

    private static IReadOnlyList<Box> Pip(LayoutPreset preset, IReadOnlyList<string> sources, Rect frame)
    {
        var main = Place(sources[0], frame, frame, preset.Fit, 0);
        if (sources.Count < 2) return [main];
        var size = double.IsFinite(preset.Size) ? Math.Clamp(preset.Size, 0.05, 1) : 0.3;
        var width = Math.Clamp(Even((int)Math.Round(size * frame.Width)), 2, frame.Width);
        var height = Math.Clamp(Even((int)Math.Round((double)width * frame.Height / frame.Width)), 2, frame.Height);
        // A margin too large for the inset is clamped rather than pushing the inset off the frame.
        var marginX = Math.Clamp(preset.Margin, 0, (frame.Width - width) / 2);
        var marginY = Math.Clamp(preset.Margin, 0, (frame.Height - height) / 2);
        var left = preset.Corner is Corner.TopLeft or Corner.BottomLeft;
        var top = preset.Corner is Corner.TopLeft or Corner.TopRight;
        var inset = new Rect(
            left ? marginX : frame.Width - marginX - width,
            top ? marginY : frame.Height - marginY - height,
            width, height);
        return [main, new Box { Source = sources[1], X = inset.X, Y = inset.Y, Width = width, Height = height, Z = 1, Fit = preset.Fit }];
    }

    // Cells are separated, and kept off the frame edge, by the margin; the block is centred so the
    // pixels lost to rounding split evenly between both sides.
    private static IReadOnlyList<Box> Grid(LayoutPreset preset, IReadOnlyList<string> sources, Rect frame, int columns, int rows)
    {
        // Gaps may take at most half the frame, so a large margin on a small frame still leaves pictures.
        var margin = Math.Clamp(preset.Margin, 0, Math.Min(frame.Width / (2 * (columns + 1)), frame.Height / (2 * (rows + 1))));
        var cellWidth = Math.Max(2, Even((frame.Width - (columns + 1) * margin) / columns));
        var cellHeight = Math.Max(2, Even((frame.Height - (rows + 1) * margin) / rows));
        var left = (frame.Width - columns * cellWidth - (columns - 1) * margin) / 2;
        var top = (frame.Height - rows * cellHeight - (rows - 1) * margin) / 2;
        var boxes = new List<Box>();
        for (var slot = 0; slot < Math.Min(sources.Count, columns * rows); slot++)
        {
            var cell = new Rect(left + slot % columns * (cellWidth + margin), top + slot / columns * (cellHeight + margin), cellWidth, cellHeight);
            boxes.Add(Place(sources[slot], cell, frame, preset.Fit, 0));
        }
        return boxes;
    }

    private static Box Place(string source, Rect cell, Rect frame, Fit fit, int z)
    {
        var r = fit == Fit.Contain ? FitAspect(cell, frame.Width, frame.Height) : cell;
        return new Box { Source = source, X = r.X, Y = r.Y, Width = r.Width, Height = r.Height, Z = z, Fit = fit };
    }

    /// <summary>The largest even-sized rectangle of aspect <paramref name="aw"/>:<paramref name="ah"/> centred in <paramref name="cell"/>.</summary>
    internal static Rect FitAspect(Rect cell, int aw, int ah)
    {
        var width = Math.Min(cell.Width, (int)((long)cell.Height * aw / ah));
        width = Math.Max(2, Even(width));
        var height = Math.Max(2, Even((int)((long)width * ah / aw)));
        if (height > cell.Height)
        {
            height = Math.Max(2, Even(cell.Height));
            width = Math.Max(2, Even((int)((long)height * aw / ah)));
        }
        return new Rect(cell.X + (cell.Width - width) / 2, cell.Y + (cell.Height - height) / 2, width, height);
    }

    internal static int Even(int v) => v & ~1;

    internal readonly record struct Rect(int X, int Y, int Width, int Height);
}
