using System.Buffers;
using MixerWorker.Testbed.Feeds;
using Xunit;

namespace MixerWorker.Pipeline.Tests.Stamps;

/// <summary>
/// ffmpeg's sound packing on a real feed's TS: three seconds of a test feed (48 kHz stereo AAC, one frame a PES as
/// mpegtsmux writes it), fed to the packer in the 7-packet buffers the feed sends, and both sides read back.
/// </summary>
public sealed class TsSoundPackerTests(TsSoundPackerTests.FeedFile file) : IClassFixture<TsSoundPackerTests.FeedFile>
{
    private const int Chunk = 7 * TsPacket.Size;
    private const long FrameTicks90k = 1024 * 90000 / 48000; // an AAC frame: 1024 samples

    /// <summary>A short feed written once for the class.</summary>
    public sealed class FeedFile : IDisposable
    {
        private readonly string _dir = Directory.CreateTempSubdirectory("packer-").FullName;
        public byte[] Ts { get; }

        public FeedFile()
        {
            var path = Path.Combine(_dir, "cam-a.ts");
            SyntheticFeed.WriteFile(FeedSpec.Numbered(0) with { Width = 160, Height = 90 }, path, TimeSpan.FromSeconds(3), 0);
            Ts = File.ReadAllBytes(path);
        }

        public void Dispose() => Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public void At_ffmpeg_s_default_eight_frames_go_in_a_pes_in_order_with_the_first_one_s_pts()
    {
        var (packer, chunks) = Pack(TsSoundPacker.LikeFfmpeg(FeedSpec.FfmpegMuxDelay), file.Ts);
        var audioPid = packer.AudioPid!.Value;
        var frames = ReadPes(file.Ts, audioPid);
        var packed = ReadPes([.. chunks.SelectMany(c => c.Out)], audioPid);

        Assert.True(frames.Count >= 130, $"{frames.Count} AAC frames in 3 s");
        Assert.All(frames, f => Assert.Single(AdtsFrames(f.Payload)));
        // 348 or 349 bytes a frame at voaacenc's 128 kb/s: eight fit in 2930 bytes, nine do not; 171 ms stay within 350.
        Assert.All(packed.SkipLast(1), p => Assert.Equal(8, AdtsFrames(p.Payload).Count));
        Assert.InRange(frames.Count / (double)packed.Count, 7.5, 8.0);
        Assert.All(packed, p => Assert.True(p.Payload.Length <= TsSoundPacker.FfmpegPayloadLimit, $"a PES of {p.Payload.Length} bytes"));

        // Every frame once, in order, and each PES stamped with its first frame's PTS.
        Assert.Equal(frames.SelectMany(f => f.Payload), packed.SelectMany(p => p.Payload));
        var first = 0;
        foreach (var p in packed)
        {
            Assert.Equal(frames[first].Pts, p.Pts);
            Assert.Null(p.Dts);
            first += AdtsFrames(p.Payload).Count;
        }
        Assert.Equal(frames.Count, first);
    }

    [Fact]
    public void Pictures_and_tables_pass_at_once_and_unchanged_and_every_pid_counts_on_without_a_gap()
    {
        var (packer, chunks) = Pack(TsSoundPacker.LikeFfmpeg(FeedSpec.FfmpegMuxDelay), file.Ts);
        var audioPid = packer.AudioPid!.Value;
        var audioIn = 0;
        foreach (var (input, output) in chunks)
        {
            // What is not sound leaves with the buffer it came in, byte for byte and in its order.
            Assert.Equal(Packets(input).Where(p => Pid(p) != audioPid).Select(Convert.ToHexString), Packets(output).Where(p => Pid(p) != audioPid).Select(Convert.ToHexString));
            audioIn += Packets(input).Count(p => Pid(p) == audioPid);
        }
        var sent = chunks.SelectMany(c => c.Out).ToArray();
        var audioOut = Packets(sent).Count(p => Pid(p) == audioPid);
        // Eight frames' bytes in as many packets as they came in or fewer: one PES header and one stuffed packet for eight.
        Assert.InRange(audioOut, audioIn * 9 / 10, audioIn);

        foreach (var pid in Packets(sent).Select(Pid).Distinct().Where(p => p != 0x1FFF))
        {
            int? last = null;
            foreach (var p in Packets(sent).Where(p => Pid(p) == pid))
            {
                var cc = p[3] & 0x0F;
                var payload = (p[3] & 0x10) != 0;
                if (last is { } l) Assert.True(cc == (payload ? (l + 1) & 0x0F : l), $"PID {pid}: continuity counter {cc} after {l}");
                last = cc;
            }
        }
        // Every packet whole: 188 bytes, sync byte, an adaptation field that fits.
        Assert.Equal(0, sent.Length % TsPacket.Size);
        Assert.All(Packets(sent).Where(p => Pid(p) == audioPid), p => Assert.True(p[0] == TsPacket.Sync && ((p[3] & 0x20) == 0 || p[4] <= 183)));
    }

    [Fact]
    public void A_frame_that_starts_half_the_mux_delay_after_the_first_starts_a_new_pes()
    {
        // A 100 ms mux delay: frames 0, 21, 43 ms go together; the one at 64 ms is 50 ms or more after the first.
        var (packer, chunks) = Pack(TsSoundPacker.LikeFfmpeg(TimeSpan.FromMilliseconds(100)), file.Ts);
        var packed = ReadPes([.. chunks.SelectMany(c => c.Out)], packer.AudioPid!.Value);
        Assert.All(packed.SkipLast(1), p => Assert.Equal(3, AdtsFrames(p.Payload).Count));
        Assert.All(packed.Zip(packed.Skip(1)), pair => Assert.InRange(pair.Second.Pts - pair.First.Pts, 3 * FrameTicks90k - 2, 3 * FrameTicks90k + 2));

        // No delay (-muxdelay 0): one frame a PES, each sent as the next one comes.
        (packer, chunks) = Pack(new TsSoundPacker(TimeSpan.Zero), file.Ts, flush: false);
        var frames = ReadPes(file.Ts, packer.AudioPid!.Value);
        packed = ReadPes([.. chunks.SelectMany(c => c.Out)], packer.AudioPid!.Value);
        Assert.Equal(frames.Count - 1, packed.Count);
        Assert.Equal(frames.SkipLast(1).Select(f => (f.Pts, Convert.ToHexString(f.Payload))), packed.Select(p => (p.Pts, Convert.ToHexString(p.Payload))));
        Assert.Equal(1, packer.HeldFrames);
    }

    [Fact]
    public void A_frame_larger_than_the_limit_goes_alone_and_nothing_waits_behind_it()
    {
        var (packer, chunks) = Pack(new TsSoundPacker(TimeSpan.FromSeconds(1), payloadLimit: 300), file.Ts, flush: false);
        var frames = ReadPes(file.Ts, packer.AudioPid!.Value);
        var packed = ReadPes([.. chunks.SelectMany(c => c.Out)], packer.AudioPid!.Value);
        Assert.Equal(frames.Select(f => f.Pts), packed.Select(p => p.Pts));
        Assert.Equal(0, packer.HeldFrames);
    }

    [Fact]
    public void Sound_that_is_not_aac_is_refused_with_a_clear_message()
    {
        var e = Assert.Throws<NotSupportedException>(() =>
            SyntheticFeed.Start(FeedSpec.Numbered(0) with { AudioCodec = "opus", SoundPacking = SoundPacking.FfmpegDefault }, "p", "127.0.0.1", 9, null));
        Assert.Contains("AAC only", e.Message);

        // A PMT whose sound is MPEG audio (stream type 0x03 in place of the AAC's 0x0F, its CRC made again).
        var ts = (byte[])file.Ts.Clone();
        var pmtPid = -1;
        foreach (var at in Enumerable.Range(0, ts.Length / TsPacket.Size).Select(i => i * TsPacket.Size))
        {
            var p = ts.AsSpan(at, TsPacket.Size);
            if (TsPacket.Pid(p) == 0 && TsTables.Section(p, TsTables.PatTableId) is { } pat) pmtPid = TsTables.PmtPid(pat)!.Value;
            else if (TsPacket.Pid(p) == pmtPid && TsTables.Section(p, TsTables.PmtTableId) is { } pmt)
            {
                var s = TsPacket.PayloadStart(p) + 1 + p[TsPacket.PayloadStart(p)];
                var aac = TsTables.Streams(pmt).Single(e => e.Type == 0x0F).Pid;
                p[s + pmt.AsSpan().IndexOf(new byte[] { 0x0F, (byte)(0xE0 | aac >> 8), (byte)aac })] = 0x03;
                TsTables.WriteCrc(p.Slice(s, pmt.Length));
                break;
            }
        }
        var refused = Assert.Throws<NotSupportedException>(() => new TsSoundPacker(TimeSpan.Zero).Process(ts.AsSpan(0, 20 * TsPacket.Size), new ArrayBufferWriter<byte>()));
        Assert.Contains("0x03", refused.Message);
    }

    private static (TsSoundPacker Packer, List<(byte[] In, byte[] Out)> Chunks) Pack(TsSoundPacker packer, byte[] ts, bool flush = true)
    {
        var chunks = new List<(byte[], byte[])>();
        for (var at = 0; at < ts.Length; at += Chunk)
        {
            var input = ts.AsSpan(at, Math.Min(Chunk, ts.Length - at)).ToArray();
            var output = new ArrayBufferWriter<byte>();
            packer.Process(input, output);
            if (flush && at + Chunk >= ts.Length) packer.Flush(output);
            chunks.Add((input, output.WrittenSpan.ToArray()));
        }
        return (packer, chunks);
    }

    private sealed record Pes(long Pts, long? Dts, byte[] Payload);

    // The PES of a PID, reassembled from its packets; each must be as long as its header says.
    private static List<Pes> ReadPes(byte[] ts, int pid)
    {
        var found = new List<Pes>();
        List<byte>? current = null;
        void End()
        {
            if (current is null) return;
            var pes = current.ToArray();
            Assert.Equal(((pes[4] << 8) | pes[5]) + 6, pes.Length);
            var flags = pes[7] >> 6;
            long? dts = flags == 3 ? Timestamp(pes, 14) : null;
            found.Add(new Pes(Timestamp(pes, 9), dts, pes[(9 + pes[8])..]));
        }
        foreach (var p in Packets(ts).Where(p => Pid(p) == pid && (p[3] & 0x10) != 0))
        {
            if ((p[1] & 0x40) != 0)
            {
                End();
                current = [];
            }
            current?.AddRange(p[TsPacket.PayloadStart(p)..]);
        }
        End();
        return found;
    }

    private static long Timestamp(byte[] pes, int at) => TsPacket.ReadTimestamp(pes.AsSpan(at));

    // The lengths of the ADTS frames a payload holds back to back; fails on anything else.
    private static List<int> AdtsFrames(byte[] payload)
    {
        var lengths = new List<int>();
        for (var at = 0; at < payload.Length;)
        {
            Assert.True(payload[at] == 0xFF && (payload[at + 1] & 0xF6) == 0xF0, $"no ADTS sync word at {at} of {payload.Length}");
            var length = ((payload[at + 3] & 0x03) << 11) | (payload[at + 4] << 3) | (payload[at + 5] >> 5);
            lengths.Add(length);
            at += length;
        }
        return lengths;
    }

    private static IEnumerable<byte[]> Packets(byte[] ts)
    {
        for (var at = 0; at + TsPacket.Size <= ts.Length; at += TsPacket.Size) yield return ts[at..(at + TsPacket.Size)];
    }

    private static int Pid(byte[] p) => TsPacket.Pid(p);
}
