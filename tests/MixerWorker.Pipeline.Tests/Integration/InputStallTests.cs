using System.Globalization;
using System.Text.RegularExpressions;
using MixerWorker.Pipeline.Scene;
using MixerWorker.Testbed.Feeds;
using MixerWorker.Testbed.Imaging;
using Xunit;
using Xunit.Abstractions;
using static MixerWorker.Pipeline.Tests.Integration.MixHarness;

namespace MixerWorker.Pipeline.Tests.Integration;

/// <summary>
/// An input whose decoder hands on nothing for the stall timeout is ended, saying what kept arriving meanwhile; an input
/// keeps running through a rebuild of a bus that shows it.
/// </summary>
public sealed class InputStallTests(ITestOutputHelper output)
{
    private static readonly FeedSpec A = FeedSpec.Numbered(0) with { Width = 160, Height = 90 };

    [Fact]
    public async Task An_input_whose_decoder_is_held_is_ended_saying_that_its_feed_kept_arriving_and_waits_before_its_demuxer()
    {
        var scene = new SceneDefinition
        {
            Project = Project,
            Inputs = [new InputDefinition { Name = A.Input }],
            Buses = [Bus("program", 160, 90, At(A.Input, 0, 0, 160, 90))],
        };
        await using var h = await StartShowAsync(output, scene, [A]);
        var reader = h.Read("program");
        await reader.WaitForFrameAsync(TimeSpan.FromSeconds(20), f => Colors.Near(f.ColorAt(80, 45), A.Rgb));

        // The input's streaming thread (demuxer and decoder) held at each picture for twice the stall timeout: the feed
        // keeps arriving and piles up before the demuxer, and nothing leaves the decoder.
        var timeout = h.Options().InputStallTimeout;
        string? ended = null;
        using (await h.Mixer!.StallDecoderAsync(A.Input, 2 * timeout))
        {
            var deadline = DateTime.UtcNow + 5 * timeout + TimeSpan.FromSeconds(5);
            while ((ended = h.Log.Lines.FirstOrDefault(l => l.Contains($"input '{A.Input}': no data for", StringComparison.Ordinal))) is null && DateTime.UtcNow < deadline)
                await Task.Delay(50);
        }
        Assert.NotNull(ended);
        var said = Regex.Match(ended, @"\(([\d.]+) kB received since its last decoded data, ([\d.]+) kB waiting before its demuxer, (\d+) SRT packets dropped too late so far\)");
        Assert.True(said.Success, ended);
        Assert.True(double.Parse(said.Groups[1].Value, CultureInfo.InvariantCulture) > 0, ended);
        Assert.True(double.Parse(said.Groups[2].Value, CultureInfo.InvariantCulture) > 0, ended);
    }

    /// <summary>
    /// A stalled bus is stopped (from its muxer back, so that every thread held on it is let go) and then taken down and
    /// built again; on a starved machine the control thread is held between the two for as long as the rebuild took
    /// there (680 ms seen). Meanwhile the input's shared scaler, which the bus's box still hangs on, goes on pushing
    /// pictures: the input must go on too, on the other bus and on the rebuilt one, never ended for want of data.
    /// </summary>
    [Fact]
    public async Task An_input_keeps_running_while_a_bus_showing_it_is_stopped_and_rebuilt_slowly()
    {
        var scene = new SceneDefinition
        {
            Project = Project,
            Inputs = [new InputDefinition { Name = A.Input }],
            Buses = [.. new[] { "program", "aux1" }.Select(b => Bus(b, 160, 90, At(A.Input, 0, 0, 160, 90)))],
        };
        await using var h = await StartShowAsync(output, scene, [A]);
        var readers = new[] { "program", "aux1" }.ToDictionary(b => b, b => h.Read(b));
        foreach (var r in readers.Values) await r.WaitForFrameAsync(TimeSpan.FromSeconds(20), f => Colors.Near(f.ColorAt(80, 45), A.Rgb));

        await h.Mixer!.RebuildBusAsync("aux1", TimeSpan.FromMilliseconds(700));
        var rebuilt = DateTimeOffset.UtcNow;
        // Long enough for an input without data to be ended (the harness's stall timeout) and reconnected.
        var framesIn = (await h.Mixer.GetStatusAsync()).Inputs[A.Input].FramesIn;
        await Task.Delay(3 * h.Options().InputStallTimeout);
        var status = await h.Mixer.GetStatusAsync();
        var after = status.Inputs[A.Input].FramesIn - framesIn;
        output.WriteLine($"{A.Input}: {after} pictures in {3 * h.Options().InputStallTimeout.TotalSeconds:0} s after the rebuild; {status.Inputs[A.Input]}");
        Assert.DoesNotContain(h.Log.Lines, l => l.Contains("no data for", StringComparison.Ordinal));
        Assert.True(after >= 2 * A.Fps, $"{A.Input} delivered {after} pictures in 3 s after the rebuild");
        // Both buses show the input again, the rebuilt one too.
        foreach (var r in readers.Values) await r.WaitForFrameAsync(TimeSpan.FromSeconds(10), f => Colors.Near(f.ColorAt(80, 45), A.Rgb) && f.At > rebuilt);
    }
}
