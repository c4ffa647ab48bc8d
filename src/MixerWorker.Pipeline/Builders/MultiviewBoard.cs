using MixerWorker.Pipeline.Interop;
using MixerWorker.Pipeline.Scene;

namespace MixerWorker.Pipeline.Builders;

/// <summary>
/// The tiles of a multiview bus: every input labelled with its name and framed in its tally colour
/// (red on air on Program, green in Program's preview), plus Program (the program bus's mixed
/// picture before encoding) and Preview (the main source of Program's preview shot). Tiles are
/// static, so they are placed from the control thread; only tally and liveness change them.
/// </summary>
internal sealed class MultiviewBoard(Graph graph, ScalerPool scalers, string busName, Element compositor) : IDisposable
{
    private const int BorderPx = 4;
    private readonly Dictionary<string, Tile> _tiles = [];
    // The "no signal" card of each input tile whose input has none, inside the tile's border.
    private readonly Dictionary<MultiviewTile, NoSignalCard> _cards = [];

    /// <summary>The tiles' box branches. Control thread.</summary>
    internal IReadOnlyList<BoxBranch> Boxes => [.. _tiles.Values.Select(t => t.Branch)];

    /// <summary>As <see cref="BusDirector.DetachFromSources"/>, for the board's tiles. Control thread.</summary>
    internal void DetachFromSources()
    {
        foreach (var box in Boxes) box.DetachFromSource();
    }
    private int _nextId;

    private sealed record Tile(MultiviewTile Layout, BoxBranch Branch, Element Tee);

    /// <summary>Brings the tiles in line with the scene, the tally and which inputs are live. Control thread.</summary>
    internal void Update(SceneDefinition scene, OutputFormat format, TallyState tally,
        IReadOnlyDictionary<string, InputBranch> inputs, Element? programTee, IReadOnlySet<string> live)
    {
        var program = scene.FindBus("program");
        var previewSource = program?.Preview?.Resolve(program.Format).OrderByDescending(b => b.Width * b.Height).FirstOrDefault()?.Source;
        var wanted = new Dictionary<string, (MultiviewTile Layout, Element Tee)>();
        foreach (var tile in MultiviewLayout.Tiles(scene, format))
        {
            Element? tee = tile.Kind switch
            {
                MultiviewTileKind.Program => programTee,
                MultiviewTileKind.Preview => previewSource is not null && inputs.TryGetValue(previewSource, out var p) ? p.VideoTee : null,
                _ => tile.Input is not null && inputs.TryGetValue(tile.Input, out var i) ? i.VideoTee : null,
            };
            if (tee is not null) wanted[$"{tile.Kind}:{tile.Input}"] = (tile, tee);
        }
        foreach (var (key, tile) in _tiles.ToList())
        {
            if (wanted.TryGetValue(key, out var w) && w.Layout == tile.Layout && w.Tee.Handle == tile.Tee.Handle) continue;
            tile.Branch.Dispose();
            _tiles.Remove(key);
        }
        foreach (var (key, (layout, tee)) in wanted)
        {
            if (!_tiles.ContainsKey(key))
            {
                var source = layout.Input ?? previewSource ?? "program";
                var branch = new BoxBranch(graph, scalers, busName, _nextId++, new Box { Source = source, Width = layout.Width, Height = layout.Height },
                    tee, compositor, format.Fps, new TileDecoration(layout.Label, BorderPx));
                _tiles[key] = new Tile(layout, branch, tee);
            }
            var t = _tiles[key];
            var shown = layout.Kind == MultiviewTileKind.Program || live.Contains(t.Branch.Source);
            t.Branch.Place(new Placement(layout.X, layout.Y, layout.Width, layout.Height, Placement.NoClip, shown ? 1 : 0, 1));
            t.Branch.SetBorder(BorderColor(layout, tally));
        }
    }

    /// <summary>
    /// Shows a "no signal" card in each input tile whose input is in <paramref name="noSignal"/> (with
    /// how long it has been gone), inside the tally border, and brings its text up to date. Control thread.
    /// </summary>
    internal void UpdateCards(IReadOnlyDictionary<string, TimeSpan?> noSignal, int fps)
    {
        var wanted = _tiles.Values.Where(t => t.Layout.Kind == MultiviewTileKind.Input && noSignal.ContainsKey(t.Layout.Input!))
            .ToDictionary(t => t.Layout, t => t.Layout.Input!);
        foreach (var (layout, card) in _cards.ToList())
        {
            if (wanted.ContainsKey(layout)) continue;
            card.Dispose();
            _cards.Remove(layout);
        }
        foreach (var (layout, input) in wanted)
        {
            if (!_cards.TryGetValue(layout, out var card))
            {
                var (w, h) = (layout.Width - 2 * BorderPx, layout.Height - 2 * BorderPx);
                card = new NoSignalCard(graph, ElementName.Box(busName, _nextId++).Child("card"), compositor, input, w, h, fps);
                card.Place(new Placement(layout.X + BorderPx, layout.Y + BorderPx, w, h, Placement.NoClip, 1, 1));
                _cards[layout] = card;
            }
            card.Update(noSignal[input]);
        }
    }

    /// <summary>The text of the card in each input's tile, for tests.</summary>
    internal IReadOnlyDictionary<string, string> Cards() => _cards.Values.ToDictionary(c => c.Input, c => c.Text);

    private static string BorderColor(MultiviewTile tile, TallyState tally) => tile.Kind switch
    {
        MultiviewTileKind.Program => "red",
        MultiviewTileKind.Preview => "green",
        _ when tally.IsOnAir("program", tile.Input!) => "red",
        _ when tally.Buses.TryGetValue("program", out var p) && p.Preview.Contains(tile.Input!) => "green",
        _ => "black",
    };

    /// <summary>Drops the tiles fed by <paramref name="tee"/>, before the bus that owns it goes away. Control thread.</summary>
    internal void Detach(Element tee)
    {
        foreach (var (key, tile) in _tiles.Where(t => t.Value.Tee.Handle == tee.Handle).ToList())
        {
            tile.Branch.Dispose();
            _tiles.Remove(key);
        }
    }

    /// <summary>Current border colour of an input's tile, for status and tests.</summary>
    internal IReadOnlyDictionary<string, string> Borders() =>
        _tiles.Values.Where(t => t.Layout.Kind == MultiviewTileKind.Input).ToDictionary(t => t.Layout.Input!, t => t.Branch.Border);

    public void Dispose()
    {
        foreach (var t in _tiles.Values) t.Branch.Dispose();
        _tiles.Clear();
        foreach (var c in _cards.Values) c.Dispose();
        _cards.Clear();
    }
}
