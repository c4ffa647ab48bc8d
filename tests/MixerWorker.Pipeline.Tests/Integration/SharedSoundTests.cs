using MixerWorker.Pipeline.Builders;
using MixerWorker.Pipeline.Engine;
using MixerWorker.Pipeline.Scene;
using MixerWorker.Testbed.Audio;
using MixerWorker.Testbed.Feeds;
using MixerWorker.Testbed.Reading;
using MixerWorker.Testbed.Timing;
using Xunit;
using Xunit.Abstractions;
using static MixerWorker.Pipeline.Tests.Integration.MixHarness;

namespace MixerWorker.Pipeline.Tests.Integration;

/// <summary>
/// Buses that hear the same mix share one mix chain and encoder (Engine.SharedSound): counted in the
/// graph, and heard end to end through SRT and Opus as the buses part and join again.
/// </summary>
public sealed class SharedSoundTests(ITestOutputHelper output)
{
    private static readonly FeedSpec A = Small(0), B = Small(1);
    private static readonly TimeSpan FirstAudio = TimeSpan.FromSeconds(15);
    private static readonly TimeSpan Change = TimeSpan.FromSeconds(10);

    private static FeedSpec Small(int index) => FeedSpec.Numbered(index) with { Width = 160, Height = 90, Fps = 15 };

    private static readonly AudioMix Follow = new() { Mode = AudioMode.FollowVideo };

    private static BusDefinition Shows(string bus, FeedSpec onAir, AudioMix? audio = null) =>
        Bus(bus, 160, 90, At(onAir.Input, 0, 0, 160, 90)) with { Audio = audio ?? Follow };

    private static AudioMix Fixed(FeedSpec heard, double gainDb) =>
        new() { Mode = AudioMode.Fixed, Sources = [new AudioSource { Input = heard.Input, GainDb = gainDb }] };

    private static SceneDefinition Scene(params BusDefinition[] buses) =>
        new() { Project = Project, Inputs = [new() { Name = A.Input }, new() { Name = B.Input }], Buses = buses };

    // A bus hears `feed`'s tone alone, at its level plus `gainDb`.
    private async Task<AudioWindow> HearsAsync(OutputReader reader, string bus, FeedSpec feed, double gainDb = 0)
    {
        var other = feed == A ? B : A;
        await reader.Audio.WaitForAsync(Change, TimeSpan.FromMilliseconds(500),
            // Steady levels, as judged below: a hole in the sound splatters a tone over a whole window (at 0.3 core, no window clean enough in 10 s).
            w => Math.Abs(w.DominantHz() - feed.ToneHz) <= 3 && w.Steady(b => b.ToneDb(other.ToneHz)) < w.Steady(b => b.ToneDb(feed.ToneHz)) - 40, $"{bus} hearing {feed.Input} alone");
        var from = MachineShare.NowWithProbes();
        var w = await reader.Audio.RecordAsync(TimeSpan.FromSeconds(1));
        var machine = MachineShare.Since(from);
        output.WriteLine($"{bus}: {w}");
        DeliveryVerdict.Judge(output, machine, strict: () =>
        {
            Assert.InRange(w.Steady(b => b.RmsDb()), feed.ToneRmsDb + gainDb - 1.5, feed.ToneRmsDb + gainDb + 1.5);
            Assert.True(w.Steady(b => b.ToneDb(other.ToneHz)) < w.Steady(b => b.ToneDb(feed.ToneHz)) - 40, $"{bus} must not hear {other.Input}");
        }, live: () => AssertLive(w, bus, feed, gainDb));
        return w;
    }

    // On a machine that did not deliver, what no shortage explains. Sound late at a mixer or at a bus is silence or
    // a hole there (a lower level; a tone cut off mid-cycle, which spreads over every frequency in a short block):
    // the other feed's tone is never above this one's, and the level never above its own, as another tone mixed in
    // would make it. Tones are compared where there is sound: in a window mostly silent both read as noise.
    private static void AssertLive(AudioWindow w, string bus, FeedSpec feed, double gainDb)
    {
        var other = feed == A ? B : A;
        var block = TimeSpan.FromMilliseconds(100);
        var sounding = new AudioWindow([.. w.Blocks(block).Where(b => b.RmsDb() > feed.ToneRmsDb + gainDb - 20).SelectMany(b => b.Interleaved)], w.Channels, w.Rate);
        Assert.True(sounding.Steady(b => b.ToneDb(other.ToneHz), block) <= sounding.Steady(b => b.ToneDb(feed.ToneHz), block), $"{bus} hears {other.Input}'s tone above {feed.Input}'s: {w}");
        Assert.True(w.Steady(b => b.RmsDb()) <= feed.ToneRmsDb + gainDb + 1.5, $"{bus} is louder than {feed.Input}'s tone alone: {w}");
    }

    // Program, aux1 and aux2 all showing A, so all hearing the same mix.
    private static readonly SceneDefinition ThreeOnA = Scene(Shows("program", A), Shows("aux1", A), Shows("aux2", A));

    // Program's and aux1's readers, once program sounds.
    private static async Task<(OutputReader Program, OutputReader Aux1)> SoundingAsync(MixHarness h)
    {
        var (program, aux1) = (h.Read("program"), h.Read("aux1"));
        await program.Audio.WaitForAsync(FirstAudio, TimeSpan.FromMilliseconds(500), w => w.RmsDb() > A.ToneRmsDb - 6, "program's sound");
        return (program, aux1);
    }

    private async Task ChainsAsync(MixHarness h, int expected, string when)
    {
        var (mixers, encoders) = (await h.Mixer!.CountElementsAsync("audiomixer"), await h.Mixer.CountElementsAsync("opusenc"));
        output.WriteLine($"{when}: {mixers} audio mixers, {encoders} Opus encoders");
        Assert.Equal(expected, mixers);
        Assert.Equal(expected, encoders);
    }

    [Fact]
    public async Task Buses_hearing_the_same_mix_share_one_chain_a_bus_that_diverges_parts_and_one_that_matches_again_rejoins()
    {
        var scene = ThreeOnA;
        DeliveryVerdict.Calibrate(output);
        await using var h = await StartShowAsync(output, scene, [A, B]);
        var (program, aux1) = await SoundingAsync(h);
        await HearsAsync(program, "program", A);
        await HearsAsync(aux1, "aux1", A);
        await ChainsAsync(h, 1, "three buses following the same picture");

        // A cut on program alone (audio follows video): program parts, the others keep the chain.
        scene = scene with { Buses = [Shows("program", B), Shows("aux1", A), Shows("aux2", A)] };
        await h.Mixer!.ApplyAsync(scene);
        await HearsAsync(program, "program", B);
        await HearsAsync(aux1, "aux1", A);
        await ChainsAsync(h, 2, "after a cut on program alone");

        // aux1 shows what program shows: it joins program's chain, and its own goes.
        scene = scene with { Buses = [Shows("program", B), Shows("aux1", B), Shows("aux2", A)] };
        await h.Mixer.ApplyAsync(scene);
        await HearsAsync(aux1, "aux1", B);
        await ChainsAsync(h, 2, "after aux1 took program's picture");
        Assert.Equal(new Dictionary<string, double> { [B.Input] = 1 }, (await h.Mixer.GetAudioGraphAsync()).BusGains["aux1"]);

        // A gain on aux1 alone: it parts again at its own level; program, on the chain they shared, stays at unity.
        scene = scene with { Buses = [Shows("program", B), Shows("aux1", B, Fixed(B, -6)), Shows("aux2", A)] };
        await h.Mixer.ApplyAsync(scene);
        await HearsAsync(aux1, "aux1", B, -6);
        await HearsAsync(program, "program", B);
        await ChainsAsync(h, 3, "after a gain on aux1 alone");
        // Every bus's sound meter reads its own chain: aux1 6 dB below program. Each meter's median over ten snapshots:
        // on a machine short of CPU one reading may cover a block its mixer made without the input's late sound
        // (lower), and one taken while a chain's thread waited reads as silence.
        await Task.Delay(TimeSpan.FromMilliseconds(300));
        var snapshots = new List<IReadOnlyDictionary<string, AudioLevel>>();
        var from = MachineShare.NowWithProbes();
        for (var i = 0; i < 10; i++)
        {
            snapshots.Add(h.Mixer.GetMeters().Buses);
            await Task.Delay(TimeSpan.FromMilliseconds(100));
        }
        var machine = MachineShare.Since(from);
        double Median(string bus) => snapshots.Select(m => m[bus].RmsDb).Order().ElementAt(snapshots.Count / 2);
        output.WriteLine($"meters (RMS, medians of {snapshots.Count}): program {Median("program"):F1}, aux1 {Median("aux1"):F1}, aux2 {Median("aux2"):F1} dBFS; "
            + $"program less aux1 {string.Join(" ", snapshots.Select(m => $"{m["program"].RmsDb - m["aux1"].RmsDb:F1}"))}");
        DeliveryVerdict.Judge(output, machine, strict: () => Assert.InRange(Median("program") - Median("aux1"), 4.5, 7.5),
            live: () => Assert.True(Median("program") > Median("aux1"), $"aux1's meter ({Median("aux1"):F1} dBFS) is not below program's ({Median("program"):F1})"));
        Assert.True(program.Connections == 1, program.ConnectionReport);
        Assert.True(aux1.Connections == 1, aux1.ConnectionReport);
        // Moving between chains is no fault: each muxer kept its sound stream as it was.
        var status = await h.Mixer.GetStatusAsync();
        foreach (var (name, bus) in status.Buses) Assert.True(bus.Error is null, $"{name} reports: {bus.Error}");
    }

    [Fact]
    public async Task Buses_sharing_a_chain_each_give_their_muxer_a_block_of_their_own()
    {
        await using var h = await StartShowAsync(output, ThreeOnA, [A, B]);
        await SoundingAsync(h);
        await ChainsAsync(h, 1, "three buses following the same picture");
        // Per bus: blocks from the chain and how many of them others shared, then the same at the bus's muxer.
        var buses = new[] { "program", "aux1", "aux2" };
        var (blocks, shared) = (new int[buses.Length, 2], new int[buses.Length, 2]);
        var watches = new List<IDisposable>();
        for (var i = 0; i < buses.Length; i++)
            foreach (var atMuxer in new[] { false, true })
            {
                var (bus, at) = (i, atMuxer ? 1 : 0);
                watches.Add(await h.Mixer!.WatchSoundAsync(buses[bus], atMuxer, alone =>
                {
                    Interlocked.Increment(ref blocks[bus, at]);
                    if (!alone) Interlocked.Increment(ref shared[bus, at]);
                }));
            }
        await Task.Delay(TimeSpan.FromSeconds(2));
        foreach (var w in watches) w.Dispose();
        for (var i = 0; i < buses.Length; i++)
        {
            output.WriteLine($"{buses[i]}: {blocks[i, 0]} blocks from the chain, {shared[i, 0]} shared; {blocks[i, 1]} into its muxer, {shared[i, 1]} shared");
            // 20 ms blocks, about 100 in 2 s (fewer on a busy machine). The chain hands one block to all three buses,
            // so the bus gets it shared: what the watch would see at the muxer without a copy of its own.
            Assert.True(blocks[i, 1] >= 50, $"{buses[i]}: only {blocks[i, 1]} blocks reached its muxer in 2 s");
            Assert.True(shared[i, 0] >= blocks[i, 0] / 2, $"{buses[i]}: the chain's blocks were not shared ({shared[i, 0]} of {blocks[i, 0]})");
            Assert.Equal(0, shared[i, 1]);
        }
    }

    // Opus's encoder delay at 48 kHz, at most 312 samples (120 with CELT alone, BusAudio.CeltOnlyFromKbps): a new
    // encoder's first block starts with that much priming.
    private const double OpusPrimingMs = 6.5;

    // The largest hole in `chunks`, by their timestamps: between one chunk's end and the next one's start.
    private static double LargestHoleMs(IReadOnlyList<PcmChunk> chunks, int channels, int rate)
    {
        var timed = chunks.Where(c => c.Pts is not null).ToList();
        return timed.Zip(timed.Skip(1), (a, b) => ((long)b.Pts!.Value - (long)a.Pts!.Value - (long)(a.Samples.Length / channels * 1e9 / rate)) / 1e6)
            .DefaultIfEmpty(double.MaxValue).Max();
    }

    // Sound each bus dropped late because its chain's thread waited for a CPU (LatenessGuard.AudioStarvedNs)
    // since `before`: a machine that starves a chain's thread makes its sound late, and the bus drops it
    // (a gap rather than a delay, as designed). Holes as long as that are the machine's, not the engine's;
    // a chain held back by a move or a stuck muxer waits on no run queue and is not counted here.
    private static async Task<Func<string, double>> StarvedMsAsync(MixHarness h, IReadOnlyDictionary<string, (TimeSpan Dropped, TimeSpan Starved)> before)
    {
        var after = await h.Mixer!.GetSoundDroppedLateAsync();
        return bus => (after[bus].Starved - before[bus].Starved).TotalMilliseconds;
    }

    [Fact]
    public Task A_bus_that_stays_on_the_chain_hears_no_break_when_another_bus_parts_and_the_one_that_parts_at_most_a_block() => PartsAsync(null);

    [Fact]
    public Task A_bus_that_parts_while_the_control_thread_is_held_between_chains_loses_no_block_of_the_new_one() =>
        // Held shorter than sound may be late at the muxer (two frames), so the new chain, held meanwhile, drops nothing.
        PartsAsync(TimeSpan.FromMilliseconds(50));

    // Program parts from the chain it shares with aux1 and aux2; with `heldBetweenChains`, the control thread is held that
    // long as it moves program, after it left the shared chain and before it takes the new one's branch.
    private async Task PartsAsync(TimeSpan? heldBetweenChains)
    {
        var scene = ThreeOnA;
        DeliveryVerdict.Calibrate(output);
        await using var h = await StartShowAsync(output, scene, [A, B]);
        var (program, aux1) = await SoundingAsync(h);
        await HearsAsync(aux1, "aux1", A);
        if (heldBetweenChains is { } hold) await h.Mixer!.HoldMovesBetweenChainsAsync("program", hold);

        // A fixed mix of A on program alone hears what it heard, at the same level, from a chain of its own.
        var from = DateTimeOffset.UtcNow;
        var machineFrom = MachineShare.NowWithProbes();
        var droppedLate = await h.Mixer!.GetSoundDroppedLateAsync();
        await Task.Delay(TimeSpan.FromSeconds(1));
        scene = scene with { Buses = [Shows("program", A, Fixed(A, 0)), Shows("aux1", A), Shows("aux2", A)] };
        await h.Mixer!.ApplyAsync(scene);
        await ChainsAsync(h, 2, "after program's mix went its own way");
        await Task.Delay(TimeSpan.FromSeconds(2));

        var machine = MachineShare.Since(machineFrom);
        var starvedMs = await StarvedMsAsync(h, droppedLate);
        var (stay, part) = (LargestHoleMs(aux1.Audio.Since(from), aux1.Audio.Channels, aux1.Audio.Rate), LargestHoleMs(program.Audio.Since(from), program.Audio.Channels, program.Audio.Rate));
        output.WriteLine($"largest hole: aux1 (stays) {stay:F1} ms, program (parts) {part:F1} ms; dropped for want of CPU: aux1 {starvedMs("aux1"):F0} ms, program {starvedMs("program"):F0} ms");
        // The bus that stays hears every sample; the one that parts changes encoder between two blocks:
        // at most one block's worth of seam (the chains' blocks need not line up; 1 ms of rounding), plus
        // the new encoder's priming when the bus takes its first block, which the reader trims (seen: 21.3 ms).
        // Both at the tone's level (a loaded machine may thin out a block on any bus, an input's sound late
        // at its mixer, so single blocks are not judged).
        Assert.InRange(stay, -1, 1 + starvedMs("aux1"));
        // Where the machine did not deliver, all the sound the bus dropped late: the new chain, held at its tee while the
        // bus moves, comes later still where a starved machine already ran it late, and its blocks are dropped late with
        // its thread on no run queue (at 0.3 core with the control thread held: a 560 ms hole, 100 ms of it for want of
        // CPU). A block lost at the seam is counted nowhere.
        var after = await h.Mixer.GetSoundDroppedLateAsync();
        double DroppedMs(string bus) => (after[bus].Dropped - droppedLate[bus].Dropped).TotalMilliseconds;
        output.WriteLine($"dropped late in all: aux1 {DroppedMs("aux1"):F0} ms, program {DroppedMs("program"):F0} ms");
        void Parts(Func<string, double> excused)
        {
            Assert.InRange(part, -1, BusAudio.Block.TotalMilliseconds + 1 + OpusPrimingMs + excused("program"));
            foreach (var (bus, r) in new[] { ("aux1", aux1), ("program", program) })
                Assert.InRange(r.Audio.Since(from).Sum(c => (double)c.Samples.Length) / r.Audio.Channels / r.Audio.Rate, 2.5 - excused(bus) / 1000, 10);
        }
        DeliveryVerdict.Judge(output, machine, strict: () => Parts(starvedMs), live: () => Parts(DroppedMs));
        foreach (var (bus, w) in new[] { ("aux1", aux1.Audio.Latest(TimeSpan.FromSeconds(2))), ("program", program.Audio.Latest(TimeSpan.FromSeconds(1))) })
            DeliveryVerdict.Judge(output, machine, strict: () => Assert.InRange(w.Steady(b => b.RmsDb()), A.ToneRmsDb - 1.5, A.ToneRmsDb + 1.5),
                live: () => AssertLive(w, bus, A, 0));
    }

    [Fact]
    public async Task A_bus_whose_output_is_stuck_takes_neither_sound_nor_pictures_from_the_buses_that_share_its_chain()
    {
        // The chain's thread pushes each bus's sound straight into its muxer (SoundFeed), and a bus's muxer
        // sends on its own thread through srtsink, which waits while its peer does (a connection that does
        // not answer): a muxer stuck there must not hold the chain. The stall watch stays out of the way.
        DeliveryVerdict.Calibrate(output);
        await using var h = await StartShowAsync(output, ThreeOnA, [A, B], h => h.Options() with { BusStallTimeout = TimeSpan.FromSeconds(60) });
        var (program, aux1) = await SoundingAsync(h);
        var aux2 = h.Read("aux2");
        await aux2.WaitForFrameAsync(FirstAudio, _ => true);
        await ChainsAsync(h, 1, "three buses following the same picture");

        // aux2's muxer waits downstream for good, where its thread would wait in a stuck srtsink.
        using var stuck = await h.Mixer!.StopMuxerAsync("aux2");
        // Longer than the muxer's hold of a stream (LatenessGuard.LongestGap, 567 ms): with nothing
        // bounding what it is given, the chain's thread would be waiting in it by now.
        await Task.Delay(TimeSpan.FromSeconds(1.5));
        var frames = new[] { program, aux1, aux2 }.Select(r => r.Stats.Frames).ToArray();
        var droppedLate = await h.Mixer.GetSoundDroppedLateAsync();
        var from = MachineShare.NowWithProbes();
        var heard = await Task.WhenAll(program.Audio.RecordAsync(TimeSpan.FromSeconds(3)), aux1.Audio.RecordAsync(TimeSpan.FromSeconds(3)));
        var machine = MachineShare.Since(from);
        var starvedMs = await StarvedMsAsync(h, droppedLate);
        var shown = new[] { program, aux1, aux2 }.Select((r, i) => r.Stats.Frames - frames[i]).ToArray();
        output.WriteLine($"in 3 s with aux2 stuck: pictures program {shown[0]}, aux1 {shown[1]}, aux2 {shown[2]}");
        Assert.Equal(0, shown[2]);
        foreach (var (bus, w, pictures) in new[] { "program", "aux1" }.Zip(heard, shown))
        {
            output.WriteLine($"{bus} with aux2 stuck: {w}; dropped for want of CPU {starvedMs(bus):F0} ms");
            DeliveryVerdict.Judge(output, machine, strict: () =>
            {
                Assert.True(w.Duration.TotalMilliseconds >= 2500 - starvedMs(bus), $"{bus} got {w.Duration.TotalMilliseconds:F0} ms of sound in 3 s, {starvedMs(bus):F0} ms dropped for want of CPU");
                Assert.InRange(w.Steady(b => b.RmsDb()), A.ToneRmsDb - 1.5, A.ToneRmsDb + 1.5);
                Assert.True(pictures >= 45, $"{bus} showed {pictures} pictures in 3 s at 30 fps");
            }, live: () =>
            {
                // A chain held by the stuck muxer stops the sound of every bus on it, and their pictures with it
                // (a muxer writes nothing until each stream has data); a short machine only thins them out.
                Assert.True(w.Duration > TimeSpan.Zero, $"{bus} stopped: no sound and {pictures} pictures in 3 s");
                AssertLive(w, bus, A, 0);
            });
        }
    }

    [Fact]
    public async Task A_stuck_muxer_holds_no_chain_even_where_sound_dropped_late_left_holes_in_what_it_holds()
    {
        // What a stuck muxer holds is bounded (SoundFeed.MayHold) by running time, as the muxer measures its queue:
        // sound dropped late between the blocks it holds (as a machine short of CPU drops it) leaves holes there.
        // Bounded by the blocks' durations added up, a muxer stopped right before such a hole filled its latency
        // with fewer blocks and blocked the chain's thread, and every bus on the chain, for good.
        await using var h = await StartShowAsync(output, ThreeOnA, [A, B], h => h.Options() with { BusStallTimeout = TimeSpan.FromSeconds(60) });
        var (program, aux1) = await SoundingAsync(h);
        await ChainsAsync(h, 1, "three buses following the same picture");

        // aux2's muxer stops and holds what it is given from then on: a quarter of a second of it, then the chain is
        // held longer than that muxer's latency: the blocks it then makes come too late for every bus, which drops
        // them, and the first in time starts after the hole.
        using var stuck = await h.Mixer!.StopMuxerAsync("aux2");
        await Task.Delay(TimeSpan.FromMilliseconds(250));
        using (await h.Mixer.HoldSoundChainAsync("aux2", TimeSpan.FromSeconds(1.2)))
            await Task.Delay(TimeSpan.FromSeconds(2));
        var heard = await Task.WhenAll(program.Audio.RecordAsync(TimeSpan.FromSeconds(2)), aux1.Audio.RecordAsync(TimeSpan.FromSeconds(2)));
        foreach (var (bus, w) in new[] { "program", "aux1" }.Zip(heard))
        {
            output.WriteLine($"{bus} after the hole, with aux2 stuck: {w}");
            Assert.True(w.Duration > TimeSpan.Zero, $"{bus} hears nothing: the chain it shares with the stuck aux2 stopped");
        }
    }

    // Every block of the chain held this far past its running time: too late for any bus, which drops it.
    private static readonly TimeSpan LateSound = TimeSpan.FromMilliseconds(400);

    // Pictures each reader got over 3 s, and each bus's sound dropped late meanwhile, checked: the sound all dropped, the pictures on.
    private async Task AssertPicturesGoOnAsync(MixHarness h, OutputReader[] readers, string[] buses, string when)
    {
        var (frames, dropped) = (readers.Select(r => r.Stats.Frames).ToArray(), await h.Mixer!.GetSoundDroppedLateAsync());
        await Task.Delay(TimeSpan.FromSeconds(3));
        var after = await h.Mixer.GetSoundDroppedLateAsync();
        for (var i = 0; i < buses.Length; i++)
        {
            var bus = buses[i];
            var (pictures, droppedMs) = (readers[i].Stats.Frames - frames[i], (after[bus].Dropped - dropped[bus].Dropped).TotalMilliseconds);
            output.WriteLine($"{when}: {bus} showed {pictures} pictures in 3 s, its sound dropped late {droppedMs:F0} ms");
            Assert.True(droppedMs >= 2500, $"{bus}: sound {LateSound.TotalMilliseconds} ms late must be dropped; dropped {droppedMs:F0} ms in 3 s ({when})");
            Assert.True(pictures >= 30, $"{bus} showed {pictures} pictures in 3 s at 30 fps while its sound was dropped late ({when})");
        }
    }

    [Fact]
    public async Task Sound_dropped_late_throughout_holds_no_bus_s_pictures_back_even_where_they_stopped_a_while()
    {
        // GStreamer 1.22's mpegtsmux writes a picture only once its sound pad holds something that starts after it:
        // a block dropped late (a starved chain's come late in runs) must still tell the muxer where it ended, or
        // every picture of its time waits for the next block let through, and with every block late none is written.
        await using var h = await StartShowAsync(output, ThreeOnA, [A, B]);
        var (program, aux1) = await SoundingAsync(h);
        await ChainsAsync(h, 1, "three buses following the same picture");
        using var late = await h.Mixer!.DelaySoundChainAsync("program", LateSound);
        await Task.Delay(TimeSpan.FromSeconds(1));
        await AssertPicturesGoOnAsync(h, [program, aux1], ["program", "aux1"], $"sound {LateSound.TotalMilliseconds} ms late");

        // The muxer takes in what tells it where a dropped block ended and writes nothing for it. A bus whose pictures
        // stopped for longer than what its muxer may hold (SoundFeed.MayHold) had its muxer take in every such gap
        // before its next picture, then wait for sound after that picture, its sound pad empty, with nothing written
        // since the bound was reached: its sound cut off for good, and its pictures with it.
        using (await h.Mixer.StallBusAsync("aux1", TimeSpan.FromSeconds(1.5), every: TimeSpan.FromHours(1)))
            await Task.Delay(TimeSpan.FromSeconds(2.5));
        await AssertPicturesGoOnAsync(h, [aux1], ["aux1"], "after aux1's pictures stopped 1.5 s");
    }

    [Fact]
    public async Task A_chain_held_back_leaves_holes_that_are_not_taken_for_a_machine_short_of_CPU()
    {
        // What the checks above forgive must not hide the fault they catch: a chain held back (by a move, by
        // a muxer that takes no more) drops sound late too, but its thread sleeps meanwhile.
        DeliveryVerdict.Calibrate(output);
        await using var h = await StartShowAsync(output, ThreeOnA, [A, B]);
        var (program, aux1) = await SoundingAsync(h);
        await ChainsAsync(h, 1, "three buses following the same picture");
        var droppedLate = await h.Mixer!.GetSoundDroppedLateAsync();
        var from = DateTimeOffset.UtcNow;
        var machineFrom = MachineShare.NowWithProbes();
        using (await h.Mixer.HoldSoundChainAsync("aux1", TimeSpan.FromMilliseconds(600)))
            await Task.Delay(TimeSpan.FromSeconds(2));
        var machine = MachineShare.Since(machineFrom);
        var after = await h.Mixer.GetSoundDroppedLateAsync();
        var starvedMs = await StarvedMsAsync(h, droppedLate);
        foreach (var (bus, r) in new[] { ("program", program), ("aux1", aux1) })
        {
            var hole = LargestHoleMs(r.Audio.Since(from), r.Audio.Channels, r.Audio.Rate);
            var dropped = (after[bus].Dropped - droppedLate[bus].Dropped).TotalMilliseconds;
            output.WriteLine($"{bus}: largest hole {hole:F1} ms; dropped late {dropped:F0} ms, of it for want of CPU {starvedMs(bus):F0} ms");
            Assert.True(dropped >= 200, $"{bus}: a chain held 600 ms must make sound late enough to drop; dropped {dropped:F0} ms");
            // Where the machine itself held the chain's thread off meanwhile, its sound is as rightly counted dropped
            // for want of CPU as the hold's: the two cannot be told apart then.
            DeliveryVerdict.Judge(output, machine,
                strict: () => Assert.True(hole > 1 + starvedMs(bus), $"{bus}: a {hole:F1} ms hole from a held chain must not pass for starvation ({starvedMs(bus):F0} ms)"),
                live: () => Assert.True(hole > 1, $"{bus}: no hole from a chain held 600 ms ({hole:F1} ms)"));
        }
    }

    [Fact]
    public async Task A_bus_whose_muxer_fails_takes_no_sound_from_the_buses_that_share_its_chain()
    {
        var scene = ThreeOnA;
        DeliveryVerdict.Calibrate(output);
        await using var h = await StartShowAsync(output, scene, [A, B]);
        var (program, aux1) = await SoundingAsync(h);
        await ChainsAsync(h, 1, "three buses following the same picture");

        // aux2's muxer refuses its sound as a failing one would: its sound's way in gets "flushing" from it.
        await h.Mixer!.FailSoundAtMuxerAsync("aux2");
        await Task.Delay(TimeSpan.FromSeconds(1));
        // The others keep hearing the chain they share, without a break.
        var from = MachineShare.NowWithProbes();
        var heard = await Task.WhenAll(program.Audio.RecordAsync(TimeSpan.FromSeconds(2)), aux1.Audio.RecordAsync(TimeSpan.FromSeconds(2)));
        var machine = MachineShare.Since(from);
        foreach (var (bus, w) in new[] { "program", "aux1" }.Zip(heard))
        {
            output.WriteLine($"{bus} after aux2's muxer failed: {w}");
            DeliveryVerdict.Judge(output, machine, strict: () =>
            {
                Assert.True(w.Duration >= TimeSpan.FromSeconds(1.5), $"{bus} got {w.Duration.TotalMilliseconds:F0} ms of sound in 2 s");
                Assert.InRange(w.Steady(b => b.RmsDb()), A.ToneRmsDb - 1.5, A.ToneRmsDb + 1.5);
            }, live: () =>
            {
                Assert.True(w.Duration > TimeSpan.Zero, $"{bus} got no sound in 2 s");
                AssertLive(w, bus, A, 0);
            });
        }
    }
}
