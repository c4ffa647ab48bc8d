namespace MixerWorker.Testbed.Feeds;

/// <summary>A publisher whose timestamps jump once: a restarted encoder, a looped file.</summary>
/// <param name="After">Time after the feed starts at which PTS, DTS and PCR jump together.</param>
/// <param name="By">The jump (negative: back in time, like a file starting over).</param>
public sealed record TimestampJump(TimeSpan After, TimeSpan By);

/// <summary>
/// Rewrites the clocks of an MPEG-TS as it leaves the feed's muxer, in place: every PCR moves by a
/// fixed amount (GStreamer's mpegtsmux always writes PCR 125 ms behind DTS and has no setting for it,
/// while ffmpeg writes it -muxdelay behind, 0.7 s by default), and after a set time PCR, PTS and DTS
/// all jump by the same amount. PES headers always start in the packet of their start indicator, so
/// each packet is handled on its own; nothing else in a packet depends on these fields (no CRC).
/// </summary>
public sealed class TsRetimer
{
    /// <summary>PTS minus PCR in what GStreamer 1.22's mpegtsmux writes (TSMUX_PCR_OFFSET, 1/8 s).</summary>
    public static readonly TimeSpan MpegTsMuxLead = TimeSpan.FromMilliseconds(125);

    private const long PtsModulo = 1L << 33;
    private readonly long _pcrMove90k;
    private readonly TimestampJump? _jump;
    private long _offset90k, _pendingJump90k;

    /// <param name="lead">The PTS-over-PCR lead the output must carry.</param>
    public TsRetimer(TimeSpan lead, TimestampJump? jump)
    {
        _pcrMove90k = To90k(MpegTsMuxLead - lead); // a longer lead puts PCR earlier
        _jump = jump;
    }

    public bool Jumped { get; private set; }

    /// <summary>Makes the timestamps jump from the next packet on (on top of any earlier jump).</summary>
    public void JumpNow(TimeSpan by) => Interlocked.Add(ref _pendingJump90k, To90k(by));

    public void Process(Span<byte> ts, TimeSpan sinceStart)
    {
        if (_jump is not null && !Jumped && sinceStart >= _jump.After)
        {
            Jumped = true;
            _offset90k += To90k(_jump.By);
        }
        _offset90k += Interlocked.Exchange(ref _pendingJump90k, 0);
        for (var i = 0; i + TsPacket.Size <= ts.Length; i += TsPacket.Size)
        {
            var p = ts.Slice(i, TsPacket.Size);
            if (p[0] != TsPacket.Sync) continue;
            if (TsPacket.PcrOffset(p) is { } pcrAt)
                TsPacket.WritePcr(p[pcrAt..], Mod(TsPacket.ReadPcr(p[pcrAt..]) + (_offset90k + _pcrMove90k) * 300, PtsModulo * 300));
            if (_offset90k != 0 && TsPacket.PesTimestampOffsets(p) is { } fields)
            {
                var (pts, dts) = fields;
                if (pts >= 0) TsPacket.WriteTimestamp(p[pts..], Mod(TsPacket.ReadTimestamp(p[pts..]) + _offset90k, PtsModulo));
                if (dts >= 0) TsPacket.WriteTimestamp(p[dts..], Mod(TsPacket.ReadTimestamp(p[dts..]) + _offset90k, PtsModulo));
            }
        }
    }

    private static long To90k(TimeSpan t) => (long)Math.Round(t.TotalSeconds * 90000);
    private static long Mod(long v, long m) => ((v % m) + m) % m;
}

/// <summary>
/// Reads what a receiver's demuxer sees of a TS: for every video PES, its PTS minus the last PCR
/// before it (the lead tsdemux adds to arrival times), and PTS jumps. Bytes may come in any chunks
/// of whole 188-byte packets, as SRT messages do.
/// </summary>
public sealed class TsLeadMeter
{
    private long? _lastPcr27M;
    private long? _lastVideoPts;
    private readonly List<double> _leadAtPcrMs = [], _leadMs = [];
    private readonly List<double> _ptsJumpsMs = [];

    /// <summary>Leads of PES that start in the packet carrying the PCR: the muxer's intended lead, exactly.</summary>
    public IReadOnlyList<double> LeadAtPcrMs => _leadAtPcrMs;
    /// <summary>Leads of every video PES against the latest PCR (older PCRs make these larger by up to the PCR interval).</summary>
    public IReadOnlyList<double> LeadMs => _leadMs;
    /// <summary>Video PTS steps that are not one frame or so (beyond -50 ms..+200 ms), in ms.</summary>
    public IReadOnlyList<double> PtsJumpsMs => _ptsJumpsMs;

    /// <summary>The muxer's lead: the median lead at PCR packets, else the smallest lead seen; null before any.</summary>
    public double? LeadMsEstimate =>
        _leadAtPcrMs.Count > 0 ? _leadAtPcrMs.Order().ElementAt(_leadAtPcrMs.Count / 2) : _leadMs.Count > 0 ? _leadMs.Min() : null;

    public void Add(ReadOnlySpan<byte> ts)
    {
        for (var i = 0; i + TsPacket.Size <= ts.Length; i += TsPacket.Size)
        {
            var p = ts.Slice(i, TsPacket.Size);
            if (p[0] != TsPacket.Sync) continue;
            var hasPcr = false;
            if (TsPacket.PcrOffset(p) is { } pcrAt)
            {
                _lastPcr27M = TsPacket.ReadPcr(p[pcrAt..]);
                hasPcr = true;
            }
            if (TsPacket.PesTimestampOffsets(p) is not { Pts: >= 0 and var ptsAt } || !TsPacket.IsVideoPes(p)) continue;
            var pts = TsPacket.ReadTimestamp(p[ptsAt..]);
            if (_lastVideoPts is { } last)
            {
                var stepMs = Wrap(pts - last) / 90.0;
                if (stepMs is < -50 or > 200) _ptsJumpsMs.Add(stepMs);
            }
            _lastVideoPts = pts;
            if (_lastPcr27M is not { } pcr) continue;
            var leadMs = Wrap(pts - pcr / 300) / 90.0;
            _leadMs.Add(leadMs);
            if (hasPcr) _leadAtPcrMs.Add(leadMs);
        }
    }

    // Differences of 33-bit clocks, folded into -2^32..2^32.
    private static long Wrap(long d)
    {
        const long m = 1L << 33;
        d %= m;
        if (d >= m / 2) d -= m;
        if (d < -m / 2) d += m;
        return d;
    }
}

/// <summary>Field positions in a 188-byte TS packet (ISO/IEC 13818-1, 2.4.3).</summary>
internal static class TsPacket
{
    public const int Size = 188;
    public const byte Sync = 0x47;

    public static int Pid(ReadOnlySpan<byte> p) => ((p[1] & 0x1F) << 8) | p[2];
    public static bool Pusi(ReadOnlySpan<byte> p) => (p[1] & 0x40) != 0;
    private static int AdaptationControl(ReadOnlySpan<byte> p) => (p[3] >> 4) & 3;
    public static bool HasPayload(ReadOnlySpan<byte> p) => (AdaptationControl(p) & 1) != 0;

    public static int PayloadStart(ReadOnlySpan<byte> p) => (AdaptationControl(p) & 2) != 0 ? 5 + p[4] : 4;

    /// <summary>The adaptation field's random_access_indicator: muxers set it where a keyframe's PES begins.</summary>
    public static bool RandomAccess(ReadOnlySpan<byte> p) => (AdaptationControl(p) & 2) != 0 && p[4] > 0 && (p[5] & 0x40) != 0;

    /// <summary>Offset of the 6-byte PCR field, or null when the packet has none.</summary>
    public static int? PcrOffset(ReadOnlySpan<byte> p) =>
        (AdaptationControl(p) & 2) != 0 && p[4] >= 7 && (p[5] & 0x10) != 0 ? 6 : null;

    public static long ReadPcr(ReadOnlySpan<byte> f)
    {
        var b = ((long)f[0] << 25) | ((long)f[1] << 17) | ((long)f[2] << 9) | ((long)f[3] << 1) | ((long)f[4] >> 7);
        var ext = ((f[4] & 1) << 8) | f[5];
        return b * 300 + ext;
    }

    public static void WritePcr(Span<byte> f, long pcr27M)
    {
        var b = pcr27M / 300;
        var ext = pcr27M % 300;
        f[0] = (byte)(b >> 25);
        f[1] = (byte)(b >> 17);
        f[2] = (byte)(b >> 9);
        f[3] = (byte)(b >> 1);
        f[4] = (byte)(((b & 1) << 7) | 0x7E | (ext >> 8));
        f[5] = (byte)ext;
    }

    /// <summary>Offsets of the PTS and DTS fields (-1 when absent) of a PES that starts in this packet, or null.</summary>
    public static (int Pts, int Dts)? PesTimestampOffsets(ReadOnlySpan<byte> p)
    {
        if (!Pusi(p) || !HasPayload(p)) return null;
        var s = PayloadStart(p);
        if (s + 14 > Size || p[s] != 0 || p[s + 1] != 0 || p[s + 2] != 1) return null;
        var streamId = p[s + 3];
        if (streamId is not (0xBD or >= 0xC0 and <= 0xEF)) return null; // streams without the optional header
        var flags = p[s + 7] >> 6;
        if (flags == 2) return (s + 9, -1);
        if (flags == 3 && s + 19 <= Size) return (s + 9, s + 14);
        return null;
    }

    public static bool IsVideoPes(ReadOnlySpan<byte> p)
    {
        var s = PayloadStart(p);
        return s + 4 <= Size && p[s + 3] is >= 0xE0 and <= 0xEF;
    }

    /// <summary>An MPEG audio stream id, or private stream 1, in which muxers carry Opus.</summary>
    public static bool IsAudioPes(ReadOnlySpan<byte> p)
    {
        var s = PayloadStart(p);
        return s + 4 <= Size && p[s + 3] is 0xBD or (>= 0xC0 and <= 0xDF);
    }

    public static long ReadTimestamp(ReadOnlySpan<byte> f) =>
        ((long)(f[0] >> 1) & 7) << 30 | (long)f[1] << 22 | (long)(f[2] >> 1) << 15 | (long)f[3] << 7 | (long)(f[4] >> 1);

    /// <summary>Writes a 33-bit timestamp, keeping the 4-bit prefix ('0010', '0011' or '0001') and the marker bits.</summary>
    public static void WriteTimestamp(Span<byte> f, long t)
    {
        f[0] = (byte)((f[0] & 0xF0) | (int)((t >> 29) & 0x0E) | 1);
        f[1] = (byte)(t >> 22);
        f[2] = (byte)(((t >> 14) & 0xFE) | 1);
        f[3] = (byte)(t >> 7);
        f[4] = (byte)(((t << 1) & 0xFE) | 1);
    }
}
