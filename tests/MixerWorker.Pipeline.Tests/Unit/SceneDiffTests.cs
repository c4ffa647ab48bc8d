using MixerWorker.Pipeline.Scene;
using Xunit;

namespace MixerWorker.Pipeline.Tests.Unit;

/// <summary>What a scene change asks of the graph, worked out without GStreamer.</summary>
public sealed class SceneDiffTests
{
    private static readonly IReadOnlyDictionary<string, BusAnimation> NoAnimations = new Dictionary<string, BusAnimation>();

    private static SceneDiff Diff(SceneDefinition running, ShowStep step) =>
        SceneDiff.Between(running.Inputs.Select(i => i.Name).ToList(), running.Buses.Where(b => b.Enabled).ToList(), step);

    private static SceneDiff Diff(SceneDefinition running, SceneDefinition next) => Diff(running, new ShowStep(next, NoAnimations));

    [Fact]
    public void A_first_scene_builds_every_input_and_every_enabled_bus()
    {
        var scene = Scenes.Valid(Scenes.Bus("program"), Scenes.Bus("aux1") with { Enabled = false });
        var diff = SceneDiff.Between([], [], new ShowStep(scene, NoAnimations));
        Assert.Equal(["cam-a", "cam-b"], diff.AddInputs);
        Assert.Empty(diff.RemoveInputs);
        Assert.Empty(diff.RemoveBuses);
        var program = Assert.Single(diff.Buses);
        Assert.Equal(("program", true, TransitionKind.Cut, TimeSpan.Zero), (program.Bus.Name, program.Build, program.Transition.Kind, program.FadeToBlack));
    }

    [Fact]
    public void The_same_scene_again_builds_nothing_and_shows_every_bus_again()
    {
        var scene = Scenes.Valid(Scenes.Bus("program"), Scenes.Bus("aux1"));
        var diff = Diff(scene, scene);
        Assert.Empty(diff.AddInputs);
        Assert.Empty(diff.RemoveInputs);
        Assert.Empty(diff.RemoveBuses);
        Assert.Equal(["program", "aux1"], diff.Buses.Select(b => b.Bus.Name));
        Assert.All(diff.Buses, b => Assert.False(b.Build));
        Assert.False(diff.FinishesOnly);
    }

    [Fact]
    public void Inputs_that_come_and_go_are_added_and_removed()
    {
        var running = Scenes.Valid();
        var next = running with { Inputs = [new() { Name = "cam-b" }, new() { Name = "cam-c" }], Buses = [Scenes.Bus("program", Scenes.Box("cam-c"))] };
        var diff = Diff(running, next);
        Assert.Equal(["cam-c"], diff.AddInputs);
        Assert.Equal(["cam-a"], diff.RemoveInputs);
        Assert.False(Assert.Single(diff.Buses).Build);
    }

    [Theory]
    [InlineData("bitrate", false)]
    [InlineData("size", true)]
    [InlineData("rate", true)]
    [InlineData("gop", true)]
    [InlineData("audio codec", true)]
    [InlineData("background", true)]
    [InlineData("layout", false)]
    public void Only_a_change_that_needs_new_caps_rebuilds_a_bus(string change, bool rebuilds)
    {
        var bus = Scenes.Bus("program");
        var changed = change switch
        {
            "bitrate" => bus with { Format = bus.Format with { VideoBitrateKbps = 900 } },
            "size" => bus with { Format = bus.Format with { Width = 640, Height = 360 } },
            "rate" => bus with { Format = bus.Format with { Fps = 25 } },
            "gop" => bus with { Format = bus.Format with { GopSeconds = 2 } },
            "audio codec" => bus with { Format = bus.Format with { AudioCodec = AudioCodec.Aac } },
            "background" => bus with { Background = Background.White },
            _ => bus with { Layout = [Scenes.Box("cam-b")] },
        };
        var diff = Diff(Scenes.Valid(bus), Scenes.Valid(changed));
        Assert.Equal(rebuilds ? ["program"] : [], diff.RemoveBuses);
        Assert.Equal(rebuilds, Assert.Single(diff.Buses).Build);
        Assert.Equal(rebuilds, SceneDiff.NeedsRebuild(bus, changed));
    }

    [Fact]
    public void A_bus_that_is_removed_or_disabled_stops_and_is_not_shown()
    {
        var running = Scenes.Valid(Scenes.Bus("program"), Scenes.Bus("aux1"), Scenes.Bus("aux2"));
        var next = Scenes.Valid(Scenes.Bus("program"), Scenes.Bus("aux2") with { Enabled = false });
        var diff = Diff(running, next);
        Assert.Equal(["aux1", "aux2"], diff.RemoveBuses);
        Assert.Equal(["program"], diff.Buses.Select(b => b.Bus.Name));
    }

    [Fact]
    public void A_command_s_animation_and_fade_reach_the_bus_they_belong_to()
    {
        var running = Scenes.Valid(Scenes.Bus("program") with { Preview = new Shot { Boxes = [Scenes.Box("cam-b")] } }, Scenes.Bus("aux1"));
        var auto = ShowReducer.Apply(running, new AutoCommand { Bus = "program", Transition = new TransitionSpec { Kind = TransitionKind.Mix, DurationMs = 400 } });
        var diff = Diff(running, auto);
        Assert.Equal((TransitionKind.Mix, 400), (diff.Buses[0].Transition.Kind, diff.Buses[0].Transition.DurationMs));
        Assert.Equal(TransitionKind.Cut, diff.Buses[1].Transition.Kind);

        var fade = ShowReducer.Apply(running, new FadeToBlackCommand { Bus = "aux1", DurationMs = 750 });
        diff = Diff(running, fade);
        Assert.Equal([TimeSpan.Zero, TimeSpan.FromMilliseconds(750)], diff.Buses.Select(b => b.FadeToBlack));
    }

    [Fact]
    public void A_new_revision_that_changes_nothing_still_becomes_the_scene_in_force()
    {
        var scene = Scenes.Valid();
        var diff = Diff(scene, scene with { Revision = scene.Revision + 5 });
        Assert.False(diff.FinishesOnly);
        Assert.Equal(scene.Revision + 5, diff.Next.Revision);
    }

    [Fact]
    public void A_cut_during_a_transition_only_finishes_it()
    {
        var running = Scenes.Valid(Scenes.Bus("program") with { Preview = new Shot { Boxes = [Scenes.Box("cam-b")] } });
        var step = ShowReducer.Apply(running, new CutCommand { Bus = "program" }, new HashSet<string> { "program" });
        var diff = Diff(running, step);
        Assert.True(diff.FinishesOnly);
        Assert.Empty(diff.Buses);
        Assert.Equal(["program"], diff.FinishTransitions);
        Assert.Same(running, diff.Next);
    }
}
