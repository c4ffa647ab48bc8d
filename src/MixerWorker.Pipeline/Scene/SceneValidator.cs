namespace MixerWorker.Pipeline.Scene;

/// <summary>Checks a scene and lists every problem, each phrased so an operator can fix it.</summary>
public static class SceneValidator
{
    public const int MaxInputs = 32;
    public const int MaxBoxesPerBus = 32;

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

        var layout = bus.Layout ?? [];
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
}
