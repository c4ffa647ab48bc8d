namespace MixerWorker.Pipeline.Builders;

/// <summary>
/// The pictures let into a box that its compositor has not drawn past yet, to count those the box lost after it let
/// them in: a picture held up in the box's queue (its thread starved) reaches the compositor after the frame it was
/// for was made, and is dropped there as too old once a newer one comes; the box's queue, full, drops its oldest. The
/// frame showed the picture before instead (a repeat), and the next frame the picture after (a skip). A picture lost
/// so is counted when a newer one is drawn, once, and only if the bus made its frame without it: a frame the bus did
/// not make (an output gap) is no loss of the box's, and a picture already counted late as it came in is not counted
/// again.
/// </summary>
/// <remarks>
/// <see cref="Entered"/> runs on the thread that brings the box its pictures, <see cref="Drawing"/> on the
/// compositor's streaming thread while it makes a frame.
/// </remarks>
internal sealed class UndrawnPictures
{
    // A box whose compositor stopped drawing (a bus taken down) lists no more than this: the oldest go uncounted.
    private const int MostListed = 64;

    private record struct Picture(ulong Pts, ulong Frame, bool CountedLate, bool Missed, bool Drawn);

    private readonly List<Picture> _pictures = [];
    private readonly Lock _lock = new();

    /// <summary>
    /// A picture let into the box: its PTS, the running time of the output frame it is for, and whether it was already
    /// counted as too late for any frame.
    /// </summary>
    internal void Entered(ulong pts, ulong frame, bool countedLate)
    {
        lock (_lock)
        {
            if (_pictures.Count >= MostListed) _pictures.RemoveAt(0);
            _pictures.Add(new Picture(pts, frame, countedLate, false, false));
        }
    }

    /// <summary>
    /// The compositor makes the frame at <paramref name="frame"/> (running time) with the box's picture of PTS
    /// <paramref name="drawnPts"/> (null: none); <paramref name="made"/> false when the bus throws the frame away (it
    /// sheds load). Returns how many pictures the box lost: those before the drawn one that were never drawn although
    /// the bus made their frame.
    /// </summary>
    internal int Drawing(ulong frame, ulong? drawnPts, double frameNs, bool made = true)
    {
        lock (_lock)
        {
            var drawn = -1;
            for (var i = 0; i < _pictures.Count; i++)
            {
                var p = _pictures[i];
                if (p.Pts == drawnPts)
                {
                    drawn = i;
                    _pictures[i] = p with { Drawn = true };
                }
                else if (made && Math.Abs((double)p.Frame - frame) < frameNs / 2) _pictures[i] = p with { Missed = true };
            }
            if (drawn <= 0) return 0;
            var lost = 0;
            for (var i = 0; i < drawn; i++)
                if (_pictures[i] is { Missed: true, Drawn: false, CountedLate: false }) lost++;
            _pictures.RemoveRange(0, drawn);
            return lost;
        }
    }
}
