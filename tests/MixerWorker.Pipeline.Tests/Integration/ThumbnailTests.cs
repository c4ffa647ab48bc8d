using MixerWorker.Pipeline.Engine;
using MixerWorker.Pipeline.Scene;
using MixerWorker.Testbed.Feeds;
using MixerWorker.Testbed.Imaging;
using Xunit;
using Xunit.Abstractions;
using static MixerWorker.Pipeline.Tests.Integration.MixHarness;

namespace MixerWorker.Pipeline.Tests.Integration;

/// <summary>Bus thumbnails: small JPEGs of the mixed picture, taken about once an interval, never wider than asked or than the bus.</summary>
public sealed class ThumbnailTests(ITestOutputHelper output)
{
    private static readonly FeedSpec A = FeedSpec.Numbered(0) with { Width = 160, Height = 90 }, B = FeedSpec.Numbered(1) with { Width = 160, Height = 90 };

    private static SceneDefinition Scene => new()
    {
        Project = Project,
        Inputs = [new InputDefinition { Name = A.Input }, new InputDefinition { Name = B.Input }],
        Buses = [Bus("program", 160, 90, At(A.Input, 0, 0, 160, 90)), Bus("aux1", 640, 360, At(B.Input, 0, 0, 640, 360))],
    };

    [Fact]
    public async Task Each_bus_has_a_thumbnail_of_its_picture_at_about_the_interval()
    {
        await using var h = await StartShowAsync(output, Scene, [A, B], h => h.Options() with { ThumbnailInterval = TimeSpan.FromMilliseconds(250), ThumbnailWidth = 320 });
        var mixer = h.Mixer!;
        IReadOnlyDictionary<string, Thumbnail> thumbnails = new Dictionary<string, Thumbnail>();
        var deadline = DateTime.UtcNow.AddSeconds(15);
        // Until both show their input (a bus shows its background until the input's first picture).
        while (!(thumbnails.TryGetValue("program", out var p) && Colors.Near(JpegDecoder.Decode(p.Jpeg, p.Width, p.Height).ColorAt(p.Width / 2, p.Height / 2), A.Rgb)
                 && thumbnails.TryGetValue("aux1", out var x) && Colors.Near(JpegDecoder.Decode(x.Jpeg, x.Width, x.Height).ColorAt(x.Width / 2, x.Height / 2), B.Rgb)))
        {
            Assert.True(DateTime.UtcNow < deadline, $"no thumbnails of the inputs' colours; have: {string.Join(", ", thumbnails.Keys)}");
            await Task.Delay(100);
            thumbnails = await mixer.GetThumbnailsAsync();
        }
        var program = thumbnails["program"];
        var aux1 = thumbnails["aux1"];
        output.WriteLine($"program {program.Width}x{program.Height} {program.Jpeg.Length} bytes; aux1 {aux1.Width}x{aux1.Height} {aux1.Jpeg.Length} bytes");
        Assert.Equal((160, 90), (program.Width, program.Height)); // not wider than the bus
        Assert.Equal((320, 180), (aux1.Width, aux1.Height));      // the bus's aspect at the asked width
        Assert.Equal([0xFF, 0xD8], aux1.Jpeg[..2]);               // a JPEG
        Assert.InRange(aux1.Jpeg.Length, 500, 30_000);            // small: a solid colour is a few kB
        // Not a branch of the raw tee: a second branch makes the tee ask the compositor's pool for a second picture, held for good.
        Assert.All((await mixer.GetRawTeeBranchesAsync()).Values, branches => Assert.Equal(1, branches));

        // About one new picture per interval, not one per frame (30 a second), when asked often.
        var first = (await mixer.GetThumbnailsAsync())["aux1"].Sequence;
        var until = DateTime.UtcNow.AddSeconds(2);
        while (DateTime.UtcNow < until) { await mixer.GetThumbnailsAsync(); await Task.Delay(20); }
        var taken = (await mixer.GetThumbnailsAsync())["aux1"].Sequence - first;
        output.WriteLine($"new thumbnails in 2 s at a 250 ms interval: {taken}");
        Assert.InRange(taken, 4, 12);
    }

    [Fact]
    public async Task No_thumbnails_when_the_interval_is_zero()
    {
        await using var h = await StartShowAsync(output, Scene, [A, B], h => h.Options() with { ThumbnailInterval = TimeSpan.Zero });
        await Task.Delay(1500);
        Assert.Empty(await h.Mixer!.GetThumbnailsAsync());
    }
}
