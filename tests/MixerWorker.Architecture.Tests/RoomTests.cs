using Assembly = System.Reflection.Assembly;
using ArchUnitNET.Domain;
using ArchUnitNET.Fluent;
using ArchUnitNET.Fluent.Slices;
using ArchUnitNET.Fluent.Syntax.Elements.Types;
using ArchUnitNET.Loader;
using ArchUnitNET.xUnit;
using Xunit;
using static ArchUnitNET.Fluent.ArchRuleDefinition;

namespace MixerWorker.Architecture.Tests;

/// <summary>
/// The rooms of docs/architecture.md and which may use which, checked on the built assemblies: a
/// change that breaks one fails here with the offending types named, rather than living on by hope.
/// </summary>
public sealed class RoomTests
{
    private const string Engine = "MixerWorker.Pipeline";

    private static readonly Assembly EngineAssembly = typeof(Pipeline.Engine.ProjectMixer).Assembly;
    private static readonly Assembly HostAssembly = typeof(ControlPlane.RedisKeys).Assembly;

    private static readonly ArchUnitNET.Domain.Architecture Code =
        new ArchLoader().LoadAssemblies(EngineAssembly, HostAssembly).Build();

    private static GivenTypesConjunction Room(string name) => Types().That().ResideInNamespace($"{Engine}.{name}");

    private static IObjectProvider<IType> RawBindings => Types().That()
        .HaveFullName($"{Engine}.Interop.Native").Or().HaveFullName($"{Engine}.Interop.Abi").Or().HaveFullName($"{Engine}.Interop.NativeString")
        .As("the raw GStreamer bindings (Native, Abi, NativeString)");

    [Fact]
    public void Only_Interop_uses_the_raw_GStreamer_bindings() =>
        Types().That().DoNotResideInNamespace($"{Engine}.Interop").Should().NotDependOnAny(RawBindings)
            .Because("pointers and ownership rules stay in Interop; the rest of the engine uses its typed wrappers")
            .Check(Code);

    [Fact]
    public void Only_the_SRT_room_uses_the_raw_libsrt_bindings() =>
        Types().That().DoNotResideInNamespace($"{Engine}.Srt").Should()
            .NotDependOnAny(Types().That().HaveFullName($"{Engine}.Srt.LibSrt").As("LibSrt"))
            .Because("libsrt's sockets and errors are the SRT reader's business").Check(Code);

    private static IObjectProvider<IType> SceneOrBcl => Types().That().ResideInNamespace($"{Engine}.Scene").Or()
        .ResideInNamespaceMatching(@"^System(\..+)?$").As("the scene model and the BCL");

    [Fact]
    public void The_scene_model_depends_on_nothing_but_the_base_class_library()
    {
        Room("Scene").Should().OnlyDependOn(SceneOrBcl)
            .Because("the control plane stores, diffs and validates scenes without a media stack").Check(Code);
        // The same rule fails for a room that does use GStreamer, so it is not passing vacuously.
        Assert.Throws<FailedArchRuleException>(() => Room("Builders").Should().OnlyDependOn(SceneOrBcl).Check(Code));
    }

    [Fact]
    public void The_engine_never_uses_the_host()
    {
        Types().That().ResideInAssembly(EngineAssembly).Should()
            .NotDependOnAny(Types().That().ResideInAssembly(HostAssembly).As("the host"))
            .Because("the host depends on the engine, never the other way").Check(Code);
        Assert.DoesNotContain(EngineAssembly.GetReferencedAssemblies(), a => a.Name == HostAssembly.GetName().Name);
    }

    [Fact]
    public void The_engine_s_rooms_have_no_cycles() =>
        SliceRuleDefinition.Slices().Matching($"{Engine}.(*)").Should().BeFreeOfCycles().Check(Code);

    // The cycles found by the structure review, each named so that a new one says where it is.
    [Theory]
    [InlineData("Interop", "Srt")]     // was: GstRuntime.SelfCheck started libsrt
    [InlineData("Interop", "Engine")]  // was: LevelMessage read Engine.AudioLevel's floor
    [InlineData("Builders", "Sources")] // was: the bus builders took the input branch from Sources
    [InlineData("Sources", "Engine")]  // was: SrtSource took the Engine's ConnectionSession
    [InlineData("Sinks", "Engine")]    // was: SrtOutput took the Engine's ConnectionSession
    [InlineData("Builders", "Engine")]
    [InlineData("Srt", "Engine")]
    public void A_lower_room_does_not_use_a_higher_one(string lower, string higher) =>
        Room(lower).Should().NotDependOnAny(Room(higher)).Check(Code);

    [Theory]
    [InlineData("Interop")]
    [InlineData("Scene")]
    public void Interop_and_the_scene_model_use_no_other_room(string room)
    {
        foreach (var other in new[] { "Scene", "Interop", "Builders", "Sources", "Sinks", "Encoding", "Engine", "Srt" }.Where(r => r != room))
            Room(room).Should().NotDependOnAny(Room(other)).Check(Code);
    }
}
