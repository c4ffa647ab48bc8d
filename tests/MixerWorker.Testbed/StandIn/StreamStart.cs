using MixerWorker.Testbed.Feeds;

namespace MixerWorker.Testbed.StandIn;

/// <summary>
/// Where a reader that joins a running H.264 or H.265 stream starts, as MediaMTX starts its SRT readers:
/// at the next picture a decoder can start from (MediaMTX drops a reader's video until the first IDR or
/// random-access picture, internal/protocols/mpegts/from_stream.go), with the stream's tables before it
/// (MediaMTX muxes anew for each reader, so PAT and PMT come first). Relaying from the join instead
/// handed a late reader up to a GOP of pictures it could not decode, which MediaMTX never sends: an
/// ffmpeg reader taking one frame then failed on its error share (bench/first-frame.sh's control reader).
/// A stream whose tables name no H.264 or H.265 video (plain test messages, other codecs) is relayed as
/// it comes. One per publisher; the stand-in's I/O thread only.
/// </summary>
internal sealed class StreamStart
{
    private byte[]? _pat, _pmt;
    private int _pmtPid = -1, _videoPid = -1;
    private bool _h265;

    /// <summary>Whether readers wait for a random-access picture: the tables named H.264 or H.265 video.</summary>
    internal bool HasVideo => _videoPid >= 0 && _pat is not null && _pmt is not null;

    /// <summary>The latest PAT and PMT packets, in that order: what a joining reader gets first.</summary>
    internal byte[] Tables => [.. _pat!, .. _pmt!];

    /// <summary>
    /// Takes one message of the publisher (whole TS packets) and returns the offset of the packet where
    /// a random-access picture begins in it, or -1.
    /// </summary>
    internal int Observe(ReadOnlySpan<byte> message)
    {
        var start = -1;
        for (var i = 0; i + TsPacket.Size <= message.Length; i += TsPacket.Size)
        {
            var p = message.Slice(i, TsPacket.Size);
            if (p[0] != TsPacket.Sync || !TsPacket.Pusi(p) || !TsPacket.HasPayload(p)) continue;
            var pid = TsPacket.Pid(p);
            if (pid == 0) TakePat(p);
            else if (pid == _pmtPid) TakePmt(p);
            else if (pid == _videoPid && start < 0 && (TsPacket.RandomAccess(p) || StartsKeyframe(p))) start = i;
        }
        return HasVideo ? start : -1;
    }

    private void TakePat(ReadOnlySpan<byte> p)
    {
        if (TsTables.Section(p, TsTables.PatTableId) is not { } s || TsTables.PmtPid(s) is not { } pmtPid) return;
        if (pmtPid != _pmtPid) (_pmtPid, _pmt, _videoPid) = (pmtPid, null, -1);
        _pat = p.ToArray();
    }

    private void TakePmt(ReadOnlySpan<byte> p)
    {
        if (TsTables.Section(p, TsTables.PmtTableId) is not { } s || s.Length < 16) return;
        var (video, h265) = TsTables.VideoStream(s) ?? (-1, false);
        (_videoPid, _h265, _pmt) = (video, h265, p.ToArray());
    }

    // A picture a decoder can start from: an IDR or random-access picture, or the parameter sets that lead one.
    private bool StartsKeyframe(ReadOnlySpan<byte> p)
    {
        var es = TsPacket.PayloadStart(p);
        if (es + 9 > TsPacket.Size || p[es] != 0 || p[es + 1] != 0 || p[es + 2] != 1) return false;
        es += 9 + p[es + 8];
        for (var i = es; i + 3 < TsPacket.Size; i++)
        {
            if (p[i] != 0 || p[i + 1] != 0 || p[i + 2] != 1) continue;
            var nal = p[i + 3];
            if (_h265 ? ((nal >> 1) & 0x3F) is (>= 16 and <= 21) or 32 or 33 : (nal & 0x1F) is 5 or 7) return true;
        }
        return false;
    }
}
