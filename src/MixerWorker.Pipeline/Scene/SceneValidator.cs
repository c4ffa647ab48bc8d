using System.Text.Json;

namespace MixerWorker.Pipeline.Scene;

/// <summary>Checks a scene and lists every problem, each phrased so an operator can fix it.</summary>
public static class SceneValidator
{
    public const int MaxInputs = 32;
    public const int MaxBoxesPerBus = 32;
    public const int MaxGraphicLayers = 4;
    public const int MaxTransitionMs = 10_000;
    public const int MaxDelayMs = 1000;
    public const int MaxPresetMargin = 200;
    public const double MinGainDb = -90, MaxGainDb = 20;
    public const double MinPipSize = 0.1, MaxPipSize = 0.6;

    public static IReadOnlyList<string> Validate(SceneDefinition scene)
    {
        var errors = new List<string>();
        if (!Names.IsValid(scene.Project)) errors.Add(Names.Describe(scene.Project, "project"));

        var inputs = scene.Inputs ?? [];
        if (inputs.Count > MaxInputs) errors.Add($"too many inputs: {inputs.Count} (at most {MaxInputs})");
        var known = new HashSet<string>();
        for (var i = 0; i < inputs.Count; i++)
        {
            var name = inputs[i]?.Name;
            if (!Names.IsValid(name)) errors.Add($"input {i + 1}: {Names.Describe(name, "input")}");
            else if (!known.Add(name!)) errors.Add($"input '{name}' is listed twice");
            if (inputs[i] is not { } input) continue;
            var at = Names.IsValid(name) ? $"input '{name}'" : $"input {i + 1}";
            if (!IsGain(input.GainDb)) errors.Add($"{at}: gain {input.GainDb} dB must be between -90 and +20");
            if (input.DelayMs is < 0 or > MaxDelayMs) errors.Add($"{at}: delay {input.DelayMs} ms must be between 0 and {MaxDelayMs}");
        }

        var buses = new HashSet<string>();
        foreach (var bus in scene.Buses ?? [])
        {
            if (bus is null) { errors.Add("a bus entry is empty"); continue; }
            if (!Names.IsBus(bus.Name))
            {
                errors.Add($"bus {Names.Quote(bus.Name)} is not a bus: use one of {string.Join(", ", Names.BusNames)}");
                continue;
            }
            if (!buses.Add(bus.Name)) { errors.Add($"bus '{bus.Name}' is listed twice"); continue; }
            ValidateBus(bus, known, errors);
        }
        return errors;
    }

    private static void ValidateBus(BusDefinition bus, HashSet<string> inputs, List<string> errors)
    {
        var at = $"bus {bus.Name}";
        var f = bus.Format ?? new OutputFormat();
        if (f.Width is < 16 or > 4096 || f.Width % 2 != 0) errors.Add($"{at}: width {f.Width} must be even and between 16 and 4096");
        if (f.Height is < 16 or > 4096 || f.Height % 2 != 0) errors.Add($"{at}: height {f.Height} must be even and between 16 and 4096");
        if (f.Fps is < 1 or > 120) errors.Add($"{at}: fps {f.Fps} must be between 1 and 120");
        if (f.VideoBitrateKbps is < 50 or > 100_000) errors.Add($"{at}: videoBitrateKbps {f.VideoBitrateKbps} must be between 50 and 100000");
        if (double.IsNaN(f.GopSeconds) || f.GopSeconds is < 0.1 or > 10) errors.Add($"{at}: gopSeconds {f.GopSeconds} must be between 0.1 and 10");
        if (f.AudioBitrateKbps is < 8 or > 510) errors.Add($"{at}: audioBitrateKbps {f.AudioBitrateKbps} must be between 8 and 510");

        if (!Enum.IsDefined(f.AudioCodec)) errors.Add($"{at}: audioCodec must be opus or aac");
        if (!Enum.IsDefined(bus.Background)) errors.Add($"{at}: background must be black, white or checker");

        if (!Enum.IsDefined(bus.Kind)) errors.Add($"{at}: kind must be one of {Choices<BusKind>()}");
        var layout = bus.Layout ?? [];
        if (bus.Kind == BusKind.Multiview)
        {
            // A multiview draws every input itself; a layout here would be silently ignored.
            if (layout.Count > 0) errors.Add($"bus {bus.Name} is a multiview: it shows every input, so remove its layout");
            if (bus.Preset is not null) errors.Add($"bus {bus.Name} is a multiview: it shows every input, so remove its preset");
            if (bus.Preview is not null) errors.Add($"bus {bus.Name} is a multiview: it has no preview, so remove it");
            if (!MultiviewLayout.Fits(inputs.Count, f))
                errors.Add($"bus {bus.Name} is a multiview: its {f.Width}x{f.Height} frame has no room for {inputs.Count} input tiles");
        }
        else
        {
            if (bus.Preset is not null && layout.Count > 0) errors.Add($"{at}: set either a preset or a layout, not both");
            if (bus.Preset is { } preset) ValidatePreset(preset, $"{at}: preset", inputs, errors);
            ValidateBoxes(layout, at, f, inputs, errors);
            if (bus.Preview is { } shot) ValidateShot(shot, $"{at}: preview", f, inputs, errors);
        }
        if (bus.Transition is { } transition) ValidateTransition(transition, $"{at}: transition", errors);
        ValidateGraphics(bus.Graphics ?? [], at, f, errors);

        if (bus.Audio is { } mix)
        {
            if (!Enum.IsDefined(mix.Mode)) errors.Add($"{at}: audio mode must be one of {Choices<AudioMode>()}");
            if (!IsGain(mix.MasterGainDb)) errors.Add($"{at}: audio master gain {mix.MasterGainDb} dB must be between -90 and +20");
        }
        var heard = new HashSet<string>();
        foreach (var source in bus.Audio?.Sources ?? [])
        {
            if (source is null || !Names.IsValid(source.Input)) errors.Add($"{at}: audio: {Names.Describe(source?.Input, "input")}");
            else if (!inputs.Contains(source.Input)) errors.Add($"{at}: audio references unknown input '{source.Input}'");
            else if (!heard.Add(source.Input)) errors.Add($"{at}: audio lists input '{source.Input}' twice");
            if (source is not null && (double.IsNaN(source.GainDb) || source.GainDb is < -90 or > 20))
                errors.Add($"{at}: audio gain {source.GainDb} dB for '{source.Input}' must be between -90 and +20");
        }
    }

    private static void ValidateBoxes(IReadOnlyList<Box> layout, string at, OutputFormat f, HashSet<string> inputs, List<string> errors)
    {
        if (layout.Count > MaxBoxesPerBus) errors.Add($"{at}: {layout.Count} boxes, at most {MaxBoxesPerBus}");
        for (var i = 0; i < layout.Count; i++)
        {
            var box = layout[i];
            var where = $"{at}: box {i + 1}";
            if (box is null) { errors.Add($"{where} is empty"); continue; }
            if (!Names.IsValid(box.Source)) errors.Add($"{where}: {Names.Describe(box.Source, "source input")}");
            else if (!inputs.Contains(box.Source)) errors.Add($"{where} references unknown input '{box.Source}'");
            if (box.Width < 2 || box.Height < 2 || box.Width > 4 * f.Width || box.Height > 4 * f.Height)
                errors.Add($"{where}: size {box.Width}x{box.Height} must be at least 2x2 and at most four times the frame");
            if (box.X + box.Width <= 0 || box.Y + box.Height <= 0 || box.X >= f.Width || box.Y >= f.Height)
                errors.Add($"{where}: the box at ({box.X},{box.Y}) size {box.Width}x{box.Height} lies outside the {f.Width}x{f.Height} frame");
            if (!Enum.IsDefined(box.Fit)) errors.Add($"{where}: fit must be contain or fill");
            if (double.IsNaN(box.Alpha) || box.Alpha is < 0 or > 1) errors.Add($"{where}: alpha {box.Alpha} must be between 0 and 1");
            if (box.Crop is { } c && (c.Left < 0 || c.Top < 0 || c.Right < 0 || c.Bottom < 0 || c.Left + c.Right > 16384 || c.Top + c.Bottom > 16384))
                errors.Add($"{where}: crop values must be zero or positive pixel counts");
        }
    }

    /// <summary>A shot follows the rules of what is on air, so whatever is in preview can be taken.</summary>
    private static void ValidateShot(Shot shot, string at, OutputFormat f, HashSet<string> inputs, List<string> errors)
    {
        var boxes = shot.Boxes ?? [];
        if (shot.Preset is not null && boxes.Count > 0) errors.Add($"{at}: set either a preset or boxes, not both");
        if (shot.Preset is { } preset) ValidatePreset(preset, $"{at}: preset", inputs, errors);
        ValidateBoxes(boxes, at, f, inputs, errors);
    }

    private static void ValidatePreset(LayoutPreset preset, string at, HashSet<string> inputs, List<string> errors)
    {
        if (!Enum.IsDefined(preset.Kind)) { errors.Add($"{at}: kind must be one of {Choices<PresetKind>()}"); return; }
        var sources = preset.Sources ?? [];
        var (min, max) = LayoutPresets.SourceCount(preset.Kind);
        if (sources.Count < min || sources.Count > max)
        {
            var needs = min == max ? $"{min} source{(min == 1 ? "" : "s")}" : $"{min} to {max} sources";
            errors.Add($"{at}: {Camel(preset.Kind)} needs {needs}, got {sources.Count}");
        }
        for (var i = 0; i < sources.Count; i++)
        {
            if (!Names.IsValid(sources[i])) errors.Add($"{at}: source {i + 1}: {Names.Describe(sources[i], "input")}");
            else if (!inputs.Contains(sources[i])) errors.Add($"{at} references unknown input '{sources[i]}'");
        }
        if (double.IsNaN(preset.Size) || preset.Size is < MinPipSize or > MaxPipSize)
            errors.Add($"{at}: size {preset.Size} must be between {MinPipSize} and {MaxPipSize} of the frame width");
        if (preset.Margin is < 0 or > MaxPresetMargin) errors.Add($"{at}: margin {preset.Margin} must be between 0 and {MaxPresetMargin} pixels");
        if (!Enum.IsDefined(preset.Corner)) errors.Add($"{at}: corner must be one of {Choices<Corner>()}");
        if (!Enum.IsDefined(preset.Fit)) errors.Add($"{at}: fit must be contain or fill");
    }

    /// <summary>Checks a transition, the bus's default or one given with a command.</summary>
    internal static void ValidateTransition(TransitionSpec t, string at, List<string> errors)
    {
        if (!Enum.IsDefined(t.Kind)) errors.Add($"{at}: kind must be one of {Choices<TransitionKind>()}");
        if (t.DurationMs is < 0 or > MaxTransitionMs) errors.Add($"{at}: duration {t.DurationMs} ms must be between 0 and {MaxTransitionMs}");
        if (!Enum.IsDefined(t.Direction)) errors.Add($"{at}: direction must be one of {Choices<Direction>()}");
        if (!Enum.IsDefined(t.Color)) errors.Add($"{at}: color must be one of {Choices<DipColor>()}");
    }

    private static void ValidateGraphics(IReadOnlyList<GraphicLayer> layers, string at, OutputFormat f, List<string> errors)
    {
        if (layers.Count > MaxGraphicLayers) errors.Add($"{at}: {layers.Count} graphics layers, at most {MaxGraphicLayers}");
        for (var i = 0; i < layers.Count; i++)
        {
            var where = $"{at}: graphics layer {i}";
            if (layers[i] is not { } g) { errors.Add($"{where} is empty"); continue; }
            if (!GraphicsFiles.IsValidName(g.File)) errors.Add($"{where}: file {Names.Quote(g.File)} is refused: {GraphicsFiles.NameRule}");
            if (g.Width < 0 || g.Height < 0 || g.Width > 4 * f.Width || g.Height > 4 * f.Height)
                errors.Add($"{where}: size {g.Width}x{g.Height} must be zero (the image's own size) or at most four times the frame");
            if (Math.Abs((long)g.X) > 4L * f.Width || Math.Abs((long)g.Y) > 4L * f.Height)
                errors.Add($"{where}: position ({g.X},{g.Y}) is too far outside the {f.Width}x{f.Height} frame");
            if (double.IsNaN(g.Opacity) || g.Opacity is < 0 or > 1) errors.Add($"{where}: opacity {g.Opacity} must be between 0 and 1");
            if (g.FadeMs is < 0 or > MaxTransitionMs) errors.Add($"{where}: fade {g.FadeMs} ms must be between 0 and {MaxTransitionMs}");
        }
    }

    private static bool IsGain(double db) => !double.IsNaN(db) && db is >= MinGainDb and <= MaxGainDb;

    private static string Camel<T>(T value) where T : struct, Enum => JsonNamingPolicy.CamelCase.ConvertName(value.ToString());

    private static string Choices<T>() where T : struct, Enum => string.Join(", ", Enum.GetValues<T>().Select(Camel));
}
