using MixerWorker.Pipeline.Engine;
using MixerWorker.Pipeline.Scene;
using MixerWorker.Testbed.Feeds;
using MixerWorker.Testbed.Imaging;
using MixerWorker.Testbed.Reading;
using Xunit;
using Xunit.Abstractions;
using static MixerWorker.Pipeline.Tests.Integration.MixHarness;

namespace MixerWorker.Pipeline.Tests.Integration;

/// <summary>A box whose input has no signal shows a card with the input's name, "NO SIGNAL" and the time since it was lost.</summary>
public sealed class NoSignalCardTests(ITestOutputHelper output)
{
    private static readonly FeedSpec A = FeedSpec.Numbered(0), B = FeedSpec.Numbered(1);

    private static readonly SceneDefinition SideBySide = new()
    {
        Project = Project,
        Inputs = [new InputDefinition { Name = A.Input }, new InputDefinition { Name = B.Input }],
        Buses = [Bus("program", 320, 180, At(A.Input, 0, 0, 160, 180), At(B.Input, 160, 0, 160, 180))],
    };

    // Light pixels (the card's white text) in the left box; the card itself and the feeds' colours are darker or coloured.
    private static int TextPixels(RgbFrame f)
    {
        var n = 0;
        for (var y = 0; y < 180; y++)
            for (var x = 0; x < 160; x++)
            {
                var i = (y * f.Width + x) * 3;
                if (f.Pixels[i] > 180 && f.Pixels[i + 1] > 180 && f.Pixels[i + 2] > 180) n++;
            }
        return n;
    }

    private static bool ShowsCard(RgbFrame f) =>
        Colors.Near(f.ColorAt(8, 8), Colors.NoSignalCard, 20) && Colors.Near(f.ColorAt(150, 170), Colors.NoSignalCard, 20) && TextPixels(f) > 100;

    [Fact]
    public async Task A_box_without_signal_shows_the_inputs_card_then_its_picture_when_it_comes_and_the_card_again_when_it_goes()
    {
        await using var h = await StartShowAsync(output, SideBySide, [B]); // cam-a never published
        var program = h.Read("program");
        var card = await program.WaitForFrameAsync(TimeSpan.FromSeconds(15), f => ShowsCard(f) && Colors.Near(f.ColorAt(240, 90), B.Rgb));
        output.WriteLine($"card: corner {card.ColorAt(8, 8)}, {TextPixels(card)} text pixels");
        PngWriter.Write(card, Artifact("program.png"));
        var cards = await h.Mixer!.GetNoSignalCardsAsync("program");
        var text = Assert.Single(cards, c => c.Key == (A.Input, 160, 180)).Value;
        Assert.Equal($"{A.Input}\nNO SIGNAL", text); // never connected: no time since lost
        Assert.DoesNotContain(cards, c => c.Key.Input == B.Input);

        // The camera comes: its picture replaces the card, which goes.
        var feedA = h.StartFeed(A);
        await program.WaitForFrameAsync(TimeSpan.FromSeconds(15), f => Colors.Near(f.ColorAt(80, 90), A.Rgb) && Colors.Near(f.ColorAt(8, 8), A.Rgb));
        await WaitAsync(async () => (await h.Mixer.GetNoSignalCardsAsync("program")).Count == 0, "the card goes once the input is live");

        // The camera dies: the card is back, with the time since the signal was lost, counting up.
        feedA.Dispose();
        await program.WaitForFrameAsync(TimeSpan.FromSeconds(10), f => ShowsCard(f) && Colors.Near(f.ColorAt(240, 90), B.Rgb));
        var first = (await h.Mixer.GetNoSignalCardsAsync("program"))[(A.Input, 160, 180)];
        output.WriteLine(first.Replace('\n', '|'));
        Assert.StartsWith($"{A.Input}\nNO SIGNAL\nlost 0:0", first);
        string later = first;
        await WaitAsync(async () => (later = (await h.Mixer.GetNoSignalCardsAsync("program"))[(A.Input, 160, 180)]) != first, "the time since lost counts up");
        output.WriteLine(later.Replace('\n', '|'));
        Assert.True(ShowsCard(program.Latest!), "the card stays while the input is gone");
    }

    [Fact]
    public async Task A_new_bus_builds_its_cards_once_its_output_connected_and_without_an_output_after_the_hold()
    {
        await using var h = new MixHarness(output);
        h.StartFeed(B);
        await h.WaitForPublisherAsync($"ingest/{Project}/{B.Input}", TimeSpan.FromSeconds(10));
        var gate = new PublishGate(open: false); // no output may connect: the cards wait for the hold alone
        var clock = System.Diagnostics.Stopwatch.StartNew();
        await using var mixer = await ProjectMixer.StartAsync(SideBySide, h.Options(), h.Log, gate);
        var early = await mixer.GetNoSignalCardsAsync("program");
        var seen = clock.Elapsed;
        output.WriteLine($"{early.Count} cards {seen.TotalMilliseconds:F0} ms after start");
        if (seen < ProjectGraph.CardHold) Assert.Empty(early);

        // cam-a never comes and the output never connects: its box gets its card all the same.
        await WaitAsync(async () => (await mixer.GetNoSignalCardsAsync("program")).ContainsKey((A.Input, 160, 180)), "the card comes after the hold");
        Assert.True(clock.Elapsed >= ProjectGraph.CardHold, $"the card came {clock.Elapsed.TotalMilliseconds:F0} ms after start, within the hold");

        // The output connects: viewers get the card.
        gate.Open();
        await h.Read("program").WaitForFrameAsync(TimeSpan.FromSeconds(15), f => ShowsCard(f) && Colors.Near(f.ColorAt(240, 90), B.Rgb));
    }

    [Fact]
    public async Task A_multiview_tile_without_signal_shows_the_card_inside_its_border_and_program_shows_it_too()
    {
        var program = Bus("program", 160, 90, At(A.Input, 0, 0, 160, 90)) with { Preview = new Shot { Boxes = [At(B.Input, 0, 0, 160, 90)] } };
        var multiview = Bus("aux1", 320, 180) with { Kind = BusKind.Multiview };
        var scene = SideBySide with { Buses = [program, multiview] };
        await using var h = await StartShowAsync(output, scene, [B]); // cam-a never published
        var reader = h.Read("aux1");
        var tiles = MultiviewLayout.Tiles(scene, multiview.Format);
        MultiviewTile tileA = tiles.Single(t => t.Input == A.Input), tileB = tiles.Single(t => t.Input == B.Input);
        var programTile = tiles.Single(t => t.Kind == MultiviewTileKind.Program);
        bool Shows(RgbFrame f) => Colors.Near(f.ColorAt(tileA.X + 8, tileA.Y + 8, 1), Colors.NoSignalCard, 20)
            && Colors.Near(f.ColorAt(tileB.X + tileB.Width / 2, tileB.Y + tileB.Height / 3, 2), B.Rgb)
            && Colors.Near(f.ColorAt(programTile.X + 20, programTile.Y + 14, 1), Colors.NoSignalCard, 20);
        RgbFrame frame;
        try { frame = await reader.WaitForFrameAsync(TimeSpan.FromSeconds(15), Shows); }
        catch (TimeoutException) when (reader.Latest is { } last)
        {
            PngWriter.Write(last, Artifact("multiview-failed.png"));
            output.WriteLine($"tile A {tileA} at +8: {last.ColorAt(tileA.X + 8, tileA.Y + 8, 1)}; tile B {tileB}; program {programTile} at +8: {last.ColorAt(programTile.X + 8, programTile.Y + 8, 1)}");
            throw;
        }
        PngWriter.Write(frame, Artifact("multiview.png"));
        Assert.True(Colors.Near(frame.ColorAt(tileA.X + 1, tileA.Y + tileA.Height / 2, 0), (0, 0, 0), 40), "the tally border stays outside the card");
        Assert.Equal($"{A.Input}\nNO SIGNAL", (await h.Mixer!.GetNoSignalCardsAsync("aux1"))[(A.Input, 0, 0)]);
    }

    // Pictures of the cards for people to look at: artifacts/no-signal/ in the repository.
    private static string Artifact(string name)
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "worker.sln"))) dir = dir.Parent;
        var folder = Path.Combine(dir?.FullName ?? Path.GetTempPath(), "artifacts", "no-signal");
        Directory.CreateDirectory(folder);
        return Path.Combine(folder, name);
    }

    private static async Task WaitAsync(Func<Task<bool>> condition, string what)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, what);
            await Task.Delay(100);
        }
    }
}
