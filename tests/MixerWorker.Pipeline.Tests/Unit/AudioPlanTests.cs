using MixerWorker.Pipeline.Scene;
using Xunit;

namespace MixerWorker.Pipeline.Tests.Unit;

public class AudioPlanTests
{
    private static BusDefinition Bus(params string[] sources) =>
        new() { Name = "program", Layout = sources.Select((s, i) => Scenes.Box(s, 10 * i)).ToList() };

    private static BusAnimation Crossfade(BusDefinition from, BusDefinition to) =>
        new(from, to, new TransitionSpec { Kind = TransitionKind.Mix, DurationMs = 500 });

    [Fact]
    public void Following_video_hears_what_is_visible_at_unity()
    {
        var bus = Bus("cam-a", "cam-b", "cam-a") with { Layout = [Scenes.Box("cam-a"), Scenes.Box("cam-b"), Scenes.Box("cam-c") with { Alpha = 0 }] };
        Assert.Equal(new Dictionary<string, double> { ["cam-a"] = 1, ["cam-b"] = 1 }, AudioPlan.Gains(bus, null, 0));
        var explicitMode = bus with { Audio = new AudioMix { Mode = AudioMode.FollowVideo, MasterGainDb = -20, Sources = [new() { Input = "cam-c" }] } };
        // The master gain is the engine's; the fixed sources are ignored while following video.
        Assert.Equal(new Dictionary<string, double> { ["cam-a"] = 1, ["cam-b"] = 1 }, AudioPlan.Gains(explicitMode, null, 0));
    }

    [Fact]
    public void A_fixed_mix_uses_its_levels_and_ignores_the_picture()
    {
        var bus = Bus("cam-a") with
        {
            Audio = new AudioMix { Mode = AudioMode.Fixed, MasterGainDb = 6, Sources = [new() { Input = "cam-b", GainDb = -6 }, new() { Input = "cam-c", GainDb = 0 }, new() { Input = "cam-d", GainDb = -20 }] },
        };
        var gains = AudioPlan.Gains(bus, Crossfade(Bus("cam-a"), Bus("cam-b")), 0.5);
        Assert.Equal(["cam-b", "cam-c", "cam-d"], gains.Keys);
        Assert.Equal(0.501187, gains["cam-b"], 5);
        Assert.Equal(1.0, gains["cam-c"]);
        Assert.Equal(0.1, gains["cam-d"], 9);
        Assert.Empty(AudioPlan.Gains(Bus("cam-a") with { Audio = new AudioMix() }, null, 0));
    }

    [Fact]
    public void A_crossfade_keeps_the_power_constant()
    {
        var animation = Crossfade(Bus("cam-a", "cam-c"), Bus("cam-b", "cam-c"));
        for (var k = 0; k <= 15; k++)
        {
            var p = k / 15.0;
            var gains = AudioPlan.Gains(animation.To, animation, p);
            Assert.Equal(1.0, gains["cam-a"] * gains["cam-a"] + gains["cam-b"] * gains["cam-b"], 12);
            Assert.Equal(1.0, gains["cam-c"]);
            Assert.Equal(Math.Cos(p * Math.PI / 2), gains["cam-a"], 12);
        }
    }

    [Fact]
    public void A_crossfade_ends_exactly_at_the_steady_gains()
    {
        var animation = Crossfade(Bus("cam-a"), Bus("cam-b"));
        Assert.Equal(new Dictionary<string, double> { ["cam-a"] = 1, ["cam-b"] = 0 }, AudioPlan.Gains(animation.To, animation, 0));
        Assert.Equal(new Dictionary<string, double> { ["cam-a"] = 0, ["cam-b"] = 1 }, AudioPlan.Gains(animation.To, animation, 1));
        Assert.Equal(AudioPlan.Gains(animation.To, animation, 1), AudioPlan.Gains(animation.To, animation, 3));
        Assert.Equal(AudioPlan.Gains(animation.To, animation, 0), AudioPlan.Gains(animation.To, animation, double.NaN));
        var half = AudioPlan.Gains(animation.To, animation, 0.5);
        Assert.Equal(Math.Sqrt(0.5), half["cam-a"], 12);
        Assert.Equal(Math.Sqrt(0.5), half["cam-b"], 12);
    }

    [Fact]
    public void The_incoming_level_rises_monotonically()
    {
        var animation = Crossfade(Bus("cam-a"), Bus("cam-b"));
        var levels = Enumerable.Range(0, 16).Select(k => AudioPlan.Gains(animation.To, animation, k / 15.0)["cam-b"]).ToList();
        for (var k = 1; k < levels.Count; k++) Assert.True(levels[k] > levels[k - 1]);
    }

    [Fact]
    public void Presets_are_heard_like_layouts()
    {
        var pip = new BusDefinition { Name = "program", Preset = new LayoutPreset { Kind = PresetKind.Pip, Sources = ["cam-a", "cam-b"] } };
        Assert.Equal(["cam-a", "cam-b"], AudioPlan.Gains(pip, null, 0).Keys);
    }

    [Theory]
    [InlineData(0, 1.0)]
    [InlineData(-6.0206, 0.5)]
    [InlineData(20, 10.0)]
    [InlineData(-90, 3.1622776601683795E-05)]
    public void Decibels_convert_to_amplitude(double db, double linear) => Assert.Equal(linear, AudioPlan.DbToLinear(db), 4);
}
