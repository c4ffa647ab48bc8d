using System.Text.Json;
using MixerWorker.Pipeline.Scene;

namespace MixerWorker.ControlPlane;

/// <summary>A command that cannot be carried out: <see cref="Reason"/> is one of <see cref="ErrorReasons"/>.</summary>
internal sealed class CommandException(string reason, IReadOnlyList<string> errors) : Exception(string.Join("; ", errors))
{
    public string Reason { get; } = reason;
    public IReadOnlyList<string> Errors { get; } = errors;
}

/// <summary>Operator commands as JSON: the scene's conventions (camelCase, unknown fields are errors), "type" anywhere in the object.</summary>
public static class CommandJson
{
    public const int MaxIdLength = 128;

    public static readonly JsonSerializerOptions Options = new(SceneJson.Options)
    {
        AllowOutOfOrderMetadataProperties = true,
        WriteIndented = false,
    };

    /// <summary>The "type" of every command, as in <see cref="ShowCommand"/>'s JSON.</summary>
    public static readonly IReadOnlyList<string> Types = ["cut", "auto", "fadeToBlack", "setPreview", "setLayout", "graphics", "inputAudio", "busAudio"];

    public static string Write(ShowCommand command) => JsonSerializer.Serialize(command, Options.Info<ShowCommand>());

    /// <summary>Parses one command; throws <see cref="CommandException"/> saying what is wrong.</summary>
    internal static ShowCommand Parse(string json)
    {
        try
        {
            using var doc = JsonDocument.Parse(json);
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
                throw Invalid($"a command is a JSON object, not {doc.RootElement.ValueKind.ToString().ToLowerInvariant()}");
            if (!doc.RootElement.TryGetProperty("type", out var type) || type.ValueKind != JsonValueKind.String)
                throw Invalid($"the command has no \"type\"; use one of {string.Join(", ", Types)}");
            if (!Types.Contains(type.GetString()))
                throw new CommandException(ErrorReasons.UnknownCommand, [$"unknown command type '{type.GetString()}'; use one of {string.Join(", ", Types)}"]);
        }
        catch (JsonException e) { throw Invalid($"malformed command JSON: {e.Message}"); }
        // GetString on a string the reader cannot decode (a lone surrogate such as "\ud800").
        catch (InvalidOperationException e) { throw Invalid($"malformed command JSON: {e.Message}"); }

        ShowCommand? command;
        try { command = JsonSerializer.Deserialize(json, Options.Info<ShowCommand>()); }
        catch (JsonException e) { throw Invalid(Plain(e.Message)); }
        catch (NotSupportedException e) { throw Invalid(Plain(e.Message)); }
        if (command is null) throw Invalid("the command is empty");
        if (command.Id is { } id && (id.Length is 0 or > MaxIdLength || id.Any(char.IsControl)))
            throw Invalid($"id must be 1-{MaxIdLength} printable characters");
        return command;
    }

    private static CommandException Invalid(string error) => new(ErrorReasons.InvalidCommand, [error]);

    // The serializer names .NET types; the operator knows the command by its type name alone.
    private static string Plain(string message) => message.Replace(typeof(ShowCommand).Namespace + ".", "", StringComparison.Ordinal);
}
