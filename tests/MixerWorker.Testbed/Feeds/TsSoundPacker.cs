using System.Buffers;

namespace MixerWorker.Testbed.Feeds;

/// <summary>How a feed's muxer packs its sound into PES packets (<see cref="FeedSpec.SoundPacking"/>).</summary>
public enum SoundPacking
{
    /// <summary>One audio frame a PES, sent as soon as it is muxed: GStreamer's mpegtsmux, and ffmpeg with <c>-muxdelay 0</c> or <c>-pes_payload_size 0</c>.</summary>
    FramePerPes,
    /// <summary>
    /// As ffmpeg's mpegts muxer packs it by default, and so most encoders and OBS (<see cref="TsSoundPacker"/>): AAC
    /// frames gathered into one PES of up to 2930 bytes that spans less than half the mux delay, sent when the next frame
    /// would not fit; 8 frames (171 ms) of 48 kHz stereo AAC at 128 kb/s.
    /// </summary>
    FfmpegDefault,
}

/// <summary>
/// Packs a feed's sound as ffmpeg's mpegts muxer does, on the TS as it leaves GStreamer's mpegtsmux (which sends each
/// AAC frame in a PES of its own at once). ffmpeg holds an audio stream's frames and writes them as one PES when the
/// frame that comes next would take the PES past its payload limit (<c>-pes_payload_size</c>, 2930 bytes) or starts
/// half the mux delay (<c>-muxdelay</c>, 0.7 s: 350 ms) or more after the held frames' first; a frame larger than the
/// limit goes alone. Pictures are never held. So the sound of an instant reaches a receiver up to the held span later
/// than its pictures (about 185 ms at the default delay, bench/results/2026-12-04-1536-vm-latency-file-feeds.md): the
/// case a worker meets with real contributions and not with one frame a PES.
/// </summary>
/// <remarks>
/// Packets of the audio PID (found in the PMT) are held; every other packet passes at once, unchanged and in order.
/// A held PES's packets are dropped and its payload kept; when the rule says so, the held frames go out as one PES
/// where the next frame's PES began: the first frame's PES header (its PTS, and DTS if any) with the new length,
/// in 188-byte packets whose continuity counters follow on from the last one this PID sent, the last one filled with
/// adaptation-field stuffing, the first one flagged random access if the first frame's was. A PCR found on an audio
/// packet stays at its place in a packet without payload. Only AAC in ADTS (stream type 0x0F) is handled: ffmpeg
/// packs Opus by its own 120 ms rule and other codecs are not what contributors send.
/// </remarks>
public sealed class TsSoundPacker
{
    /// <summary>ffmpeg's default <c>-pes_payload_size</c>.</summary>
    public const int FfmpegPayloadLimit = 2930;

    private const int StreamTypeAdtsAac = 0x0F;
    // Sound that is not ADTS AAC: MPEG-1/2 audio, private data (Opus, AC-3 in DVB), LATM AAC, AC-3, E-AC-3.
    private static readonly int[] OtherSoundTypes = [0x03, 0x04, 0x06, 0x11, 0x81, 0x87];
    private const long ClockModulo = 1L << 33;

    private readonly long _maxDelay90k;
    private readonly int _payloadLimit;
    private int _pmtPid = -1, _audioPid = -1;
    private int _cc = 15; // the last continuity counter sent on the audio PID, so that the first packet sent carries 0

    // The held frames: the first one's PES header, its decoding time and random access flag, and their payloads.
    private byte[]? _header;
    private long _heldDts;
    private bool _heldRandomAccess;
    private readonly List<byte> _held = [];
    private int _heldFrames;
    // The frame whose PES is coming in: the payload bytes still to come.
    private int _incoming;

    /// <param name="maxDelay">How far after the first held frame's DTS a frame starts a new PES: half ffmpeg's mux delay.</param>
    /// <param name="payloadLimit">The most payload bytes a PES of held frames carries.</param>
    public TsSoundPacker(TimeSpan maxDelay, int payloadLimit = FfmpegPayloadLimit)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxDelay, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThan(payloadLimit, 1);
        _maxDelay90k = (long)Math.Round(maxDelay.TotalSeconds * 90000);
        _payloadLimit = payloadLimit;
    }

    /// <summary>As ffmpeg's muxer packs with <c>-muxdelay</c> <paramref name="muxDelay"/> and its default payload limit.</summary>
    public static TsSoundPacker LikeFfmpeg(TimeSpan muxDelay) => new(muxDelay / 2);

    /// <summary>The audio PID the PMT named; null before it was seen.</summary>
    public int? AudioPid => _audioPid < 0 ? null : _audioPid;

    /// <summary>Audio frames held, not yet sent.</summary>
    public int HeldFrames => _heldFrames;

    /// <summary>
    /// Takes whole 188-byte packets as the muxer sent them and writes to <paramref name="output"/> the packets to send
    /// now: every packet that is not sound, and any held sound the next frame's arrival releases.
    /// </summary>
    /// <exception cref="NotSupportedException">The PMT names sound that is not AAC in ADTS, or an audio PES has no length.</exception>
    public void Process(ReadOnlySpan<byte> ts, IBufferWriter<byte> output)
    {
        for (var i = 0; i + TsPacket.Size <= ts.Length; i += TsPacket.Size)
        {
            var p = ts.Slice(i, TsPacket.Size);
            var pid = p[0] == TsPacket.Sync ? TsPacket.Pid(p) : -1;
            if (pid == 0 && TsTables.Section(p, TsTables.PatTableId) is { } pat) _pmtPid = TsTables.PmtPid(pat) ?? -1;
            else if (pid == _pmtPid && TsTables.Section(p, TsTables.PmtTableId) is { } pmt) _audioPid = AudioPidOf(pmt);
            if (pid < 0 || pid != _audioPid) output.Write(p);
            else Take(p, output);
        }
    }

    /// <summary>Sends whatever sound is held (ffmpeg does at the end of its output).</summary>
    public void Flush(IBufferWriter<byte> output)
    {
        if (_heldFrames > 0) Release(output);
    }

    private static int AudioPidOf(ReadOnlySpan<byte> pmt)
    {
        var streams = TsTables.Streams(pmt);
        if (streams.FirstOrDefault(s => s.Type == StreamTypeAdtsAac) is { Pid: > 0 } aac) return aac.Pid;
        if (streams.FirstOrDefault(s => OtherSoundTypes.Contains(s.Type)) is { Pid: > 0 } other)
            throw new NotSupportedException($"ffmpeg's sound packing is emulated for AAC in ADTS (stream type 0x0F) only; the TS carries sound of stream type 0x{other.Type:X2} on PID {other.Pid}");
        return -1;
    }

    private void Take(ReadOnlySpan<byte> p, IBufferWriter<byte> output)
    {
        if (TsPacket.PcrOffset(p) is { } pcrAt) WritePcrOnly(p, pcrAt, output);
        if (!TsPacket.HasPayload(p)) return;
        var payload = p[Math.Min(TsPacket.PayloadStart(p), TsPacket.Size)..];
        if (TsPacket.Pusi(p)) payload = StartFrame(p, payload, output);
        else if (_incoming <= 0) return; // the rest of a PES that began before the PMT was read: dropped with it
        var n = Math.Min(payload.Length, _incoming);
        foreach (var b in payload[..n]) _held.Add(b);
        _incoming -= n;
        // A frame larger than the limit went out alone at once in ffmpeg; here once it is whole.
        if (_incoming == 0 && _heldFrames == 1 && _held.Count > _payloadLimit) Release(output);
    }

    // A new audio PES: released what the rule says is complete, then takes the PES's header; returns its payload bytes in this packet.
    private ReadOnlySpan<byte> StartFrame(ReadOnlySpan<byte> p, ReadOnlySpan<byte> pes, IBufferWriter<byte> output)
    {
        if (pes.Length < 9 || pes[0] != 0 || pes[1] != 0 || pes[2] != 1)
            throw new InvalidDataException($"audio PID {_audioPid}: a packet that starts a PES holds no PES header");
        var length = (pes[4] << 8) | pes[5];
        var headerLength = 9 + pes[8];
        if (length == 0) throw new NotSupportedException($"audio PID {_audioPid}: a PES without a length (the packer needs each frame's size as it starts)");
        if (headerLength > pes.Length) throw new NotSupportedException($"audio PID {_audioPid}: a PES header spread over two packets");
        var size = length + 6 - headerLength;
        if (TsPacket.PesTimestampOffsets(p) is not { Pts: >= 0 } at)
            throw new InvalidDataException($"audio PID {_audioPid}: a PES without a PTS");
        var dts = TsPacket.ReadTimestamp(p[(at.Dts >= 0 ? at.Dts : at.Pts)..]);

        if (_incoming > 0) _incoming = 0; // the last PES ended short: what came of it stays held
        if (_heldFrames > 0)
        {
            var since = Wrap(dts - _heldDts);
            // A step back in time (a restarted publisher) would never reach the delay: such sound goes out at once.
            if (_held.Count + size > _payloadLimit || since >= _maxDelay90k || since < 0) Release(output);
        }
        if (_heldFrames == 0)
        {
            _header = pes[..headerLength].ToArray();
            _heldDts = dts;
            _heldRandomAccess = TsPacket.RandomAccess(p);
        }
        _heldFrames++;
        _incoming = size;
        return pes[headerLength..];
    }

    private void Release(IBufferWriter<byte> output)
    {
        var header = _header!;
        var length = header.Length - 6 + _held.Count;
        if (length > 0xFFFF) throw new InvalidOperationException($"audio PID {_audioPid}: {_heldFrames} frames make a PES of {length} bytes, beyond a PES length");
        header[4] = (byte)(length >> 8);
        header[5] = (byte)length;
        byte[] pes = [.. header, .. _held];
        _held.Clear();
        _heldFrames = 0;

        Span<byte> packet = stackalloc byte[TsPacket.Size];
        for (var at = 0; at < pes.Length;)
        {
            var first = at == 0;
            var flagged = first && _heldRandomAccess;
            // Adaptation field bytes (its length byte included): two to carry the flag, more to stuff the last packet.
            var n = Math.Min(pes.Length - at, 184 - (flagged ? 2 : 0));
            var adaptation = 184 - n;
            _cc = (_cc + 1) & 0x0F;
            packet[0] = TsPacket.Sync;
            packet[1] = (byte)((first ? 0x40 : 0) | (_audioPid >> 8));
            packet[2] = (byte)_audioPid;
            packet[3] = (byte)((adaptation > 0 ? 0x30 : 0x10) | _cc);
            if (adaptation > 0)
            {
                packet[4] = (byte)(adaptation - 1);
                if (adaptation > 1)
                {
                    packet[5] = (byte)(flagged ? 0x40 : 0);
                    packet[6..(4 + adaptation)].Fill(0xFF);
                }
            }
            pes.AsSpan(at, n).CopyTo(packet[(4 + adaptation)..]);
            output.Write(packet);
            at += n;
        }
    }

    // The PCR where it was, in a packet of the audio PID that carries no payload (so its continuity counter is the last one sent).
    private void WritePcrOnly(ReadOnlySpan<byte> p, int pcrAt, IBufferWriter<byte> output)
    {
        Span<byte> packet = stackalloc byte[TsPacket.Size];
        packet.Fill(0xFF);
        packet[0] = TsPacket.Sync;
        packet[1] = (byte)(p[1] & 0x1F);
        packet[2] = p[2];
        packet[3] = (byte)(0x20 | _cc);
        packet[4] = 183;
        packet[5] = (byte)(p[5] & 0x90); // discontinuity and PCR flags
        p.Slice(pcrAt, 6).CopyTo(packet[6..]);
        output.Write(packet);
    }

    private static long Wrap(long d)
    {
        d %= ClockModulo;
        if (d >= ClockModulo / 2) d -= ClockModulo;
        if (d < -ClockModulo / 2) d += ClockModulo;
        return d;
    }
}
