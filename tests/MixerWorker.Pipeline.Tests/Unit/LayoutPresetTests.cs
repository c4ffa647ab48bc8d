using MixerWorker.Pipeline.Scene;
using Xunit;

namespace MixerWorker.Pipeline.Tests.Unit;

public class LayoutPresetTests
{
    private static readonly OutputFormat Hd = new() { Width = 1280, Height = 720 };

    private static IReadOnlyList<Box> Expand(PresetKind kind, int sources, OutputFormat? format = null, Func<LayoutPreset, LayoutPreset>? edit = null)
    {
        var preset = new LayoutPreset { Kind = kind, Sources = Enumerable.Range(1, sources).Select(i => $"cam-{i}").ToList() };
        return LayoutPresets.Expand(edit?.Invoke(preset) ?? preset, format ?? Hd);
    }

    private static (int, int, int, int) Rect(Box b) => (b.X, b.Y, b.Width, b.Height);

    private static bool Overlap(Box a, Box b) => a.X < b.X + b.Width && b.X < a.X + a.Width && a.Y < b.Y + b.Height && b.Y < a.Y + a.Height;

    [Fact]
    public void Single_fills_the_frame()
    {
        var box = Assert.Single(Expand(PresetKind.Single, 1));
        Assert.Equal(("cam-1", 0, 0, 1280, 720, Fit.Contain), (box.Source, box.X, box.Y, box.Width, box.Height, box.Fit));
    }

    [Theory]
    [InlineData(Corner.TopLeft, 20, 20)]
    [InlineData(Corner.TopRight, 1280 - 20 - 384, 20)]
    [InlineData(Corner.BottomLeft, 20, 720 - 20 - 216)]
    [InlineData(Corner.BottomRight, 1280 - 20 - 384, 720 - 20 - 216)]
    public void Pip_puts_the_inset_in_its_corner_above_the_main_picture(Corner corner, int x, int y)
    {
        var boxes = Expand(PresetKind.Pip, 2, edit: p => p with { Corner = corner, Size = 0.3, Margin = 20 });
        Assert.Equal(2, boxes.Count);
        Assert.Equal(("cam-1", (0, 0, 1280, 720)), (boxes[0].Source, Rect(boxes[0])));
        Assert.Equal(("cam-2", (x, y, 384, 216)), (boxes[1].Source, Rect(boxes[1])));
        Assert.True(boxes[1].Z > boxes[0].Z);
    }

    [Fact]
    public void Pip_inset_keeps_the_frame_aspect_and_even_size()
    {
        var inset = Expand(PresetKind.Pip, 2, new OutputFormat { Width = 1920, Height = 1080 }, p => p with { Size = 0.25 })[1];
        Assert.Equal((480, 270), (inset.Width, inset.Height));
        // 0.33 of 1000 = 330 and 330 * 600/1000 = 198; 0.111 of 1280 = 142.08 gives odd candidates.
        var odd = Expand(PresetKind.Pip, 2, new OutputFormat { Width = 1000, Height = 600 }, p => p with { Size = 0.33 })[1];
        Assert.Equal((330, 198), (odd.Width, odd.Height));
        var inset2 = Expand(PresetKind.Pip, 2, new OutputFormat { Width = 1280, Height = 720 }, p => p with { Size = 0.111 })[1];
        Assert.Equal(0, inset2.Width % 2);
        Assert.Equal(0, inset2.Height % 2);
        Assert.InRange((double)inset2.Width / inset2.Height, 16.0 / 9 - 0.05, 16.0 / 9 + 0.05);
    }

    [Fact]
    public void Side_by_side_letterboxes_16_9_pictures_in_each_half()
    {
        var boxes = Expand(PresetKind.SideBySide, 2);
        Assert.Equal([(0, 180, 640, 360), (640, 180, 640, 360)], boxes.Select(Rect));
        Assert.All(boxes, b => Assert.Equal(Fit.Contain, b.Fit));
    }

    [Fact]
    public void Side_by_side_with_fill_stretches_to_the_halves()
    {
        var boxes = Expand(PresetKind.SideBySide, 2, edit: p => p with { Fit = Fit.Fill });
        Assert.Equal([(0, 0, 640, 720), (640, 0, 640, 720)], boxes.Select(Rect));
        Assert.All(boxes, b => Assert.Equal(Fit.Fill, b.Fit));
    }

    [Fact]
    public void Grid_2x2_without_margin_tiles_the_frame()
    {
        var boxes = Expand(PresetKind.Grid2x2, 4);
        Assert.Equal([(0, 0, 640, 360), (640, 0, 640, 360), (0, 360, 640, 360), (640, 360, 640, 360)], boxes.Select(Rect));
        Assert.Equal(["cam-1", "cam-2", "cam-3", "cam-4"], boxes.Select(b => b.Source));
    }

    [Fact]
    public void Grid_2x2_with_margin_keeps_the_gaps()
    {
        var boxes = Expand(PresetKind.Grid2x2, 4, edit: p => p with { Margin = 20 });
        // Cells of (1280-60)/2 = 610 by (720-60)/2 = 330; the 16:9 picture inside is 586x328 → centred.
        Assert.All(boxes, b => Assert.Equal((0, 0), (b.Width % 2, b.Height % 2)));
        Assert.True(boxes[1].X - (boxes[0].X + boxes[0].Width) >= 20);
        Assert.True(boxes[2].Y - (boxes[0].Y + boxes[0].Height) >= 20);
        Assert.True(boxes[0].X >= 20 && boxes[0].Y >= 20);
        Assert.True(boxes[3].X + boxes[3].Width <= 1260 && boxes[3].Y + boxes[3].Height <= 700);
    }

    [Fact]
    public void Grids_leave_empty_slots_out()
    {
        Assert.Equal(3, Expand(PresetKind.Grid2x2, 3).Count);
        var five = Expand(PresetKind.Grid3x3, 5);
        Assert.Equal(5, five.Count);
        // Slot order is row by row: the fourth source starts the second row.
        Assert.Equal(five[0].X, five[3].X);
        Assert.True(five[3].Y > five[0].Y);
        Assert.Empty(Expand(PresetKind.Grid3x3, 0));
    }

    [Fact]
    public void Extra_sources_are_ignored()
    {
        Assert.Single(Expand(PresetKind.Single, 3));
        Assert.Equal(4, Expand(PresetKind.Grid2x2, 6).Count);
        Assert.Equal(9, Expand(PresetKind.Grid3x3, 12).Count);
    }

    public static TheoryData<PresetKind, int, int, int, int, Fit> Everything()
    {
        var data = new TheoryData<PresetKind, int, int, int, int, Fit>();
        foreach (var kind in Enum.GetValues<PresetKind>())
        foreach (var (w, h) in new[] { (1280, 720), (1920, 1080), (640, 480), (720, 1280), (16, 16), (1366, 768), (4096, 2160) })
        foreach (var margin in new[] { 0, 7, 200 })
        foreach (var fit in new[] { Fit.Contain, Fit.Fill })
            data.Add(kind, w, h, margin, LayoutPresets.SourceCount(kind).Max, fit);
        return data;
    }

    [Theory]
    [MemberData(nameof(Everything))]
    public void Boxes_are_even_inside_the_frame_and_never_overlap_within_a_grid(PresetKind kind, int width, int height, int margin, int sources, Fit fit)
    {
        var boxes = Expand(kind, sources, new OutputFormat { Width = width, Height = height }, p => p with { Margin = margin, Fit = fit, Size = 0.6 });
        Assert.Equal(sources, boxes.Count);
        foreach (var b in boxes)
        {
            Assert.True(b.Width >= 2 && b.Height >= 2 && b.Width % 2 == 0 && b.Height % 2 == 0, $"{b}");
            Assert.True(b.X >= 0 && b.Y >= 0 && b.X + b.Width <= width && b.Y + b.Height <= height, $"{b} in {width}x{height}");
            if (fit == Fit.Contain)
                Assert.InRange((double)b.Width / b.Height * height / width, 0.9, 1.1); // the frame's aspect, within rounding
        }
        if (kind != PresetKind.Pip)
            for (var i = 0; i < boxes.Count; i++)
            for (var j = i + 1; j < boxes.Count; j++)
                Assert.False(Overlap(boxes[i], boxes[j]), $"{boxes[i]} overlaps {boxes[j]}");
    }

    [Fact]
    public void Contain_keeps_16_9_in_a_3x3_grid()
    {
        foreach (var b in Expand(PresetKind.Grid3x3, 9, edit: p => p with { Margin = 10 }))
            Assert.InRange((double)b.Width / b.Height, 16.0 / 9 * 0.98, 16.0 / 9 * 1.02);
    }

    [Theory]
    [InlineData(0, 720)]
    [InlineData(1280, 1)]
    [InlineData(-4, -4)]
    public void A_frame_without_room_has_no_boxes(int width, int height)
    {
        foreach (var kind in Enum.GetValues<PresetKind>())
            Assert.Empty(Expand(kind, 4, new OutputFormat { Width = width, Height = height }));
    }

    [Fact]
    public void Program_boxes_come_from_the_preset_or_the_layout()
    {
        var byLayout = Scenes.Bus("program", Scenes.Box("cam-a"), Scenes.Box("cam-b", 100, 100));
        Assert.Same(byLayout.Layout, byLayout.ProgramBoxes());

        var byPreset = byLayout with
        {
            Layout = [],
            Preset = new LayoutPreset { Kind = PresetKind.SideBySide, Sources = ["cam-b", "cam-a"] },
            Format = new OutputFormat { Width = 640, Height = 360 },
        };
        Assert.Equal([("cam-b", (0, 90, 320, 180)), ("cam-a", (320, 90, 320, 180))], byPreset.ProgramBoxes().Select(b => (b.Source, Rect(b))));
    }

    [Fact]
    public void A_shot_resolves_against_the_format_it_is_shown_in()
    {
        var shot = new Shot { Preset = new LayoutPreset { Kind = PresetKind.Single, Sources = ["cam-a"] } };
        Assert.Equal((0, 0, 1920, 1080), Rect(Assert.Single(shot.Resolve(new OutputFormat { Width = 1920, Height = 1080 }))));
        var boxes = new Shot { Boxes = [Scenes.Box("cam-b", 10, 20)] };
        Assert.Same(boxes.Boxes, boxes.Resolve(Hd));
    }

    [Fact]
    public void Heard_inputs_follow_the_preset_and_skip_invisible_boxes()
    {
        var bus = Scenes.Bus("program") with
        {
            Layout = [],
            Preset = new LayoutPreset { Kind = PresetKind.Pip, Sources = ["cam-b", "cam-a"] },
        };
        Assert.Equal(["cam-b", "cam-a"], bus.HeardInputs().Select(s => s.Input));
        var hidden = Scenes.Bus("program", Scenes.Box("cam-a"), Scenes.Box("cam-b") with { Alpha = 0 });
        Assert.Equal(["cam-a"], hidden.HeardInputs().Select(s => s.Input));
        var followVideo = hidden with { Audio = new AudioMix { Mode = AudioMode.FollowVideo, Sources = [new() { Input = "cam-b" }] } };
        Assert.Equal(["cam-a"], followVideo.HeardInputs().Select(s => s.Input));
    }
}
