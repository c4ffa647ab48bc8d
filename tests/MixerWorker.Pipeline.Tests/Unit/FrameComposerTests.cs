using MixerWorker.Pipeline.Scene;
using Xunit;

namespace MixerWorker.Pipeline.Tests.Unit;

public class FrameComposerTests
{
    private static readonly OutputFormat Hd = new() { Width = 1280, Height = 720 };
    private static readonly Crop NoClip = new();

    private static BusDefinition Bus(params Box[] boxes) => new() { Name = "program", Format = Hd, Layout = boxes };

    private static BusDefinition Preset(PresetKind kind, params string[] sources) =>
        new() { Name = "program", Format = Hd, Preset = new LayoutPreset { Kind = kind, Sources = sources } };

    private static Box Full(string source) => new() { Source = source, Width = 1280, Height = 720 };

    private static BusAnimation Animation(BusDefinition from, BusDefinition to, TransitionKind kind, Direction direction = Direction.Right, DipColor color = DipColor.Black) =>
        new(from, to, new TransitionSpec { Kind = kind, DurationMs = 500, Direction = direction, Color = color });

    private static BusAnimation FullFrame(TransitionKind kind, Direction direction = Direction.Right) =>
        Animation(Bus(Full("cam-a")), Bus(Full("cam-b")), kind, direction);

    private static PlacedBox One(ComposedFrame frame, Side side) => Assert.Single(frame.Boxes, b => b.Key.Side == side);

    [Fact]
    public void Steady_ranks_boxes_by_z_then_order()
    {
        var bus = Bus(Full("cam-a") with { Z = 5 }, Scenes.Box("cam-b") with { Alpha = 0.5 }, Scenes.Box("cam-a", 100, 100) with { Z = -1 }, Scenes.Box("cam-b", 200, 200));
        var frame = FrameComposer.Steady(bus);
        Assert.Equal(0, frame.VeilAlpha);
        Assert.Equal([0, 1, 2, 3], frame.Boxes.Select(b => b.Key.Index));
        Assert.All(frame.Boxes, b => Assert.Equal(Side.From, b.Key.Side));
        Assert.Equal([4, 2, 1, 3], frame.Boxes.Select(b => b.Z));
        var second = frame.Boxes[1];
        Assert.Equal((bus.Layout[1], 0, 0, 640, 360, NoClip, 0.5), (second.Box, second.X, second.Y, second.Width, second.Height, second.Clip, second.Alpha));
    }

    [Fact]
    public void Steady_expands_a_preset()
    {
        var frame = FrameComposer.Steady(Preset(PresetKind.Pip, "cam-a", "cam-b"));
        Assert.Equal(["cam-a", "cam-b"], frame.Boxes.Select(b => b.Box.Source));
        Assert.Equal([1, 2], frame.Boxes.Select(b => b.Z));
    }

    public static TheoryData<TransitionKind, Direction> Kinds()
    {
        var data = new TheoryData<TransitionKind, Direction>();
        foreach (var kind in Enum.GetValues<TransitionKind>())
        foreach (var direction in Enum.GetValues<Direction>())
            data.Add(kind, direction);
        return data;
    }

    // The engine swaps an animation for the steady picture after the last frame; these ends must
    // match it exactly or the swap shows.
    [Theory]
    [MemberData(nameof(Kinds))]
    public void Ends_match_the_steady_pictures(TransitionKind kind, Direction direction)
    {
        var from = Preset(PresetKind.Pip, "cam-a", "cam-b");
        var to = Bus(Scenes.Box("cam-b", 100, 50) with { Z = 3 }, Full("cam-c"), Scenes.Box("cam-a", 600, 300) with { Alpha = 0.7 });
        var animation = Animation(from, to, kind, direction, DipColor.White);

        Assert.Equal(FrameComposer.Steady(from).Boxes, FrameComposer.Compose(animation, 0).Boxes);
        Assert.Equal(0, FrameComposer.Compose(animation, 0).VeilAlpha);
        var end = FrameComposer.Compose(animation, 1);
        Assert.Equal(0, end.VeilAlpha);
        Assert.Equal(FrameComposer.Steady(to).Boxes.Select(b => b with { Key = b.Key with { Side = Side.To } }), end.Boxes);
        // Out of range and NaN progress are clamped, never extrapolated.
        Assert.Equal(FrameComposer.Compose(animation, 0).Boxes, FrameComposer.Compose(animation, -0.5).Boxes);
        Assert.Equal(FrameComposer.Compose(animation, 0).Boxes, FrameComposer.Compose(animation, double.NaN).Boxes);
        Assert.Equal(end.Boxes, FrameComposer.Compose(animation, 7).Boxes);
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Every_frame_ranks_from_below_to_with_distinct_z(TransitionKind kind, Direction direction)
    {
        var animation = Animation(Preset(PresetKind.Grid2x2, "cam-a", "cam-b", "cam-c"), Preset(PresetKind.Pip, "cam-c", "cam-d"), kind, direction);
        for (var k = 0; k <= 20; k++)
        {
            var frame = FrameComposer.Compose(animation, k / 20.0);
            Assert.Equal(Enumerable.Range(1, frame.Boxes.Count), frame.Boxes.Select(b => b.Z).Order());
            var fromZ = frame.Boxes.Where(b => b.Key.Side == Side.From).Select(b => b.Z).DefaultIfEmpty(0).Max();
            var toZ = frame.Boxes.Where(b => b.Key.Side == Side.To).Select(b => b.Z).DefaultIfEmpty(int.MaxValue).Min();
            Assert.True(fromZ < toZ, $"{kind} at {k / 20.0}: a From box is above a To box");
            Assert.Equal(frame.Boxes.Count, frame.Boxes.Select(b => b.Key).Distinct().Count());
            Assert.All(frame.Boxes, b => Assert.InRange(b.Alpha, 0, 1));
        }
    }

    [Fact]
    public void A_mix_sampled_per_frame_raises_the_incoming_alpha_monotonically()
    {
        // 500 ms at 30 fps: 15 frames, the last one at progress 1.
        var animation = FullFrame(TransitionKind.Mix);
        var alphas = new List<double>();
        for (var frame = 1; frame <= 15; frame++)
        {
            var composed = FrameComposer.Compose(animation, frame / 15.0);
            alphas.Add(One(composed, Side.To).Alpha);
            if (frame < 15) Assert.Equal(1.0, One(composed, Side.From).Alpha);
            Assert.True(One(composed, Side.To).Z > composed.Boxes.Where(b => b.Key.Side == Side.From).Select(b => b.Z).DefaultIfEmpty(0).Max());
        }
        for (var i = 1; i < alphas.Count; i++) Assert.True(alphas[i] > alphas[i - 1], $"frame {i + 1}: {alphas[i]} after {alphas[i - 1]}");
        Assert.Equal(1.0 / 15, alphas[0], 9);
        Assert.Equal(1.0, alphas[^1]);
        Assert.DoesNotContain(FrameComposer.Compose(animation, 1).Boxes, b => b.Key.Side == Side.From);
        Assert.DoesNotContain(FrameComposer.Compose(animation, 0).Boxes, b => b.Key.Side == Side.To);
    }

    [Fact]
    public void A_mix_scales_the_incoming_box_alpha()
    {
        var animation = Animation(Bus(Full("cam-a")), Bus(Full("cam-b") with { Alpha = 0.5 }), TransitionKind.Mix);
        Assert.Equal(0.25, One(FrameComposer.Compose(animation, 0.5), Side.To).Alpha, 9);
    }

    [Fact]
    public void A_dip_goes_through_the_colour_at_half_way()
    {
        var animation = Animation(Bus(Full("cam-a")), Bus(Full("cam-b")), TransitionKind.Dip, color: DipColor.White);
        var quarter = FrameComposer.Compose(animation, 0.25);
        Assert.Equal((0.5, DipColor.White), (quarter.VeilAlpha, quarter.VeilColor));
        Assert.Equal("cam-a", Assert.Single(quarter.Boxes).Box.Source);
        Assert.Equal(1.0, FrameComposer.Compose(animation, 0.5).VeilAlpha);
        Assert.Equal("cam-b", Assert.Single(FrameComposer.Compose(animation, 0.5).Boxes).Box.Source);
        var late = FrameComposer.Compose(animation, 0.75);
        Assert.Equal(0.5, late.VeilAlpha);
        Assert.Equal((Side.To, 1.0), (Assert.Single(late.Boxes).Key.Side, late.Boxes[0].Alpha));
        var veils = Enumerable.Range(0, 31).Select(k => FrameComposer.Compose(animation, k / 30.0).VeilAlpha).ToList();
        for (var k = 1; k <= 15; k++) Assert.True(veils[k] > veils[k - 1]);
        for (var k = 16; k <= 30; k++) Assert.True(veils[k] < veils[k - 1]);
    }

    [Theory]
    [InlineData(Direction.Right, 0.25, 320)]
    [InlineData(Direction.Right, 0.5, 640)]
    [InlineData(Direction.Left, 0.25, 960)]
    [InlineData(Direction.Left, 0.5, 640)]
    public void A_horizontal_wipe_moves_its_edge(Direction direction, double p, int edge)
    {
        var frame = FrameComposer.Compose(FullFrame(TransitionKind.Wipe, direction), p);
        var incoming = One(frame, Side.To);
        var outgoing = One(frame, Side.From);
        // Nothing moves; the clip reveals the incoming picture behind the edge.
        Assert.Equal((0, 0, 1280, 720, 1.0), (incoming.X, incoming.Y, incoming.Width, incoming.Height, incoming.Alpha));
        Assert.Equal((0, 0, 1280, 720, 1.0), (outgoing.X, outgoing.Y, outgoing.Width, outgoing.Height, outgoing.Alpha));
        if (direction == Direction.Right)
        {
            Assert.Equal(new Crop { Right = 1280 - edge }, incoming.Clip);
            Assert.Equal(new Crop { Left = edge }, outgoing.Clip);
        }
        else
        {
            Assert.Equal(new Crop { Left = edge }, incoming.Clip);
            Assert.Equal(new Crop { Right = 1280 - edge }, outgoing.Clip);
        }
        Assert.True(incoming.Z > outgoing.Z);
    }

    [Theory]
    [InlineData(Direction.Down, 0.25, 180)]
    [InlineData(Direction.Up, 0.25, 540)]
    public void A_vertical_wipe_moves_its_edge(Direction direction, double p, int edge)
    {
        var incoming = One(FrameComposer.Compose(FullFrame(TransitionKind.Wipe, direction), p), Side.To);
        Assert.Equal(direction == Direction.Down ? new Crop { Bottom = 720 - edge } : new Crop { Top = edge }, incoming.Clip);
    }

    [Fact]
    public void A_wipe_clips_each_box_against_the_frame_edge()
    {
        // The incoming inset (876..1260 wide) is hidden until the edge reaches it.
        var animation = Animation(Bus(Full("cam-a")), Preset(PresetKind.Pip, "cam-b", "cam-c") with
        {
            Preset = new LayoutPreset { Kind = PresetKind.Pip, Sources = ["cam-b", "cam-c"], Margin = 20 },
        }, TransitionKind.Wipe, Direction.Right);
        var inset = LayoutPresets.Expand(animation.To.Preset!, Hd)[1];
        Assert.Equal((876, 1260), (inset.X, inset.X + inset.Width));

        var half = FrameComposer.Compose(animation, 0.5);
        Assert.DoesNotContain(half.Boxes, b => b.Key == new BoxKey(Side.To, 1));
        var later = FrameComposer.Compose(animation, 0.75); // edge at 960
        var clipped = Assert.Single(later.Boxes, b => b.Key == new BoxKey(Side.To, 1));
        Assert.Equal(new Crop { Right = 1260 - 960 }, clipped.Clip);
        Assert.Equal((876, 384), (clipped.X, clipped.Width));
    }

    [Fact]
    public void A_wipe_leaves_a_picture_shown_identically_on_both_sides_whole()
    {
        // cam-a fills the frame on both sides; only the inset changes from cam-b to cam-c.
        var from = Bus(Full("cam-a"), Scenes.Box("cam-b", 800, 400, 400, 224));
        var to = Bus(Full("cam-a") with { Alpha = 0.9 }, Scenes.Box("cam-c", 800, 400, 400, 224));
        var frame = FrameComposer.Compose(Animation(from, to, TransitionKind.Wipe, Direction.Right), 0.75); // edge at 960
        var byKey = frame.Boxes.ToDictionary(b => b.Key);
        Assert.Equal(NoClip, byKey[new(Side.From, 0)].Clip);
        Assert.Equal(new Crop { Left = 160 }, byKey[new(Side.From, 1)].Clip);
        Assert.Equal(new Crop { Right = 320 }, byKey[new(Side.To, 0)].Clip);
        Assert.Equal(new Crop { Right = 240 }, byKey[new(Side.To, 1)].Clip);
    }

    [Fact]
    public void The_wipe_edge_only_advances()
    {
        var animation = FullFrame(TransitionKind.Wipe, Direction.Right);
        var shown = Enumerable.Range(1, 29).Select(k => One(FrameComposer.Compose(animation, k / 30.0), Side.To)).Select(b => b.Width - b.Clip.Right).ToList();
        for (var k = 1; k < shown.Count; k++) Assert.True(shown[k] > shown[k - 1]);
    }

    [Theory]
    [InlineData(Direction.Left, 0.25, -320, 960, 0, 0)]
    [InlineData(Direction.Right, 0.25, 320, -960, 0, 0)]
    [InlineData(Direction.Up, 0.5, 0, 0, -360, 360)]
    [InlineData(Direction.Down, 0.75, 0, 0, 540, -180)]
    public void A_push_moves_both_pictures(Direction direction, double p, int fromX, int toX, int fromY, int toY)
    {
        var frame = FrameComposer.Compose(FullFrame(TransitionKind.Push, direction), p);
        var outgoing = One(frame, Side.From);
        var incoming = One(frame, Side.To);
        Assert.Equal((fromX, fromY, 1280, 720, NoClip), (outgoing.X, outgoing.Y, outgoing.Width, outgoing.Height, outgoing.Clip));
        Assert.Equal((toX, toY, 1280, 720, NoClip), (incoming.X, incoming.Y, incoming.Width, incoming.Height, incoming.Clip));
        Assert.Equal(1.0, incoming.Alpha);
    }

    [Fact]
    public void A_push_leaves_out_boxes_outside_the_frame()
    {
        // Pushing left, the incoming picture enters by its left side: an inset at its right edge
        // is still off-frame early on, and an outgoing inset at the left edge leaves first.
        var to = Bus(Full("cam-b"), Scenes.Box("cam-c", 1180, 0, 100, 100));
        var early = FrameComposer.Compose(Animation(Bus(Full("cam-a"), Scenes.Box("cam-d", 1180, 0, 100, 100)), to, TransitionKind.Push, Direction.Left), 0.1);
        Assert.DoesNotContain(early.Boxes, b => b.Key == new BoxKey(Side.To, 1));
        Assert.Contains(early.Boxes, b => b.Key == new BoxKey(Side.To, 0));
        Assert.Contains(early.Boxes, b => b.Key == new BoxKey(Side.From, 1));
        var late = FrameComposer.Compose(Animation(Bus(Full("cam-a"), Scenes.Box("cam-d", 0, 0, 100, 100)), to, TransitionKind.Push, Direction.Left), 0.9);
        Assert.DoesNotContain(late.Boxes, b => b.Key == new BoxKey(Side.From, 1));
    }

    [Fact]
    public void A_move_glides_shared_sources_and_fades_the_rest()
    {
        // cam-a goes from full frame to the inset; cam-b arrives as the main picture.
        var from = Preset(PresetKind.Single, "cam-a");
        var to = Preset(PresetKind.Pip, "cam-b", "cam-a");
        var toBoxes = to.ProgramBoxes();
        var animation = Animation(from, to, TransitionKind.Move);

        var half = FrameComposer.Compose(animation, 0.5);
        var glider = One(half, Side.From);
        Assert.Equal(new BoxKey(Side.From, 0), glider.Key);
        Assert.Equal(from.ProgramBoxes()[0], glider.Box);
        var inset = toBoxes[1];
        Assert.Equal((inset.X / 2, inset.Y / 2, (1280 + inset.Width) / 2, (720 + inset.Height) / 2, 1.0),
            (glider.X, glider.Y, glider.Width, glider.Height, glider.Alpha));
        var arriving = One(half, Side.To);
        Assert.Equal((new BoxKey(Side.To, 0), 0.5), (arriving.Key, arriving.Alpha));
        Assert.Equal((0, 0, 1280, 720), (arriving.X, arriving.Y, arriving.Width, arriving.Height));

        var sizes = Enumerable.Range(1, 14).Select(k => One(FrameComposer.Compose(animation, k / 15.0), Side.From).Width).ToList();
        for (var k = 1; k < sizes.Count; k++) Assert.True(sizes[k] < sizes[k - 1]);
    }

    [Fact]
    public void A_move_matches_repeated_sources_in_order_and_fades_unmatched_ones()
    {
        var from = Bus(Scenes.Box("cam-a", 0, 0), Scenes.Box("cam-a", 640, 0), Scenes.Box("cam-c", 0, 360));
        var to = Bus(Scenes.Box("cam-a", 100, 100), Scenes.Box("cam-b", 640, 360));
        var frame = FrameComposer.Compose(Animation(from, to, TransitionKind.Move), 0.25);
        var byKey = frame.Boxes.ToDictionary(b => b.Key);
        Assert.Equal((25, 25, 1.0), (byKey[new(Side.From, 0)].X, byKey[new(Side.From, 0)].Y, byKey[new(Side.From, 0)].Alpha));
        Assert.Equal((640, 0, 0.75), (byKey[new(Side.From, 1)].X, byKey[new(Side.From, 1)].Y, byKey[new(Side.From, 1)].Alpha));
        Assert.Equal(0.75, byKey[new(Side.From, 2)].Alpha);
        Assert.Equal((640, 360, 0.25), (byKey[new(Side.To, 1)].X, byKey[new(Side.To, 1)].Y, byKey[new(Side.To, 1)].Alpha));
        Assert.False(byKey.ContainsKey(new(Side.To, 0)));
    }

    [Fact]
    public void A_cut_animation_holds_the_outgoing_picture_until_the_end()
    {
        var animation = FullFrame(TransitionKind.Cut);
        Assert.Equal("cam-a", Assert.Single(FrameComposer.Compose(animation, 0.99).Boxes).Box.Source);
        Assert.Equal("cam-b", Assert.Single(FrameComposer.Compose(animation, 1).Boxes).Box.Source);
    }

    [Fact]
    public void An_empty_side_composes_to_the_other()
    {
        var animation = Animation(Bus(), Bus(Full("cam-b")), TransitionKind.Mix);
        Assert.Empty(FrameComposer.Compose(animation, 0).Boxes);
        Assert.Equal(0.5, One(FrameComposer.Compose(animation, 0.5), Side.To).Alpha);
    }
}
