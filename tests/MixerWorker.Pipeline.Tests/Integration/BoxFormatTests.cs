using MixerWorker.Pipeline.Builders;
using MixerWorker.Pipeline.Scene;
using MixerWorker.Testbed.Feeds;
using MixerWorker.Testbed.Imaging;
using Xunit;
using Xunit.Abstractions;
using static MixerWorker.Pipeline.Tests.Integration.MixHarness;

namespace MixerWorker.Pipeline.Tests.Integration;

/// <summary>
/// Each box converts its picture once: scaled straight to the bus's I420 at the box's size and in the
/// mix's colour (BT.709, mpeg2 chroma siting), so the compositor blends it as it is instead of
/// converting every box of every frame again. The test feeds are small, so their decoders say BT.601:
/// the scaler converts them once, on the way, and their colours arrive as they were sent.
/// </summary>
public sealed class BoxFormatTests(ITestOutputHelper output)
{
    private static readonly FeedSpec A = FeedSpec.Numbered(0), B = FeedSpec.Numbered(1), C = FeedSpec.Numbered(2);

    [Fact]
    public async Task Every_box_and_multiview_tile_is_scaled_to_I420_at_its_size_and_reaches_the_compositor_unchanged()
    {
        // Odd sizes and a crop on purpose: 4:2:0 at odd sizes is where a converter would be tempted back in.
        var program = Bus("program", 320, 180, At(A.Input, 0, 0, 160, 180), At(B.Input, 160, 0, 160, 180),
            At(C.Input, 201, 11, 97, 55, z: 1) with { Crop = new Crop { Left = 33, Top = 7 } });
        var multiview = Bus("aux1", 320, 180) with { Kind = BusKind.Multiview };
        var scene = new SceneDefinition
        {
            Project = Project, Inputs = [.. new[] { A, B, C }.Select(f => new InputDefinition { Name = f.Input })], Buses = [program, multiview],
        };
        await using var h = await MixHarness.StartShowAsync(output, scene, [A, B, C]);
        // A bus publishes from its first frame; each box negotiates when its input's first picture reaches it.
        var caps = await h.Mixer!.GetBoxCapsAsync();
        for (var deadline = DateTime.UtcNow.AddSeconds(15); DateTime.UtcNow < deadline; caps = await h.Mixer.GetBoxCapsAsync())
        {
            if (caps.Values.All(boxes => boxes.Count > 0 && boxes.All(b => b.Scaled is not null && b.Mixed is not null && b.Output is not null))) break;
            await Task.Delay(100);
        }
        foreach (var (bus, boxes) in caps)
            foreach (var box in boxes)
                output.WriteLine($"{bus} {box.Source}: scaled {box.Scaled} → compositor {box.Mixed} → out {box.Output}");

        Assert.Equal(3, caps["program"].Count);
        foreach (var box in program.Layout)
        {
            var negotiated = Assert.Single(caps["program"], c => c.Source == box.Source);
            Assert.Contains("format=(string)I420", negotiated.Scaled);
            Assert.Contains($"width=(int){box.Width},", negotiated.Scaled);
            Assert.Contains($"height=(int){box.Height},", negotiated.Scaled);
            AssertScaledToTheMixColour(negotiated);
            Assert.Contains("format=(string)I420", negotiated.Mixed);
            AssertSameColourAsOutput(negotiated);
        }
        // Tiles add a tally border and a label after scaling; they stay in I420 up to the compositor.
        Assert.NotEmpty(caps["aux1"]);
        Assert.All(caps["aux1"], tile =>
        {
            Assert.Contains("format=(string)I420", tile.Scaled);
            AssertScaledToTheMixColour(tile);
            Assert.Contains("format=(string)I420", tile.Mixed);
            AssertSameColourAsOutput(tile);
        });
    }

    [Fact]
    public async Task A_BT601_camera_colour_arrives_unchanged_whether_its_box_is_scaled_or_full_size()
    {
        // Green moves most when BT.601 pixels are read as BT.709 (its G by about 25 steps of 255).
        var green = FeedSpec.Numbered(1);
        var scene = new SceneDefinition
        {
            Project = Project, Inputs = [new InputDefinition { Name = green.Input }],
            Buses = [Bus("program", 320, 180, At(green.Input, 0, 0, 320, 180)), Bus("aux1", 320, 180, At(green.Input, 80, 45, 160, 90))],
        };
        await using var h = await MixHarness.StartShowAsync(output, scene, [green]);
        foreach (var bus in new[] { "program", "aux1" })
        {
            var reader = h.Read(bus);
            try
            {
                await reader.WaitForFrameAsync(TimeSpan.FromSeconds(15), f => Colors.Near(f.ColorAt(160, 90), green.Rgb, 8));
            }
            finally { output.WriteLine($"{bus}: {reader.Latest?.ColorAt(160, 90).ToString() ?? "no picture"} at the box's centre, sent {green.Rgb}"); }
        }
    }

    // The compositor converts a pad whose colorimetry or chroma siting differs from its output's, for every frame.
    private static void AssertSameColourAsOutput(BoxCaps box)
    {
        Assert.Equal("bt709", Field(box.Output!, "colorimetry"));
        Assert.Equal("mpeg2", Field(box.Output!, "chroma-site"));
        Assert.Equal(Field(box.Output!, "colorimetry"), Field(box.Mixed!, "colorimetry"));
        Assert.Equal(Field(box.Output!, "chroma-site"), Field(box.Mixed!, "chroma-site"));
    }

    // What the box is scaled to is already labelled in the mix's colour, so the converter after the scaler passes it on.
    private static void AssertScaledToTheMixColour(BoxCaps box)
    {
        Assert.Equal("bt709", Field(box.Scaled!, "colorimetry"));
        Assert.Equal("mpeg2", Field(box.Scaled!, "chroma-site"));
    }

    private static string? Field(string caps, string name) =>
        System.Text.RegularExpressions.Regex.Match(caps, $@"{name}=\(string\)([^,;]+)") is { Success: true } m ? m.Groups[1].Value : null;
}
