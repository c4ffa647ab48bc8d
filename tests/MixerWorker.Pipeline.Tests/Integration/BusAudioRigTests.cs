using MixerWorker.Pipeline.Builders;
using MixerWorker.Pipeline.Interop;
using MixerWorker.Pipeline.Scene;
using MixerWorker.Testbed.Audio;
using Xunit;
using Xunit.Abstractions;

namespace MixerWorker.Pipeline.Tests.Integration;

/// <summary>The engine's audio path on live tones, read before the encoder: exact levels, no network.</summary>
public sealed class BusAudioRigTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Settle = TimeSpan.FromMilliseconds(400);
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(5);
    // Blocks for steady tone levels (AudioWindow.Steady): long enough to resolve 330 from 440 Hz below -80 dB.
    private static readonly TimeSpan Quarter = TimeSpan.FromMilliseconds(250);

    private static BusDefinition Program(AudioMix? audio, params string[] onAir) => new()
    {
        Name = "program",
        Format = new OutputFormat { Width = 160, Height = 90, AudioBitrateKbps = 64 },
        Layout = onAir.Select(s => new Box { Source = s, Width = 160, Height = 90 }).ToList(),
        Audio = audio,
    };

    private static AudioMix Fixed(params (string Input, double GainDb)[] sources) =>
        new() { Mode = AudioMode.Fixed, Sources = sources.Select(s => new AudioSource { Input = s.Input, GainDb = s.GainDb }).ToList() };

    [Fact]
    public async Task Input_gain_and_mute_are_exact_and_the_meters_read_the_level_ten_times_a_second()
    {
        var tone = new Tone("a", 330);
        using var rig = new AudioRig(Program(Fixed(("a", 0))), tone);
        var unity = await rig.Pcm.WaitForAsync(Wait, TimeSpan.FromMilliseconds(500), w => w.RmsDb() > -20, "the tone");
        var since = DateTimeOffset.UtcNow;
        unity = await rig.Pcm.RecordAsync(TimeSpan.FromSeconds(2));
        output.WriteLine($"unity: {unity}");
        Assert.InRange(unity.DominantHz(), 329, 331);
        Assert.InRange(unity.PeakDb(), tone.PeakDb - 0.1, tone.PeakDb + 0.1);

        // Meters: the loudest channel's peak and RMS of a sine, every 100 ms, for the input and the bus;
        // both meter in probes, so there is no `level` element in the graph to post a message for each reading.
        Assert.Equal(0, rig.Pipeline.CountElements("level"));
        foreach (var element in new[] { AudioRig.InputMeterName("a"), AudioRig.BusMeterName("program") })
        {
            var readings = rig.Levels(element, since, since.AddSeconds(2));
            output.WriteLine($"{element}: {readings.Count} readings in 2 s, last {readings.LastOrDefault()}");
            Assert.InRange(readings.Count, 18, 22);
            Assert.All(readings.Skip(1), r => Assert.InRange(r.PeakDb, tone.PeakDb - 0.5, tone.PeakDb + 0.5));
            Assert.All(readings.Skip(1), r => Assert.InRange(r.RmsDb, tone.PeakDb - 3.01 - 0.5, tone.PeakDb - 3.01 + 0.5));
        }

        // Each change is recorded once it is heard, so that no audio from before it is in the window.
        rig.Inputs["a"].ApplyAudio(new InputDefinition { Name = "a", GainDb = -6 });
        await rig.Pcm.WaitForAsync(Wait, TimeSpan.FromMilliseconds(300), w => w.RmsDb() < unity.RmsDb() - 3, "the lower gain");
        var minus6 = await rig.Pcm.RecordAsync(TimeSpan.FromSeconds(1));
        var ratio = Math.Pow(10, (minus6.Steady(w => w.RmsDb()) - unity.Steady(w => w.RmsDb())) / 20);
        output.WriteLine($"-6 dB: {minus6}; amplitude ratio {ratio:F4}");
        Assert.InRange(ratio, 0.49, 0.51);

        rig.Inputs["a"].ApplyAudio(new InputDefinition { Name = "a", GainDb = -6, Muted = true });
        await rig.Pcm.WaitForAsync(Wait, TimeSpan.FromMilliseconds(300), w => w.RmsDb() < -90, "silence");
        since = DateTimeOffset.UtcNow;
        var muted = await rig.Pcm.RecordAsync(TimeSpan.FromSeconds(1));
        output.WriteLine($"muted: {muted}");
        Assert.True(muted.RmsDb() < -90, $"muted input still heard: {muted}");
        Assert.All(rig.Levels(AudioRig.InputMeterName("a"), since), r => Assert.Equal(LevelReading.FloorDb, r.PeakDb));
    }

    [Fact]
    public async Task A_mono_44k1_input_is_heard_on_both_channels_at_its_own_pitch()
    {
        var tone = new Tone("m", 440, Volume: 0.5, Channels: 1, Rate: 44100, Format: "S16LE");
        using var rig = new AudioRig(Program(null, "m"), tone);
        await rig.Pcm.WaitForAsync(Wait, TimeSpan.FromMilliseconds(500), w => w.RmsDb() > -20, "the tone");
        var w = await rig.Pcm.RecordAsync(TimeSpan.FromSeconds(1));
        output.WriteLine(w.ToString());
        // Played at 48 kHz without resampling, 440 Hz would come out at 479 Hz.
        Assert.InRange(w.DominantHz(0), 439, 441);
        Assert.InRange(w.DominantHz(1), 439, 441);
        Assert.InRange(w.PeakDb(0), tone.PeakDb - 0.2, tone.PeakDb + 0.2);
        Assert.InRange(w.RmsDb(0) - w.RmsDb(1), -0.05, 0.05);
    }

    // At 32 kb/s the bus's Opus gets a ceiling a dB lower (BusAudio.LimiterCeilingDb).
    [Theory]
    [InlineData(64)]
    [InlineData(32)]
    public async Task The_limiter_keeps_a_sum_of_full_scale_tones_under_its_ceiling_at_the_encoder_input(int kbps)
    {
        Tone[] tones = [new("a", 330, 1.0), new("b", 440, 1.0), new("c", 550, 1.0), new("d", 770, 1.0)];
        var mix = Fixed(("a", 6), ("b", 6), ("c", 6), ("d", 6));
        var bus = Program(mix);
        bus = bus with { Format = bus.Format with { AudioBitrateKbps = kbps } };
        using var rig = new AudioRig(bus, tones);
        await rig.Pcm.WaitForAsync(Wait, TimeSpan.FromMilliseconds(500), w => w.RmsDb() > -20, "the mix");
        var since = DateTimeOffset.UtcNow;
        var limited = await rig.Pcm.RecordAsync(TimeSpan.FromSeconds(1));
        output.WriteLine($"limited: {limited}");
        var ceilingDb = BusAudio.LimiterCeilingDb(bus.Format);
        Assert.True(limited.PeakDb() <= ceilingDb + 0.01, $"peak {limited.PeakDb():F2} dBFS above the {ceilingDb:F2} dBFS ceiling");
        Assert.All(rig.Levels(AudioRig.BusMeterName("program"), since), r => Assert.True(r.PeakDb <= ceilingDb + 0.01, $"bus meter peak {r.PeakDb:F2} dBFS"));

        // The same mix without the limiter: what it prevents (4 x 2.0 reaches +18 dBFS).
        rig.Bus.Apply(bus with { Audio = mix with { Limiter = false } }, rig.Inputs);
        await Task.Delay(Settle);
        var open = await rig.Pcm.RecordAsync(TimeSpan.FromSeconds(1));
        output.WriteLine($"limiter off: {open}");
        Assert.True(open.PeakDb() > 12, $"without the limiter the sum should exceed full scale: {open}");
    }

    // What a viewer's decoder rebuilds from an overloaded mix. A lossy codec rebuilds peaks higher than they were, by
    // up to a dB or two for some phases of the same tones, more the fewer bits it has: what the ceiling's distance from
    // full scale is for. Sixteen mixes of three full-scale tones at +6 dB, each at phases of its own, limited as a bus
    // of that format limits them, through its encoder at its settings and back, keep half a dB under full scale.
    [Theory]
    [InlineData(AudioCodec.Opus, 24)]
    [InlineData(AudioCodec.Opus, 48)]
    [InlineData(AudioCodec.Opus, 64)]
    [InlineData(AudioCodec.Opus, 128)]
    [InlineData(AudioCodec.Aac, 128)]
    public void An_overloaded_mix_limited_as_a_bus_limits_it_decodes_under_full_scale(AudioCodec codec, int kbps)
    {
        const int rate = 48000, mixes = 16;
        double[] tonesHz = [330, 440, 550];
        var format = new OutputFormat { AudioCodec = codec, AudioBitrateKbps = kbps };
        var random = new Random(9);
        var peaks = new List<double>();
        for (var m = 0; m < mixes; m++)
        {
            var phases = tonesHz.Select(_ => random.NextDouble() * 2 * Math.PI).ToArray();
            var mix = new float[rate * 2];
            for (var i = 0; i < rate; i++)
                mix[2 * i] = mix[2 * i + 1] = (float)tonesHz.Select((hz, t) => 2 * Math.Sin(2 * Math.PI * hz * i / rate + phases[t])).Sum();
            var limiter = BusAudio.NewPeakLimiter(format);
            var block = (int)(rate * BusAudio.Block.TotalSeconds) * 2; // the mix's blocks, stereo
            for (var at = 0; at < mix.Length; at += block) limiter.Process(mix.AsSpan(at, Math.Min(block, mix.Length - at)));
            var decoded = CodecRoundTrip.ThroughBusEncoder(mix, format);
            // From 100 ms on: the codec's first frames ramp up from silence.
            peaks.Add(new AudioWindow(decoded.Interleaved[(rate / 10 * 2)..], 2, rate).PeakDb());
        }
        output.WriteLine($"{codec} {kbps} kb/s limited at {BusAudio.LimiterCeilingDb(format)} dBFS, decoded peaks: {string.Join(" ", peaks.Select(p => p.ToString("F2")))}");
        Assert.All(peaks, p => Assert.True(p < -0.5, $"decoded peak {p:F2} dBFS"));
    }

    [Fact]
    public async Task The_encoder_gets_the_mix_in_blocks_of_one_opus_frame()
    {
        using var rig = new AudioRig(Program(Fixed(("a", 0)), "a"), new Tone("a", 330));
        // What the bus's sound passes through (cost per element: bench/results/2026-12-01-*-vm-cost-audio-meter.md):
        // no meter element (its probe meters), and Opus at the complexity that keeps its signal analysis.
        string[] chain = ["silence", "silencecaps", "audiomixer", "acaps", "master", "aconvert", "aenc"];
        var factories = chain.Select(part =>
        {
            using var e = rig.Pipeline.GetByName(ElementName.Bus("program").Child(part));
            return e?.FactoryName;
        }).ToList();
        Assert.Equal(["audiotestsrc", "capsfilter", "audiomixer", "capsfilter", "volume", "audioconvert", "opusenc"], factories);
        using (var encoder = rig.Pipeline.GetByName(ElementName.Bus("program").Child("aenc"))!)
            Assert.Equal("7", encoder.Get("complexity"));
        await rig.Pcm.WaitForAsync(Wait, TimeSpan.FromMilliseconds(500), w => w.RmsDb() > -20, "the tone");
        var since = DateTimeOffset.UtcNow;
        await Task.Delay(TimeSpan.FromSeconds(1));
        var chunks = rig.Pcm.Since(since);
        var frames = chunks.Select(c => c.Samples.Length / 2).ToList();
        var steps = chunks.Zip(chunks.Skip(1), (a, b) => (long)(b.Pts!.Value - a.Pts!.Value) / 1_000_000).ToList();
        output.WriteLine($"{chunks.Count} blocks, frames {string.Join(",", frames.Distinct())}, PTS steps (ms) {string.Join(",", steps.Distinct())}");
        Assert.True(chunks.Count >= 25, $"{chunks.Count} blocks in a second");
        Assert.All(frames, f => Assert.Equal(960, f));
        Assert.All(steps, ms => Assert.Equal(20, ms));
    }

    // Opus stamps each encoded frame its look-ahead before the block it was made from: the muxer then needs
    // that much more sound before it may write a picture. CELT alone looks 2.5 ms ahead, the general
    // encoder 6.5 (its SILK resampler's delay), which a bitrate where speech still wants SILK keeps.
    [Theory]
    [InlineData(BusAudio.CeltOnlyFromKbps, 2.5)]
    [InlineData(128, 2.5)]
    [InlineData(32, 6.5)]
    public async Task The_encoded_sound_is_stamped_opus_look_ahead_before_its_block(int kbps, double lookAheadMs)
    {
        var bus = Program(Fixed(("a", 0))) with { Format = new OutputFormat { Width = 160, Height = 90, AudioBitrateKbps = kbps } };
        using var rig = new AudioRig(bus, new Tone("a", 330));
        var (blocks, encoded) = (new List<ulong>(), new List<ulong>());
        using var mixer = rig.Pipeline.GetByName(ElementName.Bus("program").Child("audiomixer"))!;
        using var mixerSrc = mixer.StaticPad("src");
        using var tee = rig.Pipeline.GetByName(ElementName.Bus("program").Child("atee"))!;
        using var teeSink = tee.StaticPad("sink");
        ProbeHandle Record(Pad pad, List<ulong> into) => Callbacks.AddProbe(pad, ProbeType.Buffer, info =>
        {
            if (info.BufferPts is { } pts) lock (into) into.Add(pts);
            return ProbeReturn.Ok;
        });
        using (Record(mixerSrc, blocks))
        using (Record(teeSink, encoded))
        {
            await rig.Pcm.WaitForAsync(Wait, TimeSpan.FromMilliseconds(500), w => w.RmsDb() > -20, "the tone");
            await Task.Delay(TimeSpan.FromMilliseconds(500));
        }
        List<ulong> Taken(List<ulong> list) { lock (list) return [.. list]; }
        var (made, sent) = (Taken(blocks), Taken(encoded));
        // Each encoded frame's start, measured back to the start of the block after it (blocks are 20 ms apart).
        var ahead = sent.Skip(1).Select(pts => made.Where(b => b >= pts).Select(b => (b - pts) / 1e6).DefaultIfEmpty(double.NaN).Min()).Where(ms => !double.IsNaN(ms)).ToList();
        using var encoder = rig.Pipeline.GetByName(ElementName.Bus("program").Child("aenc"))!;
        output.WriteLine($"{kbps} kb/s, audio-type {encoder.Get("audio-type")}: {made.Count} blocks, {sent.Count} encoded frames, stamped ahead of their blocks (ms) {string.Join(",", ahead.Distinct())}");
        Assert.True(ahead.Count >= 10, $"{ahead.Count} encoded frames matched to blocks");
        // A loaded machine may leave a hole in the mix, after which the encoder stamps anew: judged by the most.
        Assert.True(ahead.Count(ms => Math.Abs(ms - lookAheadMs) < 0.1) >= 0.9 * ahead.Count, $"stamped {lookAheadMs} ms ahead: {ahead.Count(ms => Math.Abs(ms - lookAheadMs) < 0.1)} of {ahead.Count}");
    }

    [Fact]
    public async Task An_input_that_never_sent_sound_does_not_hold_the_mix_to_its_deadline_and_is_waited_for_once_it_has()
    {
        using var rig = new AudioRig(Program(Fixed(("a", 0), ("b", 0))), soundless: ["b"], new Tone("a", 330));
        // How long after its own end each mixed block comes out (pipeline running time).
        var lateness = new List<(DateTimeOffset At, double Ms)>();
        using var mixer = rig.Pipeline.GetByName(ElementName.Bus("program").Child("audiomixer"))!;
        using var mixerSrc = mixer.StaticPad("src");
        using var probe = Callbacks.AddProbe(mixerSrc, ProbeType.Buffer, info =>
        {
            if (info.BufferRunningTime(mixerSrc) is { } rt && rig.Pipeline.RunningTimeNow() is { } now)
                lock (lateness) lateness.Add((DateTimeOffset.UtcNow, ((long)now - (long)rt - (info.BufferDurationNs ?? 0)) / 1e6));
            return ProbeReturn.Ok;
        });
        double MedianSince(DateTimeOffset since)
        {
            lock (lateness)
            {
                var ms = lateness.Where(l => l.At >= since).Select(l => l.Ms).Order().ToList();
                return ms.Count == 0 ? double.NaN : ms[ms.Count / 2];
            }
        }
        // The deadline: a block's start plus the jitter allowance and the mixer's latency (the rig's is long).
        var afterEndAtDeadline = (AudioRig.Jitter + AudioRig.MixerLatency - BusAudio.Block).TotalMilliseconds;

        await rig.Pcm.WaitForAsync(Wait, TimeSpan.FromMilliseconds(500), w => w.RmsDb() > -20, "a's tone");
        var since = DateTimeOffset.UtcNow;
        var alone = await rig.Pcm.RecordAsync(TimeSpan.FromSeconds(1));
        var silentInput = MedianSince(since);
        output.WriteLine($"b without sound: {alone}; blocks out {silentInput:F1} ms after their end (the deadline is {afterEndAtDeadline:F0} ms after it)");
        Assert.InRange(alone.DominantHz(), 329, 331);
        Assert.True(silentInput < afterEndAtDeadline / 2, $"the mix waited for an input that never sent sound: blocks {silentInput:F1} ms after their end");

        // Its sound once it comes is heard, and from then on the mix waits for it as for any other input.
        rig.StartTone(new Tone("b", 440));
        await rig.Pcm.WaitForAsync(Wait, TimeSpan.FromMilliseconds(500), w => w.ToneDb(440) > -20, "b's tone");
        var both = await rig.Pcm.RecordAsync(TimeSpan.FromSeconds(1));
        output.WriteLine($"b sounding: 330 Hz at {both.Steady(w => w.ToneDb(330), Quarter):F1} dB, 440 Hz at {both.Steady(w => w.ToneDb(440), Quarter):F1} dB");
        Assert.InRange(both.Steady(w => w.ToneDb(440), Quarter), -20, -6);
        Assert.InRange(both.Steady(w => w.ToneDb(330), Quarter), -20, -6);

        rig.StopTone("b");
        await Task.Delay(TimeSpan.FromMilliseconds(500));
        since = DateTimeOffset.UtcNow;
        await rig.Pcm.RecordAsync(TimeSpan.FromSeconds(1));
        var stopped = MedianSince(since);
        output.WriteLine($"b stopped sending: blocks out {stopped:F1} ms after their end");
        Assert.True(stopped > afterEndAtDeadline / 2, $"the mix no longer waits for an input that has sent sound: blocks {stopped:F1} ms after their end");
    }

    [Fact]
    public async Task Audio_follows_video_keeps_the_preview_silent_and_crossfades_from_a_streaming_thread()
    {
        var follow = new AudioMix { Mode = AudioMode.FollowVideo };
        var bus = Program(follow, "a") with { Preview = new Shot { Boxes = [new Box { Source = "b", Width = 160, Height = 90 }] } };
        using var rig = new AudioRig(bus, new Tone("a", 330), new Tone("b", 440));
        Assert.Equal(new Dictionary<string, double> { ["a"] = 1.0, ["b"] = 0.0 }, rig.Bus.InputGains);
        var before = await rig.Pcm.WaitForAsync(Wait, TimeSpan.FromMilliseconds(500), w => w.RmsDb() > -20, "program's tone");
        before = await rig.Pcm.RecordAsync(TimeSpan.FromSeconds(1));
        var preview = before.Steady(w => w.ToneDb(440), Quarter);
        output.WriteLine($"a on air: {before}, b at {preview:F1} dB");
        Assert.InRange(before.DominantHz(), 329, 331);
        // -60 dB: far below hearing next to the programme tone, and clear of the analysis window's own leakage (about -80 dB).
        Assert.True(preview < -60, "the preview's input must not be heard");

        // A 300 ms crossfade the way the compositor's streaming thread drives it, per frame.
        await Task.Run(async () =>
        {
            for (var frame = 0; frame <= 9; frame++)
            {
                var p = frame / 9.0;
                rig.Bus.SetInputGains(new Dictionary<string, double> { ["a"] = 1 - p, ["b"] = p });
                await Task.Delay(33);
            }
        });
        // Recorded once a's tone is far down, so no audio mixed before the last gain is in the window
        // (on a loaded machine the fixed pause this replaces could end before that audio was through).
        await rig.Pcm.WaitForAsync(Wait, TimeSpan.FromMilliseconds(250), w => w.ToneDb(330) < -60, "the end of the crossfade");
        var after = await rig.Pcm.RecordAsync(TimeSpan.FromSeconds(1));
        var gone = after.Steady(w => w.ToneDb(330), Quarter);
        output.WriteLine($"after the crossfade: {after}, a at {gone:F1} dB");
        Assert.InRange(after.DominantHz(), 439, 441);
        Assert.True(gone < -80, "the old input must be gone");

        // Gains set per frame while the control thread removes a branch: neither side may fault.
        var faults = Callbacks.FaultCount;
        using var stop = new CancellationTokenSource();
        using var started = new ManualResetEventSlim();
        var hammer = Task.Run(() =>
        {
            var n = 0;
            started.Set();
            while (!stop.IsCancellationRequested) { rig.Bus.SetInputGains(new Dictionary<string, double> { ["a"] = n++ % 2, ["b"] = 1 }); }
            return n;
        });
        started.Wait();
        for (var i = 0; i < 10; i++)
        {
            rig.Bus.Apply(Program(follow, "b"), rig.Inputs);
            rig.Bus.Apply(bus, rig.Inputs);
        }
        await stop.CancelAsync();
        output.WriteLine($"{await hammer} gain updates during 20 branch changes");
        Assert.Equal(faults, Callbacks.FaultCount);
        await rig.Pcm.WaitForAsync(Wait, TimeSpan.FromMilliseconds(300), w => w.RmsDb() > -20, "audio after the changes");
    }

    [Fact]
    public async Task A_lip_sync_delay_makes_the_input_heard_that_much_later()
    {
        using var rig = new AudioRig(Program(Fixed(("a", 0))), new Tone("a", 330));
        // The input's audio before the delay (the gain's output, where the offset is set: a pad's offset
        // applies to what passes on to its peer), to time the bus's output against.
        var input = new PcmRecorder();
        using var volume = rig.Pipeline.GetByName(ElementName.Input("a").Child("volume"))!;
        using var inputPad = volume.StaticPad("src");
        using var tap = input.Attach(inputPad);
        await rig.Pcm.WaitForAsync(Wait, TimeSpan.FromMilliseconds(500), w => w.RmsDb() > -20, "the tone");

        var undelayed = await UnmuteLatencyAsync(rig, input, delayMs: 0);
        var delayed = await UnmuteLatencyAsync(rig, input, delayMs: 200);
        output.WriteLine($"the unmuted tone starts {undelayed.TotalMilliseconds:F1} ms later at the bus than at the input without delay, {delayed.TotalMilliseconds:F1} ms with 200 ms");
        Assert.Equal(TimeSpan.FromMilliseconds(200), rig.Inputs["a"].AudioDelay);
        Assert.InRange((delayed - undelayed).TotalMilliseconds, 170, 230);
        // The delayed audio flows on without gaps: the branch's queue holds the 200 ms.
        var flowing = await rig.Pcm.RecordAsync(TimeSpan.FromSeconds(1));
        var quietChunks = rig.Pcm.Since(DateTimeOffset.UtcNow.AddSeconds(-1)).Count(c => new AudioWindow(c.Samples, 2, 48000).RmsDb() < -40);
        output.WriteLine($"delayed: {flowing}, {quietChunks} quiet 10 ms chunks");
        Assert.InRange(flowing.DominantHz(), 329, 331);
        Assert.Equal(0, quietChunks);
    }

    // Mutes, sets the delay, waits for it to settle, unmutes, and measures how much later in stream time
    // (buffer timestamps) the tone starts at the bus's output than at the input's meter. Stream time, not
    // when buffers happened to arrive: a loaded machine delivers them late and unevenly, and that is not
    // what a lip-sync delay is about.
    private static async Task<TimeSpan> UnmuteLatencyAsync(AudioRig rig, PcmRecorder input, int delayMs)
    {
        rig.Inputs["a"].ApplyAudio(new InputDefinition { Name = "a", Muted = true, DelayMs = delayMs });
        await rig.Pcm.WaitForAsync(Wait, TimeSpan.FromMilliseconds(300), w => w.RmsDb() < -60, "silence");
        await Task.Delay(TimeSpan.FromMilliseconds(500));
        var unmutedAt = DateTimeOffset.UtcNow;
        rig.Inputs["a"].ApplyAudio(new InputDefinition { Name = "a", Muted = false, DelayMs = delayMs });
        var deadline = unmutedAt + Wait;
        while (DateTimeOffset.UtcNow < deadline)
        {
            await Task.Delay(10);
            if (Onset(input, unmutedAt) is { } fed && Onset(rig.Pcm, unmutedAt) is { } heard) return heard - fed;
        }
        throw new TimeoutException("the tone did not come back");
    }

    // The stream time of the first sample above -26 dBFS (the tone peaks at -10.5) among those recorded since `since`.
    private static TimeSpan? Onset(PcmRecorder recorder, DateTimeOffset since)
    {
        foreach (var chunk in recorder.Since(since))
        {
            if (chunk.Pts is not { } pts) continue;
            var i = Array.FindIndex(chunk.Samples, s => Math.Abs(s) > 0.05f);
            if (i >= 0) return TimeSpan.FromTicks((long)(pts / 100)) + TimeSpan.FromSeconds((double)(i / recorder.Channels) / recorder.Rate);
        }
        return null;
    }
}
