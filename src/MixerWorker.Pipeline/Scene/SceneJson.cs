using System.Text.Json;
using System.Text.Json.Serialization;

namespace MixerWorker.Pipeline.Scene;

/// <summary>Reads and writes scenes and commands as JSON (camelCase; unknown fields are errors, to catch typos).</summary>
public static class SceneJson
{
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web)
    {
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        RespectNullableAnnotations = true,
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        // A hand-written command may name its "type" anywhere in the object, not only first.
        AllowOutOfOrderMetadataProperties = true,
        TypeInfoResolver = SceneJsonContext.Default.KeepingInitializers(),
        Converters =
        {
            JsonContracts.CamelCase<AudioCodec>(), JsonContracts.CamelCase<Background>(), JsonContracts.CamelCase<Fit>(),
            JsonContracts.CamelCase<PresetKind>(), JsonContracts.CamelCase<Corner>(), JsonContracts.CamelCase<TransitionKind>(),
            JsonContracts.CamelCase<Direction>(), JsonContracts.CamelCase<DipColor>(), JsonContracts.CamelCase<BusKind>(),
            JsonContracts.CamelCase<AudioMode>(),
        },
    };

    /// <summary>The "type" of each command, as written in JSON.</summary>
    public static readonly IReadOnlyList<string> CommandTypes =
        ["cut", "auto", "fadeToBlack", "setPreview", "setLayout", "graphics", "inputAudio", "busAudio"];

    public const int MaxCommandIdLength = 128;

    /// <summary>Parses and validates; throws <see cref="SceneException"/> listing every problem.</summary>
    public static SceneDefinition Parse(string json)
    {
        SceneDefinition? scene;
        try { scene = JsonSerializer.Deserialize(json, Options.Info<SceneDefinition>()); }
        catch (JsonException e)
        {
            throw new SceneException([$"malformed scene JSON: {e.Message}"]);
        }
        if (scene is null) throw new SceneException(["the scene is empty (JSON null)"]);
        var errors = SceneValidator.Validate(scene);
        if (errors.Count > 0) throw new SceneException(errors);
        return scene;
    }

    public static string Write(SceneDefinition scene) => JsonSerializer.Serialize(scene, Options.Info<SceneDefinition>());

    /// <summary>
    /// Writes and reads back <see cref="WarmUpScene"/>, which holds every kind of object a scene can hold,
    /// and checks it: the serializer builds each type's contract on first use (from generated code now, by
    /// reflection before, when the first scene a starting worker read paid about a tenth of a second of a
    /// core on the start-up path). Run on a spare thread while the host starts, it is paid beside the start.
    /// </summary>
    public static void WarmUp()
    {
        var scene = JsonSerializer.Deserialize(Write(WarmUpScene), Options.Info<SceneDefinition>())!;
        SceneValidator.Validate(scene);
    }

    /// <summary>A scene with at least one of every object a scene can hold (tests check that it stays so).</summary>
    internal static readonly SceneDefinition WarmUpScene = new()
    {
        Project = "warm-up",
        Inputs = [new InputDefinition { Name = "a" }],
        Buses =
        [
            new BusDefinition
            {
                Name = "program",
                Layout = [new Box { Source = "a", Width = 2, Height = 2, Crop = new Crop() }],
                Preset = new LayoutPreset { Kind = PresetKind.Pip, Sources = ["a"] },
                Preview = new Shot { Boxes = [new Box { Source = "a", Width = 2, Height = 2 }] },
                Graphics = [new GraphicLayer { File = "a.png" }],
                Audio = new AudioMix { Sources = [new AudioSource { Input = "a" }] },
            },
        ],
    };

    /// <summary>
    /// Parses one operator command. Only its shape is checked here; whether it applies to the scene
    /// is <see cref="ShowReducer.Apply"/>'s answer. Throws <see cref="SceneException"/>.
    /// </summary>
    public static ShowCommand ParseCommand(string json)
    {
        // The type is looked at first so that an unknown one gets its own message rather than the
        // serializer's wording about abstract types.
        string? type;
        try
        {
            using var doc = JsonDocument.Parse(json);
            if (doc.RootElement.ValueKind == JsonValueKind.Null) throw Bad("the command is empty (JSON null)");
            if (doc.RootElement.ValueKind != JsonValueKind.Object) throw Bad("malformed command JSON: a command is a JSON object");
            if (!doc.RootElement.TryGetProperty("type", out var t))
                throw Bad($"the command has no 'type': use one of {string.Join(", ", CommandTypes)}");
            type = t.ValueKind == JsonValueKind.String ? t.GetString() : null;
            if (type is null || !CommandTypes.Contains(type))
                throw Bad($"unknown command type {Names.Quote(type ?? t.GetRawText())}: use one of {string.Join(", ", CommandTypes)}");
        }
        catch (JsonException e)
        {
            throw Bad($"malformed command JSON: {e.Message}");
        }
        catch (InvalidOperationException e)
        {
            // A "type" the reader cannot decode as a string (a lone surrogate such as "\ud800").
            throw Bad($"malformed command JSON: {e.Message}");
        }

        ShowCommand? command;
        try { command = JsonSerializer.Deserialize(json, Options.Info<ShowCommand>()); }
        catch (JsonException e)
        {
            throw Bad($"malformed {type} command: {e.Message}");
        }
        if (command is null) throw Bad("the command is empty (JSON null)");
        if (command.Id is { } id && (id.Length is 0 or > MaxCommandIdLength || id.Any(char.IsControl)))
            throw Bad($"command id must be 1-{MaxCommandIdLength} characters without control characters");
        return command;
    }

    public static string WriteCommand(ShowCommand command) => JsonSerializer.Serialize(command, Options.Info<ShowCommand>());

    private static SceneException Bad(string reason) => new("command refused", [reason]);
}

/// <summary>A scene or command that cannot be applied; <see cref="Errors"/> says why, one line per problem.</summary>
public sealed class SceneException : Exception
{
    public SceneException(IReadOnlyList<string> errors) : this("invalid scene", errors) { }

    /// <param name="what">Leads the message, e.g. "command refused".</param>
    public SceneException(string what, IReadOnlyList<string> errors) : base(what + ": " + string.Join("; ", errors)) => Errors = errors;

    public IReadOnlyList<string> Errors { get; }
}
