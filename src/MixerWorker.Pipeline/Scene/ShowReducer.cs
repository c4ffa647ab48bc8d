namespace MixerWorker.Pipeline.Scene;

/// <summary>
/// Turns an operator command into the next scene. Pure: the same scene and command always give the
/// same step, so the control plane can replay commands and the engine can test a command before
/// acting. Command ids (idempotency) are the caller's business; the reducer does not remember them.
/// </summary>
public static class ShowReducer
{
    public const int MaxFadeMs = 10_000;

    private static readonly IReadOnlyDictionary<string, BusAnimation> NoAnimations = new Dictionary<string, BusAnimation>();
    private static readonly IReadOnlySet<string> Nothing = new HashSet<string>();

    /// <summary>Applies one command to a scene at rest; throws <see cref="SceneException"/> with an operator-readable reason when it cannot.</summary>
    public static ShowStep Apply(SceneDefinition scene, ShowCommand command) => Apply(scene, command, Nothing);

    /// <summary>
    /// Applies one command while the buses in <paramref name="transitioning"/> are in the middle of a
    /// transition (a mix, dip, wipe, push or move; a cut waiting for its pictures is not one). A cut on
    /// such a bus finishes its transition at once, on the incoming shot, and changes nothing else: the
    /// scene already holds that shot, so a second swap would take back what the operator just took.
    /// </summary>
    public static ShowStep Apply(SceneDefinition scene, ShowCommand command, IReadOnlySet<string> transitioning)
    {
        ArgumentNullException.ThrowIfNull(scene);
        if (command is CutCommand cut && transitioning.Contains(cut.Bus))
            return new ShowStep(scene, NoAnimations) { FinishTransitions = new HashSet<string> { cut.Bus } };
        var step = command switch
        {
            null => throw Refused("the command is empty"),
            CutCommand c => Take(scene, c.Bus, TransitionSpec.Cut, "cut"),
            AutoCommand c => Take(scene, c.Bus, c.Transition, "auto"),
            FadeToBlackCommand c => FadeToBlack(scene, c),
            SetPreviewCommand c => SetPreview(scene, c),
            SetLayoutCommand c => SetLayout(scene, c),
            GraphicsCommand c => Step(scene, ShowGraphic(Find(scene, c.Bus), c), null),
            InputAudioCommand c => InputAudio(scene, c),
            BusAudioCommand c => Step(scene, BusAudio(Find(scene, c.Bus), c), null),
            _ => throw Refused($"unknown command type '{command.GetType().Name}'"),
        };
        var errors = SceneValidator.Validate(step.Next);
        if (errors.Count > 0) throw Refused(errors);
        return step;
    }

    // Cut and auto: preview goes on air; what was on air becomes the preview, as a preset when it
    // was one so that cutting back restores the preset and not a frozen copy of its boxes.
    private static ShowStep Take(SceneDefinition scene, string busName, TransitionSpec? requested, string verb)
    {
        var bus = FindComposition(scene, busName, verb);
        var preview = bus.Preview ?? throw Refused($"bus {bus.Name} has no preview to cut to");
        var transition = requested ?? bus.Transition ?? new TransitionSpec();
        CheckTransition(bus.Name, transition);
        var next = OnAir(bus, preview) with { Preview = bus.ProgramShot() };
        return Step(scene, next, Animate(bus, next, transition));
    }

    private static ShowStep SetPreview(SceneDefinition scene, SetPreviewCommand c)
    {
        var bus = FindComposition(scene, c.Bus, "setPreview");
        var shot = c.Shot ?? throw Refused($"bus {c.Bus}: setPreview has no shot");
        return Step(scene, bus with { Preview = shot }, null);
    }

    private static ShowStep SetLayout(SceneDefinition scene, SetLayoutCommand c)
    {
        var bus = FindComposition(scene, c.Bus, "setLayout");
        var shot = c.Shot ?? throw Refused($"bus {c.Bus}: setLayout has no shot");
        // The bus would keep only the preset; say so rather than drop the boxes.
        if (shot.Preset is not null && shot.Boxes is { Count: > 0 }) throw Refused($"bus {bus.Name}: set either a preset or boxes, not both");
        if (c.Transition is { } t) CheckTransition(bus.Name, t);
        var next = OnAir(bus, shot);
        return Step(scene, next, c.Transition is { } transition ? Animate(bus, next, transition) : null);
    }

    private static ShowStep FadeToBlack(SceneDefinition scene, FadeToBlackCommand c)
    {
        var bus = Find(scene, c.Bus);
        if (c.DurationMs is < 0 or > MaxFadeMs)
            throw Refused($"bus {bus.Name}: fade to black duration {c.DurationMs} ms must be between 0 and {MaxFadeMs}");
        var next = bus with { FadedToBlack = !bus.FadedToBlack };
        return Step(scene, next, null) with { FadeToBlackMs = new Dictionary<string, int> { [bus.Name] = c.DurationMs } };
    }

    private static BusDefinition ShowGraphic(BusDefinition bus, GraphicsCommand c)
    {
        var layers = bus.Graphics ?? [];
        if (c.Layer < 0 || c.Layer >= layers.Count)
            throw Refused(layers.Count == 0
                ? $"bus {bus.Name} has no graphics layers (asked for layer {c.Layer})"
                : $"bus {bus.Name} has no graphics layer {c.Layer}: its layers are 0 to {layers.Count - 1}");
        var changed = layers.ToArray();
        changed[c.Layer] = changed[c.Layer] with { Visible = c.Visible };
        return bus with { Graphics = changed };
    }

    private static ShowStep InputAudio(SceneDefinition scene, InputAudioCommand c)
    {
        var inputs = scene.Inputs ?? [];
        var index = inputs.ToList().FindIndex(i => i?.Name == c.Input);
        if (index < 0) throw Refused($"input {Names.Quote(c.Input)} is not in the scene");
        var input = inputs[index];
        var changed = inputs.ToArray();
        changed[index] = input with
        {
            GainDb = c.GainDb ?? input.GainDb,
            Muted = c.Muted ?? input.Muted,
            DelayMs = c.DelayMs ?? input.DelayMs,
        };
        return new ShowStep(scene with { Inputs = changed, Revision = scene.Revision + 1 }, NoAnimations);
    }

    // A bus without a mix follows video, so the mix created here must too: setting only the master
    // gain must not silence the bus by turning it into an empty fixed mix.
    private static BusDefinition BusAudio(BusDefinition bus, BusAudioCommand c)
    {
        var mix = bus.Audio ?? new AudioMix { Mode = AudioMode.FollowVideo };
        return bus with
        {
            Audio = mix with
            {
                Mode = c.Mode ?? mix.Mode,
                MasterGainDb = c.MasterGainDb ?? mix.MasterGainDb,
                Sources = c.Sources ?? mix.Sources,
            },
        };
    }

    private static BusDefinition OnAir(BusDefinition bus, Shot shot) => shot.Preset is { } preset
        ? bus with { Preset = preset, Layout = [] }
        : bus with { Preset = null, Layout = shot.Boxes ?? [] };

    private static BusAnimation? Animate(BusDefinition from, BusDefinition to, TransitionSpec transition) =>
        transition.Kind == TransitionKind.Cut || transition.DurationMs <= 0 || !from.Enabled
            ? null
            : new BusAnimation(from, to, transition);

    private static ShowStep Step(SceneDefinition scene, BusDefinition next, BusAnimation? animation)
    {
        var buses = (scene.Buses ?? []).Select(b => b?.Name == next.Name ? next : b!).ToList();
        var animations = animation is null ? NoAnimations : new Dictionary<string, BusAnimation> { [next.Name] = animation };
        return new ShowStep(scene with { Buses = buses, Revision = scene.Revision + 1 }, animations);
    }

    private static BusDefinition Find(SceneDefinition scene, string? name) =>
        (scene.Buses ?? []).FirstOrDefault(b => b is not null && b.Name == name)
        ?? throw Refused($"bus {Names.Quote(name)} is not in the scene");

    private static BusDefinition FindComposition(SceneDefinition scene, string? name, string verb)
    {
        var bus = Find(scene, name);
        return bus.Kind == BusKind.Multiview
            ? throw Refused($"bus {bus.Name} is a multiview: {verb} needs a composition bus with a program and a preview")
            : bus;
    }

    private static void CheckTransition(string bus, TransitionSpec transition)
    {
        var errors = new List<string>();
        SceneValidator.ValidateTransition(transition, $"bus {bus}: transition", errors);
        if (errors.Count > 0) throw Refused(errors);
    }

    private static SceneException Refused(string reason) => Refused([reason]);

    private static SceneException Refused(IReadOnlyList<string> reasons) => new("command refused", reasons);
}
