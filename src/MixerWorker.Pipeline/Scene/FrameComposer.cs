namespace MixerWorker.Pipeline.Scene;

/// <summary>
/// What a bus looks like at rest and at any progress of a transition. The engine calls this once
/// per output frame with the progress from the pipeline's running time, so the picture depends only
/// on (animation, progress): no state, no clocks.
/// </summary>
/// <remarks>
/// Guarantees the engine relies on: at progress 0 the boxes equal <see cref="Steady"/> of the From
/// bus (From keys), at progress 1 they equal <see cref="Steady"/> of the To bus with To keys, so
/// after the last frame the engine re-keys To boxes as steady ones without a visible change. Boxes
/// are listed From side first, each side in box order; Z ranks the boxes present from 1, From side
/// below To side.
/// </remarks>
public static class FrameComposer
{
    private static readonly Crop NoClip = new();

    /// <summary>A bus at rest.</summary>
    public static ComposedFrame Steady(BusDefinition bus) => Frame(Side.From, bus.ProgramBoxes());

    /// <summary>A bus at <paramref name="progress"/> (0–1) of an animation.</summary>
    public static ComposedFrame Compose(BusAnimation animation, double progress)
    {
        var p = double.IsNaN(progress) ? 0 : Math.Clamp(progress, 0, 1);
        var from = animation.From.ProgramBoxes();
        var to = animation.To.ProgramBoxes();
        if (p <= 0) return Frame(Side.From, from);
        if (p >= 1) return Frame(Side.To, to);

        var spec = animation.Transition;
        var format = animation.To.Format ?? new OutputFormat();
        var drawn = new List<Draft>();
        var veil = 0.0;
        switch (spec.Kind)
        {
            case TransitionKind.Mix:
                drawn.AddRange(Plain(Side.From, from));
                drawn.AddRange(Plain(Side.To, to).Select(d => d with { Alpha = d.Alpha * p }));
                break;
            case TransitionKind.Dip:
                drawn.AddRange(p < 0.5 ? Plain(Side.From, from) : Plain(Side.To, to));
                veil = p < 0.5 ? 2 * p : 2 * (1 - p);
                break;
            case TransitionKind.Wipe:
                Wipe(drawn, from, to, spec.Direction, p, format);
                break;
            case TransitionKind.Push:
                Push(drawn, from, to, spec.Direction, p, format);
                break;
            case TransitionKind.Move:
                Move(drawn, from, to, p);
                break;
            default:
                // Cut (and anything unknown) holds the outgoing picture until the end.
                drawn.AddRange(Plain(Side.From, from));
                break;
        }
        return new ComposedFrame(Rank(drawn), veil, spec.Color);
    }

    // The edge travels in the wipe's direction; behind it the incoming picture, ahead of it the
    // outgoing one. Both sides are clipped so the outgoing picture does not show through gaps in the
    // incoming layout behind the edge, except an outgoing box with an identical twin on the incoming
    // side: it shows the same picture on both sides of the edge, and the engine draws such a pair
    // with one branch where the outgoing box is, so clipping it would cut the picture in half.
    private static void Wipe(List<Draft> drawn, IReadOnlyList<Box> from, IReadOnlyList<Box> to, Direction direction, double p, OutputFormat format)
    {
        var horizontal = direction is Direction.Left or Direction.Right;
        var extent = horizontal ? format.Width : format.Height;
        var travelled = (int)Math.Round(p * extent);
        // Right and Down start at the near edge (0); Left and Up at the far one.
        var forward = direction is Direction.Right or Direction.Down;
        var edge = forward ? travelled : extent - travelled;
        // Revealed region of the incoming picture, as [start, end) along the wipe's axis.
        var (inStart, inEnd) = forward ? (int.MinValue, edge) : (edge, int.MaxValue);
        var (outStart, outEnd) = forward ? (edge, int.MaxValue) : (int.MinValue, edge);
        var twins = Twins(from, to);
        drawn.AddRange(Plain(Side.From, from).Select(d => twins.Contains(d.Key.Index) ? d : Clip(d, horizontal, outStart, outEnd)).OfType<Draft>());
        drawn.AddRange(Plain(Side.To, to).Select(d => Clip(d, horizontal, inStart, inEnd)).OfType<Draft>());
    }

    /// <summary>
    /// From boxes drawn identically (alpha and z aside) by some To box, matched in To order to the
    /// first free From box, the way the engine decides which branches both sides share.
    /// </summary>
    private static HashSet<int> Twins(IReadOnlyList<Box> from, IReadOnlyList<Box> to)
    {
        var twins = new HashSet<int>();
        foreach (var box in to)
        {
            var shape = box with { Alpha = 0, Z = 0 };
            for (var i = 0; i < from.Count; i++)
                if (!twins.Contains(i) && from[i] with { Alpha = 0, Z = 0 } == shape) { twins.Add(i); break; }
        }
        return twins;
    }

    private static Draft? Clip(Draft d, bool horizontal, int start, int end)
    {
        var (pos, size) = horizontal ? (d.X, d.Width) : (d.Y, d.Height);
        var before = (int)Math.Clamp((long)start - pos, 0, size);
        var after = (int)Math.Clamp((long)pos + size - end, 0, size);
        if (before + after >= size) return null;
        var clip = horizontal ? new Crop { Left = before, Right = after } : new Crop { Top = before, Bottom = after };
        return d with { Clip = clip };
    }

    // Pictures travel in the push's direction: the outgoing ones leave by the far edge while the
    // incoming ones follow from the near edge, one frame-size behind.
    private static void Push(List<Draft> drawn, IReadOnlyList<Box> from, IReadOnlyList<Box> to, Direction direction, double p, OutputFormat format)
    {
        var horizontal = direction is Direction.Left or Direction.Right;
        var extent = horizontal ? format.Width : format.Height;
        var sign = direction is Direction.Right or Direction.Down ? 1 : -1;
        var outOffset = sign * (int)Math.Round(p * extent);
        var inOffset = outOffset - sign * extent;
        Draft Shift(Draft d, int offset) => horizontal ? d with { X = d.X + offset } : d with { Y = d.Y + offset };
        bool Inside(Draft d) => d.X < format.Width && d.Y < format.Height && d.X + d.Width > 0 && d.Y + d.Height > 0;
        drawn.AddRange(Plain(Side.From, from).Select(d => Shift(d, outOffset)).Where(Inside));
        drawn.AddRange(Plain(Side.To, to).Select(d => Shift(d, inOffset)).Where(Inside));
    }

    // A box whose source is on both sides glides (and keeps its From key so the engine keeps the
    // branch that draws it); the rest fade out or in where they stand.
    private static void Move(List<Draft> drawn, IReadOnlyList<Box> from, IReadOnlyList<Box> to, double p)
    {
        var partner = new int?[from.Count];
        var taken = new bool[to.Count];
        for (var i = 0; i < from.Count; i++)
        {
            var j = Enumerable.Range(0, to.Count).FirstOrDefault(j => !taken[j] && to[j].Source == from[i].Source, -1);
            if (j < 0) continue;
            partner[i] = j;
            taken[j] = true;
        }
        static int Lerp(int a, int b, double p) => (int)Math.Round(a + (b - a) * p);
        for (var i = 0; i < from.Count; i++)
        {
            var a = from[i];
            if (partner[i] is { } j)
            {
                var b = to[j];
                drawn.Add(new Draft(new BoxKey(Side.From, i), a, Lerp(a.X, b.X, p), Lerp(a.Y, b.Y, p), Lerp(a.Width, b.Width, p),
                    Lerp(a.Height, b.Height, p), NoClip, a.Alpha + (b.Alpha - a.Alpha) * p, a.Z + (b.Z - a.Z) * p));
            }
            else drawn.Add(Draft.Of(Side.From, i, a) with { Alpha = a.Alpha * (1 - p) });
        }
        for (var j = 0; j < to.Count; j++)
            if (!taken[j]) drawn.Add(Draft.Of(Side.To, j, to[j]) with { Alpha = to[j].Alpha * p });
    }

    private static IEnumerable<Draft> Plain(Side side, IReadOnlyList<Box> boxes) => boxes.Select((b, i) => Draft.Of(side, i, b));

    private static ComposedFrame Frame(Side side, IReadOnlyList<Box> boxes) => new(Rank(Plain(side, boxes).ToList()), 0, DipColor.Black);

    /// <summary>Z from 1 by (side, box z, box index); the list keeps side-then-index order.</summary>
    private static IReadOnlyList<PlacedBox> Rank(List<Draft> drawn)
    {
        var order = drawn.Select((d, n) => (d, n))
            .OrderBy(x => x.d.Key.Side).ThenBy(x => x.d.Order).ThenBy(x => x.d.Key.Index)
            .Select(x => x.n).ToList();
        var z = new int[drawn.Count];
        for (var rank = 0; rank < order.Count; rank++) z[order[rank]] = rank + 1;
        return drawn.Select((d, n) => new PlacedBox(d.Key, d.Box, d.X, d.Y, d.Width, d.Height, d.Clip, d.Alpha, z[n])).ToList();
    }

    /// <summary>A box being placed; <see cref="Order"/> is the z it sorts by within its side.</summary>
    private sealed record Draft(BoxKey Key, Box Box, int X, int Y, int Width, int Height, Crop Clip, double Alpha, double Order)
    {
        public static Draft Of(Side side, int index, Box b) => new(new BoxKey(side, index), b, b.X, b.Y, b.Width, b.Height, NoClip, b.Alpha, b.Z);
    }
}
