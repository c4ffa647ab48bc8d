using MixerWorker.Pipeline.Scene;
using Xunit;

namespace MixerWorker.Pipeline.Tests.Unit;

public class ShowReducerTests
{
    private static readonly LayoutPreset SingleA = new() { Kind = PresetKind.Single, Sources = ["cam-a"] };
    private static readonly LayoutPreset PipBA = new() { Kind = PresetKind.Pip, Sources = ["cam-b", "cam-a"], Corner = Corner.TopLeft };

    /// <summary>Program shows cam-a by preset, preview a cam-b pip; aux1 is a multiview.</summary>
    private static SceneDefinition Show() => Scenes.Valid(
        Scenes.Bus("program") with
        {
            Layout = [],
            Preset = SingleA,
            Preview = new Shot { Preset = PipBA },
            Transition = new TransitionSpec { Kind = TransitionKind.Wipe, DurationMs = 800, Direction = Direction.Left },
            Graphics = [new GraphicLayer { File = "lower-third.png" }, new GraphicLayer { File = "bug.svg", Visible = true }],
        },
        new BusDefinition { Name = "aux1", Kind = BusKind.Multiview, Format = new OutputFormat { Width = 640, Height = 360 } },
        Scenes.Bus("aux2", Scenes.Box("cam-b")));

    private static BusDefinition Program(ShowStep step) => step.Next.FindBus("program")!;

    private static string Refused(SceneDefinition scene, ShowCommand command)
    {
        var e = Assert.Throws<SceneException>(() => ShowReducer.Apply(scene, command));
        Assert.StartsWith("command refused: ", e.Message);
        return string.Join("; ", e.Errors);
    }

    /// <summary>Everything but <paramref name="bus"/> (and the revision) is untouched.</summary>
    private static void OnlyChanged(SceneDefinition before, ShowStep step, string bus)
    {
        Assert.Equal(before.Revision + 1, step.Next.Revision);
        Assert.Same(before.Inputs, step.Next.Inputs);
        Assert.Equal(before.Project, step.Next.Project);
        Assert.Equal(before.Buses.Count, step.Next.Buses.Count);
        for (var i = 0; i < before.Buses.Count; i++)
            if (before.Buses[i].Name != bus) Assert.Same(before.Buses[i], step.Next.Buses[i]);
    }

    [Fact]
    public void A_cut_during_a_transition_finishes_it_on_the_incoming_shot_and_changes_nothing_else()
    {
        var scene = Show();
        var step = ShowReducer.Apply(scene, new CutCommand { Bus = "program" }, new HashSet<string> { "program" });
        Assert.Same(scene, step.Next); // the scene already holds the incoming shot; no second swap, no new revision
        Assert.Equal(["program"], step.FinishTransitions);
        Assert.Empty(step.Animations);

        // Only a cut, only on the bus in transition: anything else is reduced as usual.
        var other = ShowReducer.Apply(scene, new CutCommand { Bus = "program" }, new HashSet<string> { "aux2" });
        Assert.Empty(other.FinishTransitions);
        Assert.Equal(PipBA, Program(other).Preset);
        var auto = ShowReducer.Apply(scene, new AutoCommand { Bus = "program" }, new HashSet<string> { "program" });
        Assert.Empty(auto.FinishTransitions);
        Assert.Equal(PipBA, Program(auto).Preset);
        Assert.Empty(ShowReducer.Apply(scene, new CutCommand { Bus = "program" }).FinishTransitions);
    }

    [Fact]
    public void Cut_swaps_program_and_preview_without_animation()
    {
        var scene = Show();
        var step = ShowReducer.Apply(scene, new CutCommand { Bus = "program" });
        var program = Program(step);
        Assert.Equal(PipBA, program.Preset);
        Assert.Empty(program.Layout);
        Assert.Equal(new Shot { Preset = SingleA }, program.Preview);
        Assert.Empty(step.Animations);
        Assert.Empty(step.FadeToBlackMs);
        OnlyChanged(scene, step, "program");

        // Cutting again brings the first shot back.
        var back = Program(ShowReducer.Apply(step.Next, new CutCommand { Bus = "program" }));
        Assert.Equal(SingleA, back.Preset);
        Assert.Equal(new Shot { Preset = PipBA }, back.Preview);
    }

    [Fact]
    public void A_program_of_free_boxes_becomes_a_preview_of_boxes()
    {
        var scene = ShowReducer.Apply(Show(), new SetPreviewCommand { Bus = "aux2", Shot = new Shot { Preset = SingleA } }).Next;
        var aux2 = ShowReducer.Apply(scene, new CutCommand { Bus = "aux2" }).Next.FindBus("aux2")!;
        Assert.Equal(SingleA, aux2.Preset);
        Assert.Empty(aux2.Layout);
        Assert.Null(aux2.Preview!.Preset);
        Assert.Equal([Scenes.Box("cam-b")], aux2.Preview.Boxes);
    }

    [Fact]
    public void Auto_ends_like_a_cut_and_animates_with_the_bus_transition()
    {
        var scene = Show();
        var cut = ShowReducer.Apply(scene, new CutCommand { Bus = "program" });
        var auto = ShowReducer.Apply(scene, new AutoCommand { Bus = "program" });
        Assert.Equal(Program(cut), Program(auto));
        var animation = Assert.Single(auto.Animations);
        Assert.Equal("program", animation.Key);
        Assert.Same(scene.FindBus("program"), animation.Value.From);
        Assert.Same(Program(auto), animation.Value.To);
        Assert.Equal(scene.FindBus("program")!.Transition, animation.Value.Transition);
        Assert.Equal(TimeSpan.FromMilliseconds(800), animation.Value.Duration);
        OnlyChanged(scene, auto, "program");
    }

    [Fact]
    public void Auto_uses_the_transition_it_is_given()
    {
        var mix = new TransitionSpec { Kind = TransitionKind.Mix, DurationMs = 500 };
        var step = ShowReducer.Apply(Show(), new AutoCommand { Bus = "program", Transition = mix });
        Assert.Equal(mix, step.Animations["program"].Transition);
        Assert.Equal(mix.DurationMs, step.Animations["program"].Duration.TotalMilliseconds);
    }

    [Theory]
    [InlineData(TransitionKind.Cut, 500)]
    [InlineData(TransitionKind.Mix, 0)]
    public void An_auto_that_takes_no_time_is_a_cut(TransitionKind kind, int ms)
    {
        var step = ShowReducer.Apply(Show(), new AutoCommand { Bus = "program", Transition = new TransitionSpec { Kind = kind, DurationMs = ms } });
        Assert.Empty(step.Animations);
        Assert.Equal(PipBA, Program(step).Preset);
    }

    [Fact]
    public void Cut_and_auto_need_a_preview()
    {
        var scene = Show();
        Assert.Equal("bus aux2 has no preview to cut to", Refused(scene, new CutCommand { Bus = "aux2" }));
        Assert.Equal("bus aux2 has no preview to cut to", Refused(scene, new AutoCommand { Bus = "aux2" }));
    }

    [Fact]
    public void Refuses_unknown_buses_and_multiviews_with_their_names()
    {
        var scene = Show();
        Assert.Equal("bus 'aux5' is not in the scene", Refused(scene, new CutCommand { Bus = "aux5" }));
        Assert.Equal("bus 'aux5' is not in the scene", Refused(scene, new FadeToBlackCommand { Bus = "aux5" }));
        Assert.Equal("bus 'aux5' is not in the scene", Refused(scene, new GraphicsCommand { Bus = "aux5", Layer = 0, Visible = true }));
        Assert.Contains("bus aux1 is a multiview", Refused(scene, new CutCommand { Bus = "aux1" }));
        Assert.Contains("bus aux1 is a multiview", Refused(scene, new AutoCommand { Bus = "aux1" }));
        Assert.Contains("bus aux1 is a multiview", Refused(scene, new SetLayoutCommand { Bus = "aux1", Shot = new Shot { Preset = SingleA } }));
        Assert.Contains("bus aux1 is a multiview", Refused(scene, new SetPreviewCommand { Bus = "aux1", Shot = new Shot { Preset = SingleA } }));
    }

    [Fact]
    public void Refuses_a_bad_transition_on_auto()
    {
        Assert.Equal("bus program: transition: duration 20000 ms must be between 0 and 10000",
            Refused(Show(), new AutoCommand { Bus = "program", Transition = new TransitionSpec { DurationMs = 20000 } }));
        Assert.Equal("bus program: transition: kind must be one of cut, mix, dip, wipe, push, move",
            Refused(Show(), new SetLayoutCommand { Bus = "program", Shot = new Shot { Preset = SingleA }, Transition = new TransitionSpec { Kind = (TransitionKind)42 } }));
    }

    [Fact]
    public void Fade_to_black_toggles_and_reports_its_duration()
    {
        var scene = Show();
        var down = ShowReducer.Apply(scene, new FadeToBlackCommand { Bus = "program", DurationMs = 1500 });
        Assert.True(Program(down).FadedToBlack);
        Assert.Equal(new Dictionary<string, int> { ["program"] = 1500 }, down.FadeToBlackMs);
        Assert.Empty(down.Animations);
        Assert.Equal(Program(down), scene.FindBus("program")! with { FadedToBlack = true });
        OnlyChanged(scene, down, "program");

        var up = ShowReducer.Apply(down.Next, new FadeToBlackCommand { Bus = "program" });
        Assert.False(Program(up).FadedToBlack);
        Assert.Equal(1000, up.FadeToBlackMs["program"]);
        Assert.Equal(scene.Revision + 2, up.Next.Revision);
    }

    [Fact]
    public void Refuses_a_fade_that_is_too_long() =>
        Assert.Equal("bus program: fade to black duration 60000 ms must be between 0 and 10000",
            Refused(Show(), new FadeToBlackCommand { Bus = "program", DurationMs = 60000 }));

    [Fact]
    public void Set_preview_changes_only_the_preview()
    {
        var scene = Show();
        var shot = new Shot { Boxes = [Scenes.Box("cam-b", 20, 20)] };
        var step = ShowReducer.Apply(scene, new SetPreviewCommand { Bus = "program", Shot = shot });
        Assert.Equal(scene.FindBus("program")! with { Preview = shot }, Program(step));
        Assert.Empty(step.Animations);
        OnlyChanged(scene, step, "program");
    }

    [Fact]
    public void Refuses_a_preview_with_an_unknown_input()
    {
        var error = Refused(Show(), new SetPreviewCommand { Bus = "program", Shot = new Shot { Preset = SingleA with { Sources = ["cam-z"] } } });
        Assert.Equal("bus program: preview: preset references unknown input 'cam-z'", error);
    }

    [Fact]
    public void Set_layout_replaces_the_preset_with_boxes_and_back()
    {
        var scene = Show();
        var boxes = new Shot { Boxes = [Scenes.Box("cam-b"), Scenes.Box("cam-a", 640, 360)] };
        var step = ShowReducer.Apply(scene, new SetLayoutCommand { Bus = "program", Shot = boxes });
        Assert.Null(Program(step).Preset);
        Assert.Same(boxes.Boxes, Program(step).Layout);
        Assert.Equal(scene.FindBus("program")!.Preview, Program(step).Preview);
        Assert.Empty(step.Animations);

        var again = ShowReducer.Apply(step.Next, new SetLayoutCommand { Bus = "program", Shot = new Shot { Preset = PipBA } });
        Assert.Equal(PipBA, Program(again).Preset);
        Assert.Empty(Program(again).Layout);
    }

    [Fact]
    public void Set_layout_with_a_move_animates()
    {
        var scene = Show();
        var move = new TransitionSpec { Kind = TransitionKind.Move, DurationMs = 400 };
        var step = ShowReducer.Apply(scene, new SetLayoutCommand { Bus = "program", Shot = new Shot { Preset = PipBA }, Transition = move });
        var animation = step.Animations["program"];
        Assert.Equal(SingleA, animation.From.Preset);
        Assert.Equal(PipBA, animation.To.Preset);
        Assert.Equal(move, animation.Transition);
        Assert.Empty(ShowReducer.Apply(scene, new SetLayoutCommand { Bus = "program", Shot = new Shot { Preset = PipBA }, Transition = TransitionSpec.Cut }).Animations);
    }

    [Fact]
    public void Refuses_a_shot_with_both_preset_and_boxes()
    {
        var error = Refused(Show(), new SetLayoutCommand { Bus = "program", Shot = new Shot { Preset = SingleA, Boxes = [Scenes.Box("cam-a")] } });
        Assert.Equal("bus program: set either a preset or boxes, not both", error);
        Assert.Equal("bus program: preview: set either a preset or boxes, not both",
            Refused(Show(), new SetPreviewCommand { Bus = "program", Shot = new Shot { Preset = SingleA, Boxes = [Scenes.Box("cam-a")] } }));
    }

    [Fact]
    public void A_disabled_bus_changes_without_animation()
    {
        var scene = Show() is var s ? s with { Buses = [s.Buses[0] with { Enabled = false }, .. s.Buses.Skip(1)] } : null!;
        var step = ShowReducer.Apply(scene, new AutoCommand { Bus = "program" });
        Assert.Empty(step.Animations);
        Assert.Equal(PipBA, Program(step).Preset);
    }

    [Fact]
    public void Graphics_shows_and_hides_a_layer()
    {
        var scene = Show();
        var step = ShowReducer.Apply(scene, new GraphicsCommand { Bus = "program", Layer = 0, Visible = true });
        Assert.Equal([true, true], Program(step).Graphics.Select(g => g.Visible));
        var hidden = ShowReducer.Apply(step.Next, new GraphicsCommand { Bus = "program", Layer = 1, Visible = false });
        Assert.Equal([true, false], Program(hidden).Graphics.Select(g => g.Visible));
        Assert.Equal(["lower-third.png", "bug.svg"], Program(hidden).Graphics.Select(g => g.File));
        // The scene given is never changed.
        Assert.Equal([false, true], scene.FindBus("program")!.Graphics.Select(g => g.Visible));
        OnlyChanged(scene, step, "program");
    }

    [Fact]
    public void Refuses_a_missing_graphics_layer()
    {
        Assert.Equal("bus program has no graphics layer 2: its layers are 0 to 1",
            Refused(Show(), new GraphicsCommand { Bus = "program", Layer = 2, Visible = true }));
        Assert.Equal("bus program has no graphics layer -1: its layers are 0 to 1",
            Refused(Show(), new GraphicsCommand { Bus = "program", Layer = -1, Visible = true }));
        Assert.Equal("bus aux2 has no graphics layers (asked for layer 0)",
            Refused(Show(), new GraphicsCommand { Bus = "aux2", Layer = 0, Visible = true }));
    }

    [Fact]
    public void Input_audio_changes_only_the_fields_given()
    {
        var scene = Show();
        var gain = ShowReducer.Apply(scene, new InputAudioCommand { Input = "cam-b", GainDb = -6 });
        Assert.Equal(new InputDefinition { Name = "cam-b", GainDb = -6 }, gain.Next.FindInput("cam-b"));
        Assert.Equal(scene.FindInput("cam-a"), gain.Next.FindInput("cam-a"));
        Assert.Same(scene.Buses, gain.Next.Buses);
        Assert.Equal(scene.Revision + 1, gain.Next.Revision);

        var rest = ShowReducer.Apply(gain.Next, new InputAudioCommand { Input = "cam-b", Muted = true, DelayMs = 120 });
        Assert.Equal(new InputDefinition { Name = "cam-b", GainDb = -6, Muted = true, DelayMs = 120 }, rest.Next.FindInput("cam-b"));
    }

    [Fact]
    public void Refuses_unknown_inputs_and_out_of_range_audio()
    {
        Assert.Equal("input 'cam-z' is not in the scene", Refused(Show(), new InputAudioCommand { Input = "cam-z", Muted = true }));
        Assert.Equal("input 'cam-a': gain 30 dB must be between -90 and +20", Refused(Show(), new InputAudioCommand { Input = "cam-a", GainDb = 30 }));
        Assert.Equal("input 'cam-a': delay 2000 ms must be between 0 and 1000", Refused(Show(), new InputAudioCommand { Input = "cam-a", DelayMs = 2000 }));
    }

    [Fact]
    public void Bus_audio_creates_a_follow_video_mix_when_there_is_none()
    {
        var step = ShowReducer.Apply(Show(), new BusAudioCommand { Bus = "program", MasterGainDb = -3 });
        Assert.Equal(new AudioMix { Mode = AudioMode.FollowVideo, MasterGainDb = -3 }, Program(step).Audio! with { Sources = [] });
        Assert.Empty(Program(step).Audio!.Sources);
        // Still heard: setting a level must not silence the bus.
        Assert.Equal(["cam-a"], Program(step).HeardInputs().Select(a => a.Input));
    }

    [Fact]
    public void Bus_audio_switches_to_a_fixed_mix()
    {
        var sources = new AudioSource[] { new() { Input = "cam-b", GainDb = -6 } };
        var step = ShowReducer.Apply(Show(), new BusAudioCommand { Bus = "program", Mode = AudioMode.Fixed, Sources = sources });
        var audio = Program(step).Audio!;
        Assert.Equal((AudioMode.Fixed, 0.0, true), (audio.Mode, audio.MasterGainDb, audio.Limiter));
        Assert.Same(sources, audio.Sources);
        // Only the mode changes next time; the sources stay.
        var back = Program(ShowReducer.Apply(step.Next, new BusAudioCommand { Bus = "program", Mode = AudioMode.FollowVideo })).Audio!;
        Assert.Equal(AudioMode.FollowVideo, back.Mode);
        Assert.Same(sources, back.Sources);
    }

    [Fact]
    public void Refuses_bus_audio_with_unknown_inputs_or_levels()
    {
        Assert.Equal("bus program: audio references unknown input 'cam-z'",
            Refused(Show(), new BusAudioCommand { Bus = "program", Sources = [new() { Input = "cam-z" }] }));
        Assert.Equal("bus program: audio master gain 21 dB must be between -90 and +20",
            Refused(Show(), new BusAudioCommand { Bus = "program", MasterGainDb = 21 }));
    }

    [Fact]
    public void Refuses_an_empty_command() => Assert.Equal("the command is empty", Refused(Show(), null!));

    [Fact]
    public void Every_command_is_pure()
    {
        var scene = Show();
        var before = SceneJson.Write(scene);
        ShowCommand[] commands =
        [
            new CutCommand { Bus = "program" },
            new AutoCommand { Bus = "program" },
            new FadeToBlackCommand { Bus = "program" },
            new SetPreviewCommand { Bus = "program", Shot = new Shot { Preset = SingleA } },
            new SetLayoutCommand { Bus = "program", Shot = new Shot { Preset = PipBA } },
            new GraphicsCommand { Bus = "program", Layer = 0, Visible = true },
            new InputAudioCommand { Input = "cam-a", Muted = true },
            new BusAudioCommand { Bus = "program", Mode = AudioMode.Fixed },
        ];
        foreach (var command in commands)
        {
            var first = SceneJson.Write(ShowReducer.Apply(scene, command).Next);
            Assert.Equal(first, SceneJson.Write(ShowReducer.Apply(scene, command).Next));
            Assert.NotEqual(before, first);
        }
        Assert.Equal(before, SceneJson.Write(scene));
    }
}
