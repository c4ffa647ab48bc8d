namespace MixerWorker.Pipeline.Builders;

/// <summary>
/// Lets at most one picture per output frame into a box: the first whose running time falls in
/// that frame's slot, the slot being the output frame's start ± half a frame interval (shifted a
/// millisecond later, so that a picture starting exactly half a frame before the output frame,
/// which 60 fps inputs on a 30 fps grid can do, still reaches into it). Inputs at or below the bus's
/// frame rate pass untouched (one picture per slot at most); a 60 fps input on a 30 fps bus gives
/// every other picture, always from the same side of each output frame.
/// </summary>
/// <remarks>
/// Why not let the compositor choose: GStreamer 1.22's video aggregator takes at most one buffer
/// per pad each time it tries to make a frame, and it tries again at once only while every pad has
/// a buffer waiting. A box that receives two pictures per output frame needs two tries per frame;
/// when the second does not come before the deadline (another pad still waiting, a busy machine),
/// the frame shows the older of the two and the box runs a picture behind, then jumps two ahead:
/// skipped pictures in steps of 50 and 17 ms. With one picture per slot every try finds exactly the
/// picture it needs. Dropping before the box's queue also saves scaling pictures never shown.
/// Pure arithmetic; called on the box's input streaming thread only.
/// </remarks>
internal sealed class FramePicker
{
    private const double ShiftNs = 1_000_000;
    private const int MaxLostSlots = 64;
    private long? _lastSlot;
    // Slots whose picture was lost on its way to the box (Lost) and that no picture has been kept for yet.
    private readonly List<long> _lostSlots = [];
    // The output frame slots are counted from: the first output frame seen, kept while the bus's
    // frames stay on its grid (a bus that restarts its grid gets a new one).
    private double? _origin;

    /// <summary>
    /// Whether the picture at running time <paramref name="runningTime"/> is the one to show.
    /// <paramref name="gridOrigin"/> is the running time of any output frame of the bus (its frames
    /// lie a whole number of <paramref name="frameNs"/> from it); null while the bus has made none,
    /// when every picture passes.
    /// </summary>
    internal bool Keep(ulong runningTime, ulong? gridOrigin, double frameNs) => Keep(runningTime, gridOrigin, frameNs, out _);

    /// <summary>
    /// As <see cref="Keep(ulong, ulong?, double)"/>; <paramref name="missed"/> is how many output frames up to the
    /// kept picture's lost their picture on its way (<see cref="Lost"/>): those no other picture of their slot came for,
    /// which the box showed its picture before for, and the kept picture's own when a picture of its slot before it was
    /// lost (a faster input's second picture of the slot stands in: the box shows its input a frame further on).
    /// </summary>
    internal bool Keep(ulong runningTime, ulong? gridOrigin, double frameNs, out int missed)
    {
        missed = 0;
        if (gridOrigin is not { } latest || frameNs <= 0) return true;
        if (_origin is not { } origin || OffGrid(latest, origin, frameNs))
        {
            _origin = origin = latest;
            _lostSlots.Clear();
        }
        var slot = Slot(runningTime, origin, frameNs);
        if (slot == _lastSlot) return false;
        _lastSlot = slot;
        if (_lostSlots.Count > 0)
        {
            missed = _lostSlots.Count(lost => lost <= slot);
            // A later slot stays noted: a decoder that holds a picture or two back (reordering) hands on older pictures
            // after the loss of a newer one was told.
            _lostSlots.RemoveAll(lost => lost <= slot);
        }
        return true;
    }

    /// <summary>
    /// A picture at <paramref name="runningTime"/> that will not reach the box (dropped on its way as too old for any
    /// bus). The next kept picture reports the slot as missed, whether of that slot (a later picture stands in) or after it.
    /// </summary>
    internal void Lost(ulong runningTime, ulong? gridOrigin, double frameNs)
    {
        if (gridOrigin is null || _origin is not { } origin || frameNs <= 0 || OffGrid(gridOrigin.Value, origin, frameNs)) return;
        var slot = Slot(runningTime, origin, frameNs);
        // A slot already shown, or already noted, is no new loss; the list stays as short as a burst of drops.
        if ((_lastSlot is not { } shown || slot > shown) && !_lostSlots.Contains(slot) && _lostSlots.Count < MaxLostSlots) _lostSlots.Add(slot);
    }

    /// <summary>
    /// The running time of the output frame whose slot the picture at <paramref name="runningTime"/>
    /// falls in, on the grid of the output frame at <paramref name="gridOrigin"/>.
    /// </summary>
    internal static ulong FrameOf(ulong runningTime, ulong gridOrigin, double frameNs) =>
        (ulong)Math.Max(0, Math.Round(gridOrigin + Slot(runningTime, gridOrigin, frameNs) * frameNs));

    private static long Slot(ulong runningTime, double origin, double frameNs) =>
        (long)Math.Floor((runningTime - origin + frameNs / 2 - ShiftNs) / frameNs);

    private static bool OffGrid(double frame, double origin, double frameNs)
    {
        var frames = (frame - origin) / frameNs;
        return Math.Abs(frames - Math.Round(frames)) * frameNs > ShiftNs;
    }
}
