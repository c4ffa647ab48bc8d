using System.Reflection;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;

namespace MixerWorker.Pipeline.Scene;

/// <summary>
/// What the source-generated JSON contracts (<see cref="SceneJsonContext"/> and the host's) need so that they read and
/// write exactly as the reflection-based serializer did; a NativeAOT worker has no reflection-based serializer.
/// </summary>
public static class JsonContracts
{
    /// <summary>
    /// The generator builds a type with init-only properties through one object initializer that sets all of them, so a
    /// property the JSON leaves out gets default(T) instead of its initializer's value (dotnet/runtime#84484, still so in
    /// .NET 10): a bus without "enabled" would be off, a layout without "boxes" null. Such a type is made with its
    /// parameterless constructor instead and each property that is present is set on its own, as the reflection-based
    /// serializer does; errors (a missing required property, a null, a misspelt name) read as they did.
    /// </summary>
    public static IJsonTypeInfoResolver KeepingInitializers(this IJsonTypeInfoResolver generated) => generated.WithAddedModifier(KeepInitializers);

    /// <summary>The contract of <typeparamref name="T"/> under <paramref name="options"/> (no reflection: the options' resolver is a generated context).</summary>
    public static JsonTypeInfo<T> Info<T>(this JsonSerializerOptions options) => (JsonTypeInfo<T>)options.GetTypeInfo(typeof(T));

    /// <summary>An enum as a camelCase string, integers refused. One per enum type: the non-generic converter makes its
    /// converters with MakeGenericType, which NativeAOT cannot promise.</summary>
    public static JsonConverter CamelCase<T>() where T : struct, Enum => new JsonStringEnumConverter<T>(JsonNamingPolicy.CamelCase, allowIntegerValues: false);

    private static void KeepInitializers(JsonTypeInfo info)
    {
        if (info.Kind != JsonTypeInfoKind.Object || info.CreateObject is not null) return;
        // Positional records and abstract types keep the generated path: their values come through the constructor.
        if (info.ConstructorAttributeProvider is not ConstructorInfo { } constructor || constructor.GetParameters().Length != 0) return;
        info.CreateObject = () => constructor.Invoke(null);
        // The generated code names each property (GetProperty with its name), so NativeAOT keeps the setter invokable.
        foreach (var property in info.Properties)
            if (property.AttributeProvider is PropertyInfo { SetMethod: not null } member) property.Set = member.SetValue;
    }
}

/// <summary>Generated contracts of the scene, the operator commands and shots (read with <see cref="SceneJson.Options"/>).</summary>
[JsonSerializable(typeof(SceneDefinition))]
[JsonSerializable(typeof(ShowCommand))]
[JsonSerializable(typeof(Shot))]
internal sealed partial class SceneJsonContext : JsonSerializerContext;
