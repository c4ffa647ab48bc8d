using MixerWorker.Pipeline.Interop;
using MixerWorker.Pipeline.Scene;

namespace MixerWorker.Pipeline.Builders;

/// <summary>
/// Carries out a composition bus's picture frame by frame: which box branches exist (control
/// thread) and where each one is drawn in every output frame (compositor thread, through
/// samples-selected). Transitions, fades and graphics are timed by the output frames' running time,
/// never by wall-clock timers, so a 500 ms mix at 30 fps is exactly 15 frames.
/// </summary>
/// <remarks>
/// Locking: <see cref="_lock"/> guards the plan (branches, animation, fades) and is held by the
/// compositor thread for a whole frame. The control thread only swaps the plan under it and makes
/// every GStreamer change (building, resizing, disposing branches) outside it, because those take
/// the compositor's own locks, which the compositor thread holds while it waits for ours.
/// </remarks>
internal sealed class BusDirector : IDisposable
{
    private const int DipVeilZ = 900, GraphicsZ = 1000, FadeVeilZ = 2000;
    // How long a transition waits for the incoming boxes' first frames before it starts anyway.
    private const int WipeLeadFrames = 5;
    private static readonly TimeSpan ReadyTimeout = TimeSpan.FromMilliseconds(400);

    private readonly Graph _graph;
    private readonly ScalerPool _scalers;
    private readonly Element _compositor;
    private readonly string _bus;
    private readonly OutputFormat _format;
    private readonly Action<Action> _toControlThread;
    private readonly Action<IReadOnlyDictionary<string, double>> _setAudioGains;
    private readonly Func<ulong, bool> _busMakes;
    private readonly Func<ulong, ulong, bool> _busFallback;
    private readonly CompositorPacer? _pacer;
    private readonly Lock _lock = new();
    private int _nextBoxId;

    // The plan, guarded by _lock.
    private BusDefinition _steady;
    private List<BoxBranch> _steadyBranches = [];
    private Transition? _active;
    private IReadOnlySet<string> _live = new HashSet<string>();
    private Fade _fadeToBlack = Fade.At(0);
    private IReadOnlyList<Overlay> _graphics = [];
    // A dip's veils, one per colour a dip has used on this bus, and the fade to black's.
    private readonly List<VeilBranch> _dipVeils = [];
    private VeilBranch? _fadeVeil;
    private ulong _lastRunningTime;
    private volatile bool _showedPicture;
    // A "no signal" card per input without signal and box size shown, drawn where such a box is.
    private Dictionary<(string Input, int Width, int Height), NoSignalCard> _cards = [];
    // Compositor thread: the steady shot's frame, composed once per shot, and what the frames since it was last
    // drawn were drawn from (SameAsDrawn).
    private BusDefinition? _composedFor;
    private ComposedFrame? _composed;
    private readonly Func<BoxKey, BoxBranch?> _steadyBranchOf;
    private (ComposedFrame? Frame, IReadOnlySet<string>? Live, object? Cards, List<BoxBranch>? Branches, int Veils) _drawn;
    private int _drawnAlike;

    /// <summary>Raised on the control thread when a transition has finished.</summary>
    internal event Action? TransitionFinished;

    internal BusDirector(Graph graph, ScalerPool scalers, Element compositor, BusDefinition bus, Action<Action> toControlThread,
        Action<IReadOnlyDictionary<string, double>> setAudioGains, Func<ulong, bool> busMakes, Func<ulong, ulong, bool> busFallback,
        CompositorPacer? pacer = null)
    {
        _pacer = pacer;
        _setAudioGains = setAudioGains;
        _busMakes = busMakes;
        _busFallback = busFallback;
        _graph = graph;
        _scalers = scalers;
        _compositor = compositor;
        _bus = bus.Name;
        _format = bus.Format;
        _steady = bus with { Layout = [], Preset = null };
        _toControlThread = toControlThread;
        _steadyBranchOf = k => k.Side == Side.From && k.Index < _steadyBranches.Count ? _steadyBranches[k.Index] : null;
        graph.ConnectSamplesSelected(compositor, OnFrame);
    }

    internal BusAnimation? Animation { get { lock (_lock) return _active?.Animation; } }

    /// <summary>Whether a frame of the bus has drawn a picture of an input yet (not only its background, cards or graphics). Any thread.</summary>
    internal bool ShowedPicture => _showedPicture;

    /// <summary>
    /// Moves the bus to <paramref name="to"/> with <paramref name="transition"/> (a cut switches on
    /// the next frame once the incoming boxes have pictures). A transition still running is finished
    /// first. Control thread.
    /// </summary>
    internal void Show(BusDefinition to, TransitionSpec transition, IReadOnlyDictionary<string, InputBranch> inputs)
    {
        FinishNow();
        BusDefinition from;
        List<BoxBranch> fromBranches;
        lock (_lock) { from = _steady; fromBranches = _steadyBranches; }
        var fromBoxes = from.ProgramBoxes();
        var toBoxes = to.ProgramBoxes();
        if (fromBoxes.SequenceEqual(toBoxes))
        {
            lock (_lock) _steady = to;
            return;
        }
        var spec = transition.DurationMs <= 0 ? TransitionSpec.Cut : transition;
        var wipe = spec.Kind == TransitionKind.Wipe;
        var toBranches = new BoxBranch?[toBoxes.Count];
        var movedFrom = new int?[toBoxes.Count];
        var fresh = new List<BoxBranch>();
        var reused = new HashSet<int>();
        for (var j = 0; j < toBoxes.Count; j++)
        {
            var i = ReusableFrom(spec.Kind, fromBoxes, toBoxes[j], reused);
            if (i is not null && spec.Kind == TransitionKind.Move) { movedFrom[j] = i; continue; } // drawn by the outgoing branch it glides from
            if (i is not null) { toBranches[j] = fromBranches[i.Value]; continue; }
            var branch = new BoxBranch(_graph, _scalers, _bus, _nextBoxId++, toBoxes[j], inputs[toBoxes[j].Source].VideoTee, _compositor, _format.Fps,
                clipAt: ClipFor, clipping: wipe, pacer: _pacer)
            {
                OutputGrid = LastFrameTime,
                BusMakes = _busMakes,
                BusFallback = _busFallback,
            };
            toBranches[j] = branch;
            fresh.Add(branch);
        }
        if (spec.Kind == TransitionKind.Dip && !_dipVeils.Any(v => v.Color == spec.Color))
        {
            var veil = new VeilBranch(_graph, ElementName.Veil(_bus, $"dip-{spec.Color.ToString().ToLowerInvariant()}"), _compositor, _format, DipVeilZ, spec.Color);
            lock (_lock) _dipVeils.Add(veil);
        }
        // Pictures are cut only while a wipe runs, from here (its lead included) to its Complete.
        if (wipe) foreach (var b in fromBranches.Concat(toBranches.OfType<BoxBranch>())) b.StartClipping();
        var animation = new BusAnimation(from, to, spec);
        lock (_lock) _active = new Transition(animation, fromBranches, toBranches, movedFrom, fresh, Environment.TickCount64 + (long)ReadyTimeout.TotalMilliseconds);
    }

    // Which outgoing box's branch can draw an incoming box. A cut may reuse any branch of the same
    // source (a new size is a caps change, cheaper than a new branch); transitions that show both
    // sides at once may only share a branch whose picture is identical on both; a move draws the
    // matched box under its outgoing key, matched the way FrameComposer matches (first free box of
    // the same source); a push shows every box twice at different places, so it shares nothing.
    private static int? ReusableFrom(TransitionKind kind, IReadOnlyList<Box> from, Box to, HashSet<int> taken)
    {
        for (var i = 0; i < from.Count; i++)
        {
            if (taken.Contains(i) || from[i].Source != to.Source) continue;
            var fits = kind switch
            {
                TransitionKind.Cut or TransitionKind.Move => true,
                TransitionKind.Push => false,
                _ => from[i] with { Alpha = 0, Z = 0 } == to with { Alpha = 0, Z = 0 },
            };
            if (!fits) continue;
            taken.Add(i);
            return i;
        }
        return null;
    }

    /// <summary>Ends a running transition now, on its final picture. Control thread.</summary>
    internal void FinishNow()
    {
        Transition? t;
        lock (_lock) t = _active;
        if (t is not null) Complete(t);
    }

    private void Complete(Transition t)
    {
        var toBoxes = t.Animation.To.ProgramBoxes();
        List<BoxBranch> keep = [];
        lock (_lock)
        {
            if (_active != t) return;
            for (var j = 0; j < toBoxes.Count; j++) keep.Add(BranchOf(t, new BoxKey(Side.To, j))!);
            _steady = t.Animation.To;
            _steadyBranches = keep;
            _active = null;
        }
        foreach (var b in keep) b.StopClipping();
        for (var j = 0; j < keep.Count; j++) keep[j].Resize(toBoxes[j]);
        foreach (var gone in t.From.Concat(t.Fresh).Distinct().Where(b => !keep.Contains(b))) gone.Dispose();
        TransitionFinished?.Invoke();
    }

    /// <summary>Which inputs are live; a box of an input that is not shows its "no signal" card (<see cref="UpdateCards"/>).</summary>
    internal void SetLive(IReadOnlySet<string> live)
    {
        lock (_lock) _live = live;
    }

    /// <summary>
    /// Keeps one "no signal" card for each input in <paramref name="noSignal"/> (with how long it has
    /// been gone, null if it never came) and each size a box of it has in the shots shown, and brings
    /// their text up to date. Control thread; GStreamer changes outside the lock, as for branches.
    /// </summary>
    internal void UpdateCards(IReadOnlyDictionary<string, TimeSpan?> noSignal)
    {
        Dictionary<(string Input, int Width, int Height), NoSignalCard> current;
        List<Box> shown;
        lock (_lock)
        {
            current = _cards;
            shown = [.. _steady.ProgramBoxes(), .. _active?.Animation.To.ProgramBoxes() ?? []];
        }
        var wanted = shown.Where(b => noSignal.ContainsKey(b.Source)).Select(b => (b.Source, b.Width, b.Height)).ToHashSet();
        if (wanted.Count == 0 && current.Count == 0) return;
        var next = new Dictionary<(string Input, int Width, int Height), NoSignalCard>();
        foreach (var key in wanted)
            next[key] = current.GetValueOrDefault(key)
                ?? new NoSignalCard(_graph, ElementName.Box(_bus, _nextBoxId++).Child("card"), _compositor, key.Source, key.Width, key.Height, _format.Fps);
        lock (_lock) _cards = next;
        foreach (var (key, card) in next) card.Update(noSignal[key.Input]);
        foreach (var (key, gone) in current) if (!next.ContainsKey(key)) gone.Dispose();
    }

    /// <summary>The text of every "no signal" card, by input and size, for tests and status.</summary>
    internal IReadOnlyDictionary<(string Input, int Width, int Height), string> Cards
    {
        get { lock (_lock) return _cards.ToDictionary(c => c.Key, c => c.Value.Text); }
    }

    /// <summary>Fades the whole bus, graphics included, to or from black. Control thread.</summary>
    internal void FadeToBlack(bool black, TimeSpan duration)
    {
        _fadeVeil ??= new VeilBranch(_graph, ElementName.Veil(_bus, "ftb"), _compositor, _format, FadeVeilZ, DipColor.Black);
        lock (_lock) _fadeToBlack = _fadeToBlack.To(black ? 1 : 0, duration, NextFrameTime());
    }

    /// <summary>
    /// Brings the graphics layers to <paramref name="layers"/>: a layer whose file or geometry
    /// changed is rebuilt, a change of visibility or opacity fades. Control thread.
    /// </summary>
    internal void SetGraphics(IReadOnlyList<GraphicLayer> layers, Func<string, string> resolve)
    {
        IReadOnlyList<Overlay> current;
        lock (_lock) current = _graphics;
        var built = new GraphicBranch?[layers.Count];
        for (var i = 0; i < layers.Count; i++)
            if (i >= current.Count || !SameImage(current[i].Branch.Layer, layers[i]))
                built[i] = new GraphicBranch(_graph, _bus, _nextBoxId++, layers[i], resolve(layers[i].File), _compositor, _format, GraphicsZ + i);
        lock (_lock)
        {
            var next = new List<Overlay>();
            for (var i = 0; i < layers.Count; i++)
            {
                var fade = built[i] is null ? current[i].Fade : Fade.At(0);
                var target = layers[i].Visible ? layers[i].Opacity : 0;
                next.Add(new Overlay(built[i] ?? current[i].Branch, fade.To(target, TimeSpan.FromMilliseconds(layers[i].FadeMs), NextFrameTime())));
            }
            _graphics = next;
        }
        foreach (var stale in current.Select(o => o.Branch).Except(_graphics.Select(o => o.Branch))) stale.Dispose();
    }

    private static bool SameImage(GraphicLayer a, GraphicLayer b) =>
        a with { Visible = false, Opacity = 0, FadeMs = 0 } == b with { Visible = false, Opacity = 0, FadeMs = 0 };

    // Any streaming thread: a plain read of a word the compositor's thread writes.
    private ulong? LastFrameTime() => Volatile.Read(ref _lastRunningTime) is var t and > 0 ? t : null;

    // Fades begin with the next output frame. Caller holds _lock.
    private ulong NextFrameTime() => _lastRunningTime + ClockTime.Frame(_format.Fps);

    // Compositor streaming thread: quick, property changes only.
    private void OnFrame(ulong runningTime)
    {
        lock (_lock)
        {
            Volatile.Write(ref _lastRunningTime, runningTime);
            foreach (var branch in AllBranches()) branch.Drawing(runningTime);
            var (frame, branches) = FrameAt(runningTime);
            if (!SameAsDrawn(frame)) Draw(frame, branches);
            _fadeVeil?.Show(_fadeToBlack.At(runningTime));
            foreach (var overlay in _graphics) overlay.Branch.Show(overlay.Fade.At(runningTime));
        }
    }

    // Between shots every frame is drawn as the one before it, and each of the bus's 30 frames a second composed the
    // shot and placed its boxes again to find nothing to change (a compositor thread's largest managed cost). Drawn
    // again while anything it is drawn from changes, during a transition, until a picture has been shown, and for a
    // second after each change (pictures a wipe cut, still in the boxes' queues, are placed where their cut puts them).
    // Caller holds _lock.
    private bool SameAsDrawn(ComposedFrame frame)
    {
        var now = (frame, _live, (object)_cards, _steadyBranches, _dipVeils.Count);
        if (_active is not null || !_showedPicture || now != _drawn) { _drawn = now; _drawnAlike = 0; return false; }
        if (_drawnAlike <= _format.Fps) _drawnAlike++;
        return _drawnAlike > _format.Fps;
    }

    private (ComposedFrame Frame, Func<BoxKey, BoxBranch?> Branch) FrameAt(ulong runningTime)
    {
        if (_active is not { } t)
        {
            if (_composedFor != _steady) (_composed, _composedFor) = (FrameComposer.Steady(_steady), _steady);
            return (_composed!, _steadyBranchOf);
        }
        BoxBranch? Of(BoxKey k) => BranchOf(t, k);
        if (t.StartedAt is null)
        {
            // The incoming boxes get a few frames to deliver pictures, so a cut never flashes black.
            if (!t.Fresh.All(b => b.HasPictureNow || !_live.Contains(b.Source)) && Environment.TickCount64 < t.ReadyDeadline)
                return (FrameComposer.Compose(t.Animation, 0), Of);
            // A wipe clips each picture as it enters its box, a few frames before the compositor
            // draws it; starting a few frames ahead lets the pictures already on their way be cut
            // for the moment they will be shown, so even the first frames of the wipe are exact.
            var lead = t.Animation.Transition.Kind == TransitionKind.Wipe ? WipeLeadFrames * ClockTime.Second / (ulong)_format.Fps : 0;
            t.StartedAt = runningTime + lead;
        }
        var progress = Progress(t, runningTime);
        if (progress >= 1 && !t.Finishing)
        {
            t.Finishing = true;
            _toControlThread(() => Complete(t));
        }
        // Audio crossfades with the picture, at the same progress (per video frame).
        _setAudioGains(AudioPlan.Gains(t.Animation.To, t.Animation, progress));
        return (FrameComposer.Compose(t.Animation, progress), Of);
    }

    private static BoxBranch? BranchOf(Transition t, BoxKey k) => k.Side switch
    {
        Side.From => k.Index < t.From.Count ? t.From[k.Index] : null,
        _ when k.Index >= t.To.Length => null,
        _ => t.To[k.Index] ?? (t.MovedFrom[k.Index] is { } i ? t.From[i] : null),
    };

    private static double Progress(Transition t, ulong runningTime)
    {
        if (t.StartedAt is not { } start || runningTime <= start) return 0;
        var duration = ClockTime.FromTimeSpan(t.Animation.Duration);
        return duration == 0 ? 1.0 : Math.Min(1.0, (double)(runningTime - start) / duration);
    }

    // Box streaming threads: the clip of one picture of a box, from the running time of the output frame it is drawn in.
    // Outside a wipe nothing is clipped. A box not drawn at that moment is cut away whole, so that
    // a picture taken before the wipe reached it never flashes in full.
    private Crop? ClipFor(BoxBranch branch, ulong runningTime)
    {
        lock (_lock)
        {
            if (_active is not { } t || t.Animation.Transition.Kind != TransitionKind.Wipe) return Placement.NoClip;
            Crop? clip = null;
            foreach (var box in FrameComposer.Compose(t.Animation, Progress(t, runningTime)).Boxes)
            {
                if (BranchOf(t, box.Key) != branch) continue;
                if (box.Clip == Placement.NoClip) return Placement.NoClip;
                clip = box.Clip;
            }
            return clip ?? (branch.Box is { } b ? new Crop { Left = b.Width } : null);
        }
    }

    private void Draw(ComposedFrame frame, Func<BoxKey, BoxBranch?> branchOf)
    {
        // A branch drawn by both sides (a picture identical on both) is drawn once, where the
        // outgoing side draws it, as opaque as the more visible of the two.
        var placements = new Dictionary<BoxBranch, Placement>();
        var cards = new Dictionary<NoSignalCard, Placement>();
        foreach (var box in frame.Boxes)
        {
            var live = _live.Contains(box.Box.Source);
            // A box without signal shows its input's card instead, as opaque as the box would be.
            if (!live && _cards.TryGetValue((box.Box.Source, box.Box.Width, box.Box.Height), out var card) && box.Alpha > 0
                && !(cards.TryGetValue(card, out var drawn) && drawn.Alpha >= box.Alpha))
                cards[card] = new Placement(box.X, box.Y, box.Width, box.Height, Placement.NoClip, box.Alpha, box.Z);
            if (branchOf(box.Key) is not { } branch) continue;
            var alpha = live ? box.Alpha : 0;
            var p = new Placement(box.X, box.Y, box.Width, box.Height, box.Clip, alpha, box.Z);
            if (placements.TryGetValue(branch, out var other))
                p = (other.Alpha >= p.Alpha || box.Key.Side == Side.To ? other : p) with { Alpha = Math.Max(other.Alpha, p.Alpha) };
            placements[branch] = p;
        }
        foreach (var branch in AllBranches())
        {
            if (placements.TryGetValue(branch, out var p) && p.Alpha > 0)
            {
                branch.Place(p);
                if (!_showedPicture && branch.HasPictureNow) _showedPicture = true;
            }
            else branch.Hide();
        }
        foreach (var card in _cards.Values)
        {
            if (cards.TryGetValue(card, out var p)) card.Place(p);
            else card.Hide();
        }
        foreach (var veil in _dipVeils) veil.Show(veil.Color == frame.VeilColor ? frame.VeilAlpha : 0);
    }

    internal IReadOnlyList<BoxBranch> Branches { get { lock (_lock) return AllBranches().ToList(); } }

    /// <summary>Takes every box off its source's shared scaler, before the bus is stopped (<see cref="BusBranch.StopDownstreamFirst"/>). Control thread.</summary>
    internal void DetachFromSources()
    {
        foreach (var branch in Branches) branch.DetachFromSource();
    }

    private IEnumerable<BoxBranch> AllBranches() =>
        _active is { } t ? t.From.Concat(t.To.OfType<BoxBranch>()).Distinct() : _steadyBranches;

    public void Dispose()
    {
        List<BoxBranch> all;
        List<NoSignalCard> cards;
        lock (_lock)
        {
            all = [.. AllBranches(), .. _active?.Fresh ?? []];
            cards = [.. _cards.Values];
            _cards = [];
            _steadyBranches = [];
            _active = null;
        }
        foreach (var b in all.Distinct()) b.Dispose();
        foreach (var card in cards) card.Dispose();
        foreach (var overlay in _graphics) overlay.Branch.Dispose();
        _graphics = [];
        List<VeilBranch> veils;
        lock (_lock)
        {
            veils = [.. _dipVeils];
            _dipVeils.Clear();
        }
        foreach (var veil in veils) veil.Dispose();
        _fadeVeil?.Dispose();
    }

    /// <summary>A transition in progress: the outgoing branches by From index, the incoming by To index.</summary>
    private sealed class Transition(BusAnimation animation, List<BoxBranch> from, BoxBranch?[] to, int?[] movedFrom, List<BoxBranch> fresh, long readyDeadline)
    {
        internal BusAnimation Animation { get; } = animation;
        internal List<BoxBranch> From { get; } = from;
        internal BoxBranch?[] To { get; } = to;
        /// <summary>For a move: the outgoing box each incoming box glides from, when it has no branch of its own.</summary>
        internal int?[] MovedFrom { get; } = movedFrom;
        /// <summary>Branches built for this transition (the ones that must deliver a first frame).</summary>
        internal List<BoxBranch> Fresh { get; } = fresh;
        internal long ReadyDeadline { get; } = readyDeadline;
        internal ulong? StartedAt { get; set; }
        internal bool Finishing { get; set; }
    }
}

/// <summary>A graphics layer and its opacity over time.</summary>
internal sealed record Overlay(GraphicBranch Branch, Fade Fade);

/// <summary>A value (0–1) moving linearly between two levels over a span of running time.</summary>
internal readonly record struct Fade(double From, double Target, ulong Start, ulong DurationNs)
{
    internal static Fade At(double level) => new(level, level, 0, 0);

    internal double At(ulong runningTime)
    {
        if (DurationNs == 0 || runningTime >= Start + DurationNs) return Target;
        if (runningTime <= Start) return From;
        return From + (Target - From) * (runningTime - Start) / DurationNs;
    }

    /// <summary>A fade from wherever this one is at <paramref name="now"/> to <paramref name="target"/>.</summary>
    internal Fade To(double target, TimeSpan duration, ulong now) => new(At(now), target, now, ClockTime.FromTimeSpan(duration));
}
