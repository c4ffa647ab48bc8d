using MixerWorker.Pipeline.Scene;
using Xunit;

namespace MixerWorker.Pipeline.Tests.Unit;

public class MultiviewLayoutTests
{
    private static readonly OutputFormat Hd = new() { Width = 1280, Height = 720 };

    private static SceneDefinition WithInputs(int count) => Scenes.Valid() with
    {
        Inputs = Enumerable.Range(1, count).Select(i => new InputDefinition { Name = $"cam-{i}" }).ToList(),
        Buses = [],
    };

    private static bool Overlap(MultiviewTile a, MultiviewTile b) =>
        a.X < b.X + b.Width && b.X < a.X + a.Width && a.Y < b.Y + b.Height && b.Y < a.Y + a.Height;

    [Fact]
    public void Preview_and_program_share_the_top_band_preview_on_the_left()
    {
        var tiles = MultiviewLayout.Tiles(WithInputs(4), Hd);
        var preview = tiles[0];
        var program = tiles[1];
        Assert.Equal((MultiviewTileKind.Preview, (string?)null, "PREVIEW"), (preview.Kind, preview.Input, preview.Label));
        Assert.Equal((MultiviewTileKind.Program, (string?)null, "PROGRAM"), (program.Kind, program.Input, program.Label));
        Assert.True(preview.X + preview.Width <= program.X);
        Assert.Equal(preview.Y, program.Y);
        Assert.Equal((preview.Width, preview.Height), (program.Width, program.Height));
        Assert.InRange(preview.Width, 560, 640); // about half the width
        Assert.True(tiles.Skip(2).All(t => t.Y >= preview.Y + preview.Height), "inputs sit below the band");
    }

    [Fact]
    public void Every_input_gets_a_labelled_tile_in_scene_order()
    {
        var tiles = MultiviewLayout.Tiles(WithInputs(6), Hd).Skip(2).ToList();
        Assert.Equal(["cam-1", "cam-2", "cam-3", "cam-4", "cam-5", "cam-6"], tiles.Select(t => t.Input));
        Assert.All(tiles, t => Assert.Equal((MultiviewTileKind.Input, t.Input), (t.Kind, t.Label)));
    }

    [Theory]
    [InlineData(2, 2)]
    [InlineData(5, 4)]
    [InlineData(8, 4)]
    public void Rows_of_four_for_a_small_show(int inputs, int columns)
    {
        var tiles = MultiviewLayout.Tiles(WithInputs(inputs), Hd).Skip(2).ToList();
        Assert.Equal(Math.Min(inputs, columns), tiles.Count(t => t.Y == tiles[0].Y));
    }

    public static TheoryData<int, int, int> Shows()
    {
        var data = new TheoryData<int, int, int>();
        foreach (var (w, h) in new[] { (1280, 720), (1920, 1080), (640, 360), (320, 180), (160, 90), (1024, 768), (720, 1280) })
        foreach (var n in new[] { 0, 1, 3, 4, 8, 9, 12, 16, 17, 24, 31, 32 })
            if (MultiviewLayout.Fits(n, new OutputFormat { Width = w, Height = h }) || (w, h) != (160, 90))
                data.Add(w, h, n);
        return data;
    }

    [Theory]
    [MemberData(nameof(Shows))]
    public void Tiles_are_even_16_9_inside_the_frame_and_apart(int width, int height, int inputs)
    {
        var tiles = MultiviewLayout.Tiles(WithInputs(inputs), new OutputFormat { Width = width, Height = height });
        Assert.Equal(inputs + 2, tiles.Count);
        foreach (var t in tiles)
        {
            Assert.True(t.X % 2 == 0 && t.Y % 2 == 0 && t.Width % 2 == 0 && t.Height % 2 == 0, $"{t} is not even");
            Assert.True(t.Width >= MultiviewLayout.MinTileWidth && t.Height >= 2, $"{t} is too small");
            Assert.True(t.X >= 0 && t.Y >= 0 && t.X + t.Width <= width && t.Y + t.Height <= height, $"{t} leaves the {width}x{height} frame");
            Assert.InRange((double)t.Width / t.Height, 16.0 / 9 - 0.15, 16.0 / 9 + 0.15);
        }
        for (var i = 0; i < tiles.Count; i++)
        for (var j = i + 1; j < tiles.Count; j++)
            Assert.False(Overlap(tiles[i], tiles[j]), $"{tiles[i]} overlaps {tiles[j]}");
    }

    [Theory]
    [InlineData(96, 54, 2, true)]
    [InlineData(160, 90, 8, true)]
    [InlineData(320, 180, 32, true)]
    [InlineData(96, 54, 32, false)]
    [InlineData(64, 36, 0, false)]
    [InlineData(16, 16, 3, false)]
    [InlineData(8, 8, 0, false)]
    public void Knows_whether_the_inputs_fit(int width, int height, int inputs, bool fits)
    {
        var format = new OutputFormat { Width = width, Height = height };
        Assert.Equal(fits, MultiviewLayout.Fits(inputs, format));
        if (fits) Assert.Equal(inputs + 2, MultiviewLayout.Tiles(WithInputs(inputs), format).Count);
        else Assert.Contains("too small", Assert.Throws<ArgumentException>(() => MultiviewLayout.Tiles(WithInputs(inputs), format)).Message);
    }

    [Fact]
    public void Without_inputs_the_two_tiles_use_the_whole_frame()
    {
        var tiles = MultiviewLayout.Tiles(WithInputs(0), Hd);
        Assert.Equal(2, tiles.Count);
        Assert.True(tiles[0].Width >= 600);
    }

    [Fact]
    public void More_inputs_give_smaller_tiles()
    {
        var widths = new[] { 4, 9, 16, 32 }.Select(n => MultiviewLayout.Tiles(WithInputs(n), Hd)[2].Width).ToList();
        for (var i = 1; i < widths.Count; i++) Assert.True(widths[i] < widths[i - 1]);
    }
}
