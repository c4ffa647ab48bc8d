namespace MixerWorker.Pipeline.Sources;

/// <summary>
/// Whether an input's H.264 PES, as tsdemux hands them on one buffer each, may be declared whole access
/// units to its parser (<see cref="AccessUnitWatch"/>). Declared wrongly, every picture of a publisher that
/// splits one over several PES would be cut in two. So a stream earns it: every buffer must begin an access
/// unit and hold exactly one primary picture, and <see cref="Probation"/> buffers in a row, a keyframe among
/// them, must have done so before it is declared. The first buffer that does not (the rest of a split
/// picture, two pictures, headers alone) ends it for good. A buffer as large as a bounded PES can be might be
/// the first part of a picture split for its size: it is never declared whole on its own, and the stream
/// keeps its standing if the next buffer begins a new access unit.
/// </summary>
/// <remarks>
/// What is left: a publisher that splits only pictures smaller than a bounded PES, and larger than every
/// picture of the probation, has its first split picture passed in two parts before the check sees it.
/// ffmpeg, GStreamer, OBS and MediaMTX (go-astits: video PES without a length, one access unit each, an
/// access unit delimiter first) keep one picture to a PES.
/// </remarks>
internal sealed class AccessUnitCheck
{
    /// <summary>Whole access units in a row before the stream is trusted: a second of pictures at 30 fps.</summary>
    internal const int Probation = 30;

    /// <summary>
    /// A bounded PES carries at most 65 535 bytes after its length field, less its header (13 bytes with a
    /// PTS and DTS, more with optional fields: 500 bytes of margin); a muxer that splits larger pictures
    /// makes parts of about this size. No buffer from here on is declared whole on its own.
    /// </summary>
    internal const int LargestBoundedPes = 65_535 - 13 - 500;

    private int _whole;
    private bool _keyframe;

    /// <summary>True once a buffer broke the rule: nothing is declared for this stream any more.</summary>
    internal bool Broken { get; private set; }

    /// <summary>
    /// Looks at the next buffer of the stream; true when it may go to the parser declared one whole access
    /// unit. Sets <see cref="Broken"/> (and returns false) on the first buffer that breaks the rule.
    /// </summary>
    internal bool Next(ReadOnlySpan<byte> buffer)
    {
        if (Broken) return false;
        var shape = Inspect(buffer);
        if (!shape.OneAccessUnit)
        {
            Broken = true;
            return false;
        }
        _keyframe |= shape.Keyframe;
        if (_keyframe && _whole < Probation) _whole++;
        return _whole >= Probation && buffer.Length < LargestBoundedPes;
    }

    internal readonly record struct Shape(bool OneAccessUnit, bool Keyframe);

    // NAL unit types (H.264 table 7-1) that may only come first in an access unit, before its first slice:
    // SEI 6, SPS 7, PPS 8, access unit delimiter 9, SPS extension 13, prefix 14, subset SPS 15, DPS 16.
    private static bool StartsAccessUnit(int type) => type is 6 or 7 or 8 or 9 or >= 13 and <= 16;

    /// <summary>
    /// Whether the Annex B bytes begin an access unit (nothing before the first start code, its first NAL
    /// a header or delimiter or a slice starting at macroblock 0) and hold exactly one primary picture
    /// (one slice starting at macroblock 0, no header or delimiter after a slice); and whether it is a keyframe.
    /// </summary>
    internal static Shape Inspect(ReadOnlySpan<byte> data)
    {
        ReadOnlySpan<byte> startCode = [0, 0, 1];
        var at = data.IndexOf(startCode);
        // Leading zeros belong to a four-byte start code; anything else is the tail of a NAL begun before.
        if (at < 0 || data[..at].ContainsAnyExcept((byte)0)) return new(false, false);
        int pictures = 0;
        bool sliceSeen = false, keyframe = false;
        while (at >= 0)
        {
            var nal = at + 3;
            if (nal >= data.Length) break;
            var type = data[nal] & 0x1f;
            if (type is 1 or 2 or 5)
            {
                // first_mb_in_slice is ue(v) and the payload's first field: 0 is coded as a single 1 bit.
                var firstMbZero = nal + 1 < data.Length && (data[nal + 1] & 0x80) != 0;
                if (!sliceSeen && !firstMbZero) return new(false, false);
                if (firstMbZero) pictures++;
                sliceSeen = true;
                keyframe |= type == 5;
            }
            else if (StartsAccessUnit(type) && sliceSeen) return new(false, false);
            var next = data[nal..].IndexOf(startCode);
            at = next < 0 ? -1 : nal + next;
        }
        return new(pictures == 1, keyframe);
    }
}
