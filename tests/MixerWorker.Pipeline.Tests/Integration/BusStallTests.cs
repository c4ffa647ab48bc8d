using MixerWorker.Pipeline.Scene;
using MixerWorker.Testbed.Feeds;
using MixerWorker.Testbed.Imaging;
using MixerWorker.Testbed.Reading;
using MixerWorker.Testbed.StandIn;
using Xunit;
using Xunit.Abstractions;
using static MixerWorker.Pipeline.Tests.Integration.MixHarness;

namespace MixerWorker.Pipeline.Tests.Integration;

/// <summary>A bus whose muxer stops for good is noticed and rebuilt alone; the other buses never stop.</summary>
public sealed class BusStallTests(ITestOutputHelper output)
{
    private static readonly FeedSpec A = FeedSpec.Numbered(0) with { Width = 160, Height = 90 };

    [Fact]
    public async Task A_bus_whose_muxer_stops_is_reported_once_and_rebuilt_and_the_other_buses_never_stop()
    {
        var scene = new SceneDefinition
        {
            Project = Project,
            Inputs = [new InputDefinition { Name = A.Input }],
            Buses = [.. new[] { "program", "aux1", "aux2" }.Select(b => Bus(b, 160, 90, At(A.Input, 0, 0, 160, 90)))],
        };
        await using var h = await StartShowAsync(output, scene, [A]);
        var readers = new[] { "program", "aux1", "aux2" }.ToDictionary(b => b, b => h.Read(b));
        foreach (var r in readers.Values) await r.WaitForFrameAsync(TimeSpan.FromSeconds(20), f => Colors.Near(f.ColorAt(80, 45), A.Rgb));
        var timeout = h.Options().BusStallTimeout;

        using var watching = new CancellationTokenSource();
        var silences = readers.ToDictionary(r => r.Key, r => LongestSilenceAsync(r.Value, watching.Token));
        var counts = BusCounters.SampleAsync(h.Mixer!, "aux1", watching.Token);
        using var stop = await h.Mixer!.StopMuxerAsync("aux1");
        var stopped = DateTimeOffset.UtcNow;

        // The stop is real: no picture of aux1 reaches its viewer for a while...
        await Task.Delay(TimeSpan.FromSeconds(2));
        var before = readers["aux1"].Stats.Frames;
        await Task.Delay(TimeSpan.FromSeconds(1));
        Assert.Equal(before, readers["aux1"].Stats.Frames);
        // ...then its pictures come back to the same viewer, on the same connection.
        var back = await readers["aux1"].WaitForFrameAsync(timeout + TimeSpan.FromSeconds(15), f => Colors.Near(f.ColorAt(80, 45), A.Rgb));
        output.WriteLine($"aux1 back {(back.At - stopped).TotalSeconds:F1} s after its muxer stopped");
        await Task.Delay(TimeSpan.FromSeconds(1.5));
        await watching.CancelAsync();

        // Its timeline goes on forward across the gap, as the clock did: its pictures on the wire jump by the silence.
        var pictures = readers["aux1"].PesArrivals.Where(p => !p.Sound).ToList();
        var gap = Enumerable.Range(1, pictures.Count - 1).MaxBy(i => pictures[i].ArrivalUs - pictures[i - 1].ArrivalUs);
        var (last, next) = (pictures[gap - 1], pictures[gap]);
        output.WriteLine($"aux1 on the wire: pts {last.PtsNs / 1e6:F0} ms, then {(next.ArrivalUs - last.ArrivalUs) / 1000} ms later pts +{(next.PtsNs - last.PtsNs) / 1e6:F0} ms");
        Assert.InRange(next.PtsNs - last.PtsNs, (long)(timeout.TotalMilliseconds - 500) * 1_000_000, (next.ArrivalUs - last.ArrivalUs + 500_000) * 1000);
        foreach (var (bus, silence) in silences) output.WriteLine($"{bus}: longest without a new picture {(await silence).TotalMilliseconds:F0} ms; {readers[bus].Stats}");
        // The other buses never stopped, not when aux1 stalled nor when it was rebuilt: at most a hiccup
        // of the loaded machine (every bus and the readers alike: up to 1.05 s seen in the suite), far
        // from the stall.
        foreach (var bus in new[] { "program", "aux2" })
            Assert.True(await silences[bus] < timeout / 2, $"{bus} stopped for {(await silences[bus]).TotalMilliseconds:F0} ms");
        Assert.True(await silences["aux1"] >= timeout - TimeSpan.FromSeconds(0.5), "aux1 was silent for about the stall timeout at least");

        // Reported once: one warning, the status, and a line when its pictures flow again.
        var status = await h.Mixer.GetStatusAsync();
        foreach (var (name, bus) in status.Buses) output.WriteLine($"{name}: {bus}");
        Assert.Equal(1, status.Buses["aux1"].Stalls);
        Assert.False(status.Buses["aux1"].Stalled);
        Assert.All(new[] { "program", "aux2" }, b => Assert.Equal(0, status.Buses[b].Stalls));
        var warnings = h.Log.Lines.Where(l => l.Contains(" Warning: ", StringComparison.Ordinal) && l.Contains("stalled")).ToList();
        Assert.Single(warnings);
        Assert.Contains("bus aux1:", warnings[0]);
        Assert.Contains("its SRT output connection kept", warnings[0]);
        Assert.Contains(h.Log.Lines, l => l.Contains("bus aux1: pictures leave it again"));
        Assert.DoesNotContain(h.Log.Lines, l => l.Contains(OutputPassphrase) || l.Contains(Token));
        // The publisher was kept: one publish of aux1, so the hub kept its viewers. (This reader's own
        // pipeline stops at the new muxer's stream, "not-linked", and reads again; the hub remuxes.)
        Assert.Equal(1, h.StandIn.Attempts().Count(a => a.Action == "publish" && a.Path == $"out/{Project}/aux1" && a.Outcome == SrtAttemptOutcome.Accepted));

        // Its counters are the bus's, not its branch's: the new branch's start at zero, the bus's go on.
        var samples = await counts;
        BusCounters.AssertNeverFellAndGrewAfter(output, "aux1", [.. samples.Select(s => s.Bus)], samples.FindIndex(s => s.Bus.Stalls > 0));
    }

    // The longest a reader went without a new picture, sampled every 50 ms until cancelled.
    private static async Task<TimeSpan> LongestSilenceAsync(OutputReader reader, CancellationToken stop)
    {
        var (frames, since, longest) = (reader.Stats.Frames, DateTimeOffset.UtcNow, TimeSpan.Zero);
        while (!stop.IsCancellationRequested)
        {
            try { await Task.Delay(50, stop); } catch (OperationCanceledException) { }
            var now = DateTimeOffset.UtcNow;
            if (now - since > longest) longest = now - since;
            if (reader.Stats.Frames != frames) (frames, since) = (reader.Stats.Frames, now);
        }
        return longest;
    }
}
