using MixerWorker.Pipeline.Scene;
using Xunit;

namespace MixerWorker.Pipeline.Tests.Unit;

public class TallyTests
{
    private static readonly IReadOnlyDictionary<string, BusAnimation> None = new Dictionary<string, BusAnimation>();

    private static SceneDefinition Show(params BusDefinition[] buses) => Scenes.Valid(buses) with
    {
        Inputs = [new() { Name = "cam-a" }, new() { Name = "cam-b" }, new() { Name = "cam-c" }, new() { Name = "cam-d" }],
    };

    private static BusDefinition Program() => new()
    {
        Name = "program",
        Preset = new LayoutPreset { Kind = PresetKind.Pip, Sources = ["cam-c", "cam-a"] },
        Preview = new Shot { Boxes = [Scenes.Box("cam-d"), Scenes.Box("cam-b"), Scenes.Box("cam-d", 100)] },
    };

    [Fact]
    public void Lists_program_and_preview_sources_sorted_and_distinct()
    {
        var tally = Tally.Compute(Show(Program()), None);
        var program = tally.Buses["program"];
        Assert.Equal(["cam-a", "cam-c"], program.OnAir);
        Assert.Equal(["cam-b", "cam-d"], program.Preview);
        Assert.False(program.FadedToBlack);
        Assert.True(tally.IsOnAir("program", "cam-c"));
        Assert.False(tally.IsOnAir("program", "cam-b"));
        Assert.False(tally.IsOnAir("aux1", "cam-c"));
    }

    [Fact]
    public void Invisible_boxes_are_not_on_air()
    {
        var bus = Scenes.Bus("aux1", Scenes.Box("cam-b"), Scenes.Box("cam-a") with { Alpha = 0 });
        Assert.Equal(["cam-b"], Tally.Compute(Show(bus), None).Buses["aux1"].OnAir);
    }

    [Fact]
    public void Both_sides_of_a_transition_are_on_air()
    {
        var scene = Show(Program());
        var step = ShowReducer.Apply(scene, new AutoCommand { Bus = "program" });
        var during = Tally.Compute(step.Next, step.Animations);
        Assert.Equal(["cam-a", "cam-b", "cam-c", "cam-d"], during.Buses["program"].OnAir);
        Assert.Equal(["cam-a", "cam-c"], during.Buses["program"].Preview);
        // Whichever side the caller's scene holds, the other side counts too.
        Assert.Equal(["cam-a", "cam-b", "cam-c", "cam-d"], Tally.Compute(scene, step.Animations).Buses["program"].OnAir);
        var after = Tally.Compute(step.Next, None);
        Assert.Equal(["cam-b", "cam-d"], after.Buses["program"].OnAir);
        Assert.NotEqual(during, after);
    }

    [Fact]
    public void A_bus_faded_to_black_still_lists_its_inputs()
    {
        var tally = Tally.Compute(Show(Program() with { FadedToBlack = true }), None);
        Assert.Equal(["cam-a", "cam-c"], tally.Buses["program"].OnAir);
        Assert.True(tally.Buses["program"].FadedToBlack);
    }

    [Fact]
    public void Multiview_and_disabled_buses_have_no_tally()
    {
        var scene = Show(Program(), new BusDefinition { Name = "aux1", Kind = BusKind.Multiview }, Scenes.Bus("aux2", Scenes.Box("cam-d")) with { Enabled = false });
        Assert.Equal(["program"], Tally.Compute(scene, None).Buses.Keys);
    }

    [Fact]
    public void Equal_states_compare_equal_so_notifications_fire_only_on_change()
    {
        var a = Tally.Compute(Show(Program(), Scenes.Bus("aux3", Scenes.Box("cam-b"))), None);
        var b = Tally.Compute(Show(Program(), Scenes.Bus("aux3", Scenes.Box("cam-b"))), None);
        Assert.Equal(a, b);
        Assert.Equal(a.GetHashCode(), b.GetHashCode());
        Assert.Equal(["aux3", "program"], a.Buses.Keys);
        Assert.NotEqual(a, Tally.Compute(Show(Program(), Scenes.Bus("aux3", Scenes.Box("cam-a"))), None));
        Assert.NotEqual(a, Tally.Compute(Show(Program() with { FadedToBlack = true }, Scenes.Bus("aux3", Scenes.Box("cam-b"))), None));
        Assert.NotEqual(a, Tally.Compute(Show(Program()), None));
    }
}
