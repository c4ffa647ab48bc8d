namespace MixerWorker.Pipeline.Scene;

/// <summary>
/// Where a multiview draws its tiles: Preview and Program side by side in the top half, every input
/// of the scene in a grid below, each tile 16:9 and labelled. Positions and sizes are even, tiles
/// lie inside the frame and never overlap.
/// </summary>
public static class MultiviewLayout
{
    public const string PreviewLabel = "PREVIEW";
    public const string ProgramLabel = "PROGRAM";

    /// <summary>The smallest tile width; below it rounding to even sizes bends 16:9 and a picture says little.</summary>
    public const int MinTileWidth = 32;

    /// <summary>Whether a frame of <paramref name="format"/> has room for the Program and Preview tiles and a tile of every one of <paramref name="inputs"/> inputs.</summary>
    public static bool Fits(int inputs, OutputFormat format)
    {
        if (format.Width < 16 || format.Height < 16) return false;
        var (width, height, gap, band) = Frame(inputs, format);
        if (Top(width, height, gap, band, inputs).Width < MinTileWidth) return false;
        return inputs <= 0 || Grid(inputs, width, height - band, gap) is not null;
    }

    public static IReadOnlyList<MultiviewTile> Tiles(SceneDefinition scene, OutputFormat format)
    {
        var inputs = (scene.Inputs ?? []).Where(i => i is not null).Select(i => i.Name).ToList();
        if (!Fits(inputs.Count, format)) throw new ArgumentException($"a {format.Width}x{format.Height} multiview is too small for {inputs.Count} inputs");
        var (width, height, gap, band) = Frame(inputs.Count, format);

        var tiles = new List<MultiviewTile>();
        var top = Top(width, height, gap, band, inputs.Count);
        var preview = Tile(gap, gap, top.Width, top.Height);
        var program = Tile(2 * gap + top.Width, gap, top.Width, top.Height);
        tiles.Add(new MultiviewTile(MultiviewTileKind.Preview, null, PreviewLabel, preview.X, preview.Y, preview.Width, preview.Height));
        tiles.Add(new MultiviewTile(MultiviewTileKind.Program, null, ProgramLabel, program.X, program.Y, program.Width, program.Height));
        if (inputs.Count == 0) return tiles;

        var area = (Y: band, Height: height - band);
        var (columns, cellWidth, cellHeight) = Grid(inputs.Count, width, area.Height, gap)!.Value;
        for (var n = 0; n < inputs.Count; n++)
        {
            var cell = Tile(gap + n % columns * (cellWidth + gap), area.Y + gap + n / columns * (cellHeight + gap), cellWidth, cellHeight);
            tiles.Add(new MultiviewTile(MultiviewTileKind.Input, inputs[n], inputs[n], cell.X, cell.Y, cell.Width, cell.Height));
        }
        return tiles;
    }

    // The column count that gives the largest 16:9 tiles in the area below the top band, with a
    // gap around every cell.
    private static (int Width, int Height, int Gap, int Band) Frame(int inputs, OutputFormat format)
    {
        var width = LayoutPresets.Even(format.Width);
        var height = LayoutPresets.Even(format.Height);
        // Gaps keep tally borders of neighbouring tiles apart.
        var gap = Math.Clamp(LayoutPresets.Even(Math.Min(width, height) / 64), 2, 16);
        return (width, height, gap, inputs == 0 ? height : LayoutPresets.Even(height / 2));
    }

    /// <summary>The cell of each of the Program and Preview tiles.</summary>
    private static (int Width, int Height) Top(int width, int height, int gap, int band, int inputs) =>
        (LayoutPresets.Even((width - 3 * gap) / 2), LayoutPresets.Even(band - (inputs == 0 ? 2 * gap : gap)));

    private static (int Columns, int CellWidth, int CellHeight)? Grid(int count, int width, int areaHeight, int gap)
    {
        var best = (Columns: count, CellWidth: 0, CellHeight: 0, TileWidth: -1);
        for (var columns = 1; columns <= count; columns++)
        {
            var rows = (count + columns - 1) / columns;
            var cellWidth = LayoutPresets.Even((width - (columns + 1) * gap) / columns);
            var cellHeight = LayoutPresets.Even((areaHeight - (rows + 1) * gap) / rows);
            if (cellWidth < 2 || cellHeight < 2) continue;
            var tileWidth = LayoutPresets.FitAspect(new LayoutPresets.Rect(0, 0, cellWidth, cellHeight), 16, 9).Width;
            // On a tie more columns win, so a small show fills rows of four instead of stacking them.
            if (tileWidth >= best.TileWidth) best = (columns, cellWidth, cellHeight, tileWidth);
        }
        return best.TileWidth < MinTileWidth ? null : (best.Columns, best.CellWidth, best.CellHeight);
    }

    /// <summary>The 16:9 tile centred in a cell, at even coordinates.</summary>
    private static LayoutPresets.Rect Tile(int x, int y, int cellWidth, int cellHeight)
    {
        var r = LayoutPresets.FitAspect(new LayoutPresets.Rect(0, 0, cellWidth, cellHeight), 16, 9);
        return r with { X = x + LayoutPresets.Even(r.X), Y = y + LayoutPresets.Even(r.Y) };
    }
}
