using MixerWorker.Pipeline.Scene;
using MixerWorker.Testbed.Feeds;
using MixerWorker.Testbed.Imaging;
using MixerWorker.Testbed.Reading;
using MixerWorker.Testbed.Timing;
using Xunit;
using Xunit.Abstractions;
using static MixerWorker.Pipeline.Tests.Integration.MixHarness;

namespace MixerWorker.Pipeline.Tests.Integration;

/// <summary>Layout presets, input normalisation (aspect, frame rate), graphics layers and the multiview, read back.</summary>
public sealed class LayoutTests(ITestOutputHelper output)
{
    private static readonly FeedSpec A = FeedSpec.Numbered(0), B = FeedSpec.Numbered(1), C = FeedSpec.Numbered(2);
    private static bool Near((byte, byte, byte) c, FeedSpec f) => Colors.Near(c, f.Rgb);

    private Task<MixHarness> StartAsync(SceneDefinition scene, FeedSpec[] feeds, Func<MixHarness, Engine.MixerOptions>? options = null) =>
        MixHarness.StartShowAsync(output, scene, feeds, options);

    private static SceneDefinition SceneOf(FeedSpec[] feeds, params BusDefinition[] buses) => new()
    {
        Project = Project, Inputs = [.. feeds.Select(f => new InputDefinition { Name = f.Input })], Buses = buses,
    };

    private static BusDefinition Preset(string bus, int w, int h, LayoutPreset preset) => Bus(bus, w, h) with { Preset = preset };

    [Fact]
    public async Task Presets_put_each_source_where_it_belongs_and_a_layout_change_glides()
    {
        FeedSpec[] feeds = [A, B, C];
        var grid = new LayoutPreset { Kind = PresetKind.Grid2x2, Sources = [A.Input, B.Input, C.Input], Fit = Fit.Fill };
        await using var h = await StartAsync(SceneOf(feeds, Preset("program", 320, 180, grid)), feeds);
        var program = h.Read("program");
        await program.WaitForFrameAsync(TimeSpan.FromSeconds(20), f =>
            Near(f.ColorAt(80, 45), A) && Near(f.ColorAt(240, 45), B) && Near(f.ColorAt(80, 135), C) && Colors.IsBlack(f.ColorAt(240, 135)));

        // Picture-in-picture in the bottom right corner, moved there by a glide.
        var pip = new Shot { Preset = new LayoutPreset { Kind = PresetKind.Pip, Sources = [B.Input, A.Input], Corner = Corner.BottomRight, Size = 0.25, Margin = 10, Fit = Fit.Fill } };
        program.StartRecordingFrames();
        await h.Mixer!.ExecuteAsync(new SetLayoutCommand { Bus = "program", Shot = pip, Transition = new TransitionSpec { Kind = TransitionKind.Move, DurationMs = 500 } });
        var inset = LayoutPresets.Resolve(pip, new OutputFormat { Width = 320, Height = 180 }).Single(b => b.Source == A.Input);
        output.WriteLine($"inset {inset}");
        await program.WaitForFrameAsync(TimeSpan.FromSeconds(5), f =>
            Near(f.ColorAt(inset.X + inset.Width / 2, inset.Y + inset.Height / 2), A) && Near(f.ColorAt(40, 40), B) && Near(f.ColorAt(300, 20), B));
        // A glide: A's box passes through places between its grid cell and the inset.
        var midway = program.RecordedFrames.Count(f => Near(f.ColorAt(160, 90), A) && !Near(f.ColorAt(80, 45), A));
        Assert.True(midway > 0, "A never passed through the middle of the frame on its way to the inset");
    }

    [Fact]
    public async Task Inputs_of_any_shape_and_rate_appear_with_their_aspect_kept_on_a_30_fps_bus()
    {
        // 4:3 at 25 fps and 9:16 at 60 fps, each in a 16:9 box that keeps the aspect ratio, and a 25i interlaced feed.
        var wide = A with { Width = 240, Height = 180, Fps = 25 };
        var tall = B with { Width = 90, Height = 160, Fps = 60 };
        var interlaced = C with { Fps = 25, Interlaced = true };
        FeedSpec[] feeds = [wide, tall, interlaced];
        Box[] boxes = [At(wide.Input, 0, 0, 160, 90) with { Fit = Fit.Contain }, At(tall.Input, 160, 0, 160, 90) with { Fit = Fit.Contain }, At(interlaced.Input, 320, 0, 160, 90)];
        DeliveryVerdict.Calibrate(output);
        await using var h = await StartAsync(SceneOf(feeds, Bus("program", 480, 90, boxes)), feeds);
        var from = MachineShare.NowWithProbes();
        var program = h.Read("program");
        var frame = await program.WaitForFrameAsync(TimeSpan.FromSeconds(20), f =>
            Near(f.ColorAt(boxes[0].X + boxes[0].Width / 2, 45), wide) && Near(f.ColorAt(boxes[1].X + boxes[1].Width / 2, 45), tall)
            && Near(f.ColorAt(400, 45), interlaced));
        // 4:3 in 160x90 is 120 wide: 20 px bars at each side; 9:16 in 160x90 is about 50 wide.
        Assert.True(Colors.IsBlack(frame.ColorAt(boxes[0].X + 6, 45, 2)), $"no pillarbox left of the 4:3 picture: {frame.ColorAt(boxes[0].X + 6, 45, 2)}");
        Assert.True(Near(frame.ColorAt(boxes[0].X + 30, 45, 2), wide), "the 4:3 picture is narrower than expected");
        Assert.True(Colors.IsBlack(frame.ColorAt(boxes[1].X + 30, 45, 2)), "no pillarbox beside the 9:16 picture");
        Assert.True(Near(frame.ColorAt(boxes[1].X + 80, 45, 2), tall), "the 9:16 picture is missing");
        await Task.Delay(2000);
        Assert.Contains("framerate=(fraction)30/1", program.Stats.VideoCaps);
        Assert.DoesNotContain("interleaved", program.Stats.VideoCaps); // the bus is progressive whatever comes in
        // Every frame at the bus's rate, whatever the inputs' rates. A bus short of CPU drops the frames it cannot make
        // in time (LatenessGuard), as many in a row as the machine holds it up, but never makes them closer together.
        var gapMs = program.Stats.MaxFrameGapMs;
        DeliveryVerdict.Judge(output, MachineShare.Since(from), strict: () => Assert.InRange(gapMs, 30, 40),
            live: () => Assert.True(gapMs >= 30, $"frames {gapMs:0} ms apart at most: faster than the bus's 30 fps"));
    }

    [Fact]
    public async Task A_graphic_fades_in_at_its_place_and_a_file_outside_the_graphics_directory_is_refused()
    {
        var dir = Directory.CreateTempSubdirectory("mixer-gfx").FullName;
        try
        {
            var magenta = Enumerable.Repeat(new byte[] { 250, 0, 250 }, 40 * 20).SelectMany(p => p).ToArray();
            PngWriter.Write(new RgbFrame(40, 20, magenta, DateTimeOffset.UtcNow), Path.Combine(dir, "bug.png"));
            FeedSpec[] feeds = [A];
            var layer = new GraphicLayer { File = "bug.png", X = 100, Y = 10, Visible = false, FadeMs = 200 };
            var bus = Bus("program", 160, 90, At(A.Input, 0, 0, 160, 90)) with { Graphics = [layer] };
            await using var h = await StartAsync(SceneOf(feeds, bus), feeds, harness => harness.Options() with { GraphicsDirectory = dir });
            var program = h.Read("program");
            await program.WaitForFrameAsync(TimeSpan.FromSeconds(20), f => Near(f.ColorAt(120, 20), A));

            await h.Mixer!.ExecuteAsync(new GraphicsCommand { Bus = "program", Layer = 0, Visible = true });
            await program.WaitForFrameAsync(TimeSpan.FromSeconds(5), f => Colors.Near(f.ColorAt(120, 20), (250, 0, 250)) && Near(f.ColorAt(40, 60), A));

            var escape = SceneOf(feeds, bus with { Graphics = [layer with { File = "../../etc/passwd.png", Visible = true }] }) with { Revision = 9 };
            var refused = await Assert.ThrowsAsync<SceneException>(() => h.Mixer.ApplyAsync(escape));
            output.WriteLine(refused.Message);
            Assert.Contains("passwd.png", refused.Message);
            await program.WaitForFrameAsync(TimeSpan.FromSeconds(5), f => Colors.Near(f.ColorAt(120, 20), (250, 0, 250)));
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Fact]
    public async Task The_multiview_shows_every_input_and_its_tally_borders_follow_program()
    {
        FeedSpec[] feeds = [A, B, C];
        var program = Bus("program", 160, 90, At(A.Input, 0, 0, 160, 90)) with { Preview = new Shot { Boxes = [At(B.Input, 0, 0, 160, 90)] } };
        var multiview = Bus("aux1", 320, 180) with { Kind = BusKind.Multiview };
        var scene = SceneOf(feeds, program, multiview);
        await using var h = await StartAsync(scene, feeds);
        var reader = h.Read("aux1");
        var tiles = MultiviewLayout.Tiles(scene, multiview.Format);
        MultiviewTile Tile(FeedSpec f) => tiles.Single(t => t.Input == f.Input);
        MultiviewTile programTile = tiles.Single(t => t.Kind == MultiviewTileKind.Program), previewTile = tiles.Single(t => t.Kind == MultiviewTileKind.Preview);
        (byte, byte, byte) Inside(RgbFrame f, MultiviewTile t) => f.ColorAt(t.X + t.Width / 2, t.Y + t.Height / 3, 2);
        (byte, byte, byte) Border(RgbFrame f, MultiviewTile t) => f.ColorAt(t.X + 1, t.Y + t.Height / 2, 0);
        bool Red((byte R, byte G, byte B) c) => c.R > 150 && c.G < 90 && c.B < 90;
        bool Green((byte R, byte G, byte B) c) => c.G > 100 && c.R < 90 && c.B < 90;

        await reader.WaitForFrameAsync(TimeSpan.FromSeconds(20), f =>
            Near(Inside(f, Tile(A)), A) && Near(Inside(f, Tile(B)), B) && Near(Inside(f, Tile(C)), C)
            && Near(Inside(f, programTile), A) && Near(Inside(f, previewTile), B)
            && Red(Border(f, Tile(A))) && Green(Border(f, Tile(B))) && Colors.IsBlack(Border(f, Tile(C))));

        await h.Mixer!.ExecuteAsync(new CutCommand { Bus = "program" });
        var after = await reader.WaitForFrameAsync(TimeSpan.FromSeconds(5), f =>
            Red(Border(f, Tile(B))) && Green(Border(f, Tile(A))) && Near(Inside(f, programTile), B) && Near(Inside(f, previewTile), A));
        Assert.True(Colors.IsBlack(Border(after, Tile(C))));
    }
}
