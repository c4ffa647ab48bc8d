using System.ComponentModel.DataAnnotations;
using System.Globalization;

namespace MixerWorker.Headless;

/// <summary>What `run` was asked to do: a scene file, for how long, and optionally a scripted show.</summary>
public sealed class HeadlessRunOptions
{
    public const string Section = "Run";

    [Required] public string ScenePath { get; set; } = "";
    /// <summary>Seconds to run; 0 runs until the process is stopped.</summary>
    [Range(0, 7 * 24 * 3600)] public double DurationSeconds { get; set; }
    public string? ScriptPath { get; set; }

    internal static Dictionary<string, string?> FromArguments(string scenePath, string[] args)
    {
        var values = new Dictionary<string, string?> { [$"{Section}:ScenePath"] = scenePath };
        for (var i = 0; i + 1 < args.Length; i += 2)
        {
            switch (args[i])
            {
                case "--duration":
                    values[$"{Section}:DurationSeconds"] = double.Parse(args[i + 1], CultureInfo.InvariantCulture).ToString(CultureInfo.InvariantCulture);
                    break;
                case "--script":
                    values[$"{Section}:ScriptPath"] = args[i + 1];
                    break;
            }
        }
        return values;
    }
}
