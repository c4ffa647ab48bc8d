using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization.Metadata;
using MixerWorker.ControlPlane;
using MixerWorker.Headless;
using MixerWorker.Pipeline.Engine;
using MixerWorker.Pipeline.Scene;
using Xunit;

namespace MixerWorker.Tests;

/// <summary>
/// The worker reads and writes JSON through source-generated contracts (a NativeAOT worker has nothing else). Every type
/// they reach is read here both ways, generated and by reflection (what the worker used before, and what the model's
/// initialisers mean), from minimal JSON and from broken JSON: the results and the error messages must be the same.
/// </summary>
public class JsonContractTests
{
    public static TheoryData<string> OptionSets => new(Sets);

    private static readonly string[] Sets = ["scene", "command", "controlPlane", "strict", "script"];

    private static (JsonSerializerOptions Generated, Type[] Roots) Of(string name) => name switch
    {
        "scene" => (SceneJson.Options, [typeof(SceneDefinition), typeof(ShowCommand), typeof(Shot)]),
        "command" => (CommandJson.Options, [typeof(ShowCommand), typeof(Shot)]),
        "controlPlane" => (ControlPlaneJson.Options, [typeof(ProjectEvent), typeof(ProjectStatus), typeof(MediaMtxEvent), typeof(AudioMeters),
            typeof(MixerWorker.Fleet.WorkerHeartbeat), typeof(List<MixerWorker.Fleet.WorkerHeartbeat>), typeof(Dashboard.FleetView)]),
        "strict" => (ControlPlaneJson.Strict, [typeof(MediaMtxEvent)]),
        "script" => (ScriptOptions(), [typeof(ShowScript)]),
        _ => throw new ArgumentException(name),
    };

    // ShowScript keeps its options private; the same ones, rebuilt.
    private static JsonSerializerOptions ScriptOptions() => new(SceneJson.Options) { TypeInfoResolver = WorkerJsonContext.Default.KeepingInitializers() };

    /// <summary>The set's generated options, the same options reading by reflection, and every type the roots reach.</summary>
    private static (JsonSerializerOptions Generated, JsonSerializerOptions Reflection, List<Type> Types) Contracts(string set)
    {
        var (generated, roots) = Of(set);
        return (generated, new JsonSerializerOptions(generated) { TypeInfoResolver = new DefaultJsonTypeInfoResolver() }, Reachable(generated, roots));
    }

    [Theory, MemberData(nameof(OptionSets))]
    public void Minimal_json_reads_as_the_reflection_based_serializer_read_it(string set)
    {
        var (generated, reflection, types) = Contracts(set);
        var checkedTypes = 0;
        foreach (var type in types.Where(t => generated.GetTypeInfo(t).Kind == JsonTypeInfoKind.Object && !t.IsAbstract))
        {
            var json = Minimal(reflection, type).ToJsonString();
            var viaGenerated = JsonSerializer.Deserialize(json, generated.GetTypeInfo(type));
            var viaReflection = JsonSerializer.Deserialize(json, reflection.GetTypeInfo(type));
            // Written back the same way (reflection), so a difference can only come from the reading.
            Assert.Equal(JsonSerializer.Serialize(viaReflection, type, reflection), JsonSerializer.Serialize(viaGenerated, type, reflection));
            Assert.Equal(JsonSerializer.Serialize(viaReflection, type, reflection), JsonSerializer.Serialize(viaGenerated, generated.GetTypeInfo(type)));
            checkedTypes++;
        }
        // Commands come as their base type with "type" naming the kind.
        foreach (var type in types.Where(t => generated.GetTypeInfo(t).PolymorphismOptions is not null))
            foreach (var derived in generated.GetTypeInfo(type).PolymorphismOptions!.DerivedTypes)
            {
                var minimal = Minimal(reflection, derived.DerivedType);
                minimal.Add("type", (string)derived.TypeDiscriminator!);
                var json = minimal.ToJsonString();
                Assert.Equal(Outcome(json, reflection.GetTypeInfo(type), reflection), Outcome(json, generated.GetTypeInfo(type), reflection));
            }
        Assert.True(checkedTypes >= (set is "strict" or "script" ? 1 : 5), $"{checkedTypes} types");
    }

    [Theory, MemberData(nameof(OptionSets))]
    public void Broken_json_fails_with_the_reflection_based_serializers_message(string set)
    {
        var (generated, reflection, types) = Contracts(set);
        var cases = 0;
        foreach (var type in types.Where(t => generated.GetTypeInfo(t).Kind == JsonTypeInfoKind.Object && !t.IsAbstract))
        {
            var info = reflection.GetTypeInfo(type);
            foreach (var property in info.Properties.Where(p => p.Set is not null || p.AssociatedParameter is not null))
            {
                var broken = new List<JsonObject>();
                var unknown = Minimal(reflection, type);
                unknown["zzMisspelt"] = 1;
                broken.Add(unknown);
                var wrongType = Minimal(reflection, type);
                wrongType[property.Name] = Nullable.GetUnderlyingType(property.PropertyType) is { IsEnum: true } || property.PropertyType.IsEnum ? 1 : JsonValue.Create(true);
                broken.Add(wrongType);
                var nulled = Minimal(reflection, type);
                nulled[property.Name] = null;
                broken.Add(nulled);
                if (property.IsRequired)
                {
                    var missing = Minimal(reflection, type);
                    missing.Remove(property.Name);
                    broken.Add(missing);
                }
                foreach (var json in broken.Select(b => b.ToJsonString()))
                {
                    {
                        var (expected, actual) = (Outcome(json, reflection.GetTypeInfo(type), reflection), Outcome(json, generated.GetTypeInfo(type), reflection));
                        Assert.True(expected == actual, $"{type.Name} {json}\nreflection: {expected}\ngenerated:  {actual}");
                    }
                    cases++;
                }
            }
        }
        Assert.True(cases > 10, $"{cases} cases");
    }

    [Fact]
    public void Every_enum_the_contracts_reach_is_written_as_a_camel_case_string()
    {
        foreach (var set in Sets)
        {
            var (generated, _, types) = Contracts(set);
            foreach (var type in types.Where(t => t.IsEnum))
            {
                var last = Enum.GetValues(type).GetValue(Enum.GetValues(type).Length - 1)!;
                var written = JsonSerializer.Serialize(last, generated.GetTypeInfo(type));
                Assert.Equal(JsonSerializer.Serialize(JsonNamingPolicy.CamelCase.ConvertName(last.ToString()!)), written);
            }
        }
    }

    [Fact]
    public void A_minimal_scene_keeps_the_models_documented_defaults()
    {
        var scene = SceneJson.Parse("""{"project":"p","inputs":[{"name":"a"}],"buses":[{"name":"program","layout":[{"source":"a","width":2,"height":2}],"audio":{}}]}""");
        var bus = scene.Buses[0];
        Assert.True(bus.Enabled);
        Assert.Equal(BusKind.Composition, bus.Kind);
        Assert.Equal((1280, 720, 30, 2500, 1.0, AudioCodec.Opus, 128),
            (bus.Format.Width, bus.Format.Height, bus.Format.Fps, bus.Format.VideoBitrateKbps, bus.Format.GopSeconds, bus.Format.AudioCodec, bus.Format.AudioBitrateKbps));
        Assert.Equal((TransitionKind.Mix, 500, Direction.Right, DipColor.Black), (bus.Transition.Kind, bus.Transition.DurationMs, bus.Transition.Direction, bus.Transition.Color));
        Assert.Equal((1.0, Fit.Contain), (bus.Layout[0].Alpha, bus.Layout[0].Fit));
        Assert.Equal((AudioMode.Fixed, true), (bus.Audio!.Mode, bus.Audio.Limiter));
        Assert.Empty(bus.Audio.Sources);
        Assert.Empty(bus.Graphics);
        var fade = Assert.IsType<FadeToBlackCommand>(CommandJson.Parse("""{"bus":"program","type":"fadeToBlack"}"""));
        Assert.Equal(1000, fade.DurationMs);
    }

    private static string Outcome(string json, JsonTypeInfo info, JsonSerializerOptions writer)
    {
        try { return "ok " + JsonSerializer.Serialize(JsonSerializer.Deserialize(json, info), info.Type, writer); }
        catch (JsonException e) { return "error " + e.Message; }
    }

    /// <summary>Every type the roots' contracts reach: properties, elements, dictionary values, derived commands.</summary>
    private static List<Type> Reachable(JsonSerializerOptions options, Type[] roots)
    {
        var seen = new List<Type>();
        var queue = new Queue<Type>(roots);
        while (queue.TryDequeue(out var type))
        {
            type = Nullable.GetUnderlyingType(type) ?? type;
            if (seen.Contains(type) || type.IsPrimitive || type == typeof(string) || type == typeof(DateTimeOffset)) continue;
            seen.Add(type);
            var info = options.GetTypeInfo(type);
            foreach (var property in info.Properties) queue.Enqueue(property.PropertyType);
            if (info.ElementType is { } element) queue.Enqueue(element);
            foreach (var derived in info.PolymorphismOptions?.DerivedTypes ?? []) queue.Enqueue(derived.DerivedType);
        }
        return seen;
    }

    /// <summary>A JSON object with only what the type requires: required properties and constructor parameters without a default.</summary>
    private static JsonObject Minimal(JsonSerializerOptions reflection, Type type)
    {
        var result = new JsonObject();
        foreach (var property in reflection.GetTypeInfo(type).Properties)
            if (property.IsRequired || property.AssociatedParameter is { HasDefaultValue: false, IsMemberInitializer: false })
                result[property.Name] = Sample(reflection, property.PropertyType);
        return result;
    }

    private static JsonNode? Sample(JsonSerializerOptions reflection, Type type)
    {
        type = Nullable.GetUnderlyingType(type) ?? type;
        if (type == typeof(string)) return "a";
        if (type == typeof(bool)) return true;
        if (type == typeof(DateTimeOffset)) return "2026-12-01T17:00:00+00:00";
        if (type.IsEnum) return JsonNode.Parse(JsonSerializer.Serialize(Enum.GetValues(type).GetValue(0), type, reflection));
        if (type.IsPrimitive) return 2;
        var info = reflection.GetTypeInfo(type);
        return info.Kind switch
        {
            JsonTypeInfoKind.Enumerable => new JsonArray(),
            JsonTypeInfoKind.Dictionary => new JsonObject(),
            _ => Minimal(reflection, type),
        };
    }
}
