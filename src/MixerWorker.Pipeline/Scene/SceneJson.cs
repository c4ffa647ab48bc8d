using System.Text.Json;
using System.Text.Json.Serialization;

namespace MixerWorker.Pipeline.Scene;

/// <summary>Reads and writes scenes as JSON (camelCase; unknown fields are errors, to catch typos).</summary>
public static class SceneJson
{
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web)
    {
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        RespectNullableAnnotations = true,
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.CamelCase, allowIntegerValues: false) },
    };

    /// <summary>Parses and validates; throws <see cref="SceneException"/> listing every problem.</summary>
    public static SceneDefinition Parse(string json)
    {
        SceneDefinition? scene;
        try { scene = JsonSerializer.Deserialize<SceneDefinition>(json, Options); }
        catch (JsonException e)
        {
            throw new SceneException([$"malformed scene JSON: {e.Message}"]);
        }
        if (scene is null) throw new SceneException(["the scene is empty (JSON null)"]);
        var errors = SceneValidator.Validate(scene);
        if (errors.Count > 0) throw new SceneException(errors);
        return scene;
    }

    public static string Write(SceneDefinition scene) => JsonSerializer.Serialize(scene, Options);
}

/// <summary>A scene that cannot be applied; <see cref="Errors"/> says why, one line per problem.</summary>
public sealed class SceneException(IReadOnlyList<string> errors)
    : Exception("invalid scene: " + string.Join("; ", errors))
{
    public IReadOnlyList<string> Errors { get; } = errors;
}
