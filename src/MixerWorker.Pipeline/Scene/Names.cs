using System.Text.RegularExpressions;

namespace MixerWorker.Pipeline.Scene;

/// <summary>
/// The identifiers that reach MediaMTX paths and GStreamer element names. Anything else is refused
/// before it gets near a pipeline, so a name can never smuggle in launch syntax or path segments.
/// </summary>
public static partial class Names
{
    public static readonly IReadOnlyList<string> BusNames = ["program", "aux1", "aux2", "aux3", "aux4", "aux5", "aux6", "aux7"];

    [GeneratedRegex(@"^[a-z0-9][a-z0-9_-]{0,62}\z")]
    private static partial Regex NamePattern();

    public static bool IsValid(string? name) => name is not null && NamePattern().IsMatch(name);

    public static bool IsBus(string? name) => name is not null && BusNames.Contains(name);

    /// <summary>Throws with a message a person can act on when <paramref name="name"/> is not a valid name.</summary>
    public static string Require(string? name, string what) =>
        IsValid(name) ? name! : throw new ArgumentException(Describe(name, what));

    internal static string Describe(string? name, string what) =>
        $"{what} name {Quote(name)} is invalid: use 1-63 characters a-z, 0-9, '_' or '-', starting with a letter or digit";

    internal static string Quote(string? s) => s is null ? "(missing)" : $"'{(s.Length > 80 ? s[..80] + "…" : s)}'";
}
