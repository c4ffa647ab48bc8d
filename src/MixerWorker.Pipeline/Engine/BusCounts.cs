using MixerWorker.Pipeline.Builders;

namespace MixerWorker.Pipeline.Engine;

/// <summary>
/// A bus's counters that only grow. A branch's start at zero when it is built, so the bus's are
/// the sum over every branch it had (ProjectGraph keeps those of the branches gone): a rebuild in
/// place (a stalled muxer, a failed encoder) or for a new format never makes them fall.
/// </summary>
internal readonly record struct BusCounts(long FramesOut, long BytesSent, long DroppedFrames, long Episodes, long AudioDroppedNs,
    long PicturesSent, long PicturesSentLate)
{
    internal static BusCounts Of(BusBranch b) =>
        new(b.FramesOut, b.BytesSent, b.Guard.Dropped, b.Guard.Episodes, b.Guard.AudioDroppedNs, b.Leaving.Sent, b.Leaving.Late);

    public static BusCounts operator +(BusCounts a, BusCounts b) =>
        new(a.FramesOut + b.FramesOut, a.BytesSent + b.BytesSent, a.DroppedFrames + b.DroppedFrames, a.Episodes + b.Episodes,
            a.AudioDroppedNs + b.AudioDroppedNs, a.PicturesSent + b.PicturesSent, a.PicturesSentLate + b.PicturesSentLate);
}
