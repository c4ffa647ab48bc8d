using MixerWorker.Pipeline.Scene;
using Xunit;

namespace MixerWorker.Pipeline.Tests.Unit;

public class AudioSharingTests
{
    private static BusDefinition Follow(string name, params string[] onAir) => Scenes.Bus(name, [.. onAir.Select(s => Scenes.Box(s))]);

    private static BusDefinition Fixed(string name, params (string Input, double GainDb)[] heard) => Follow(name, "cam-a") with
    {
        Audio = new AudioMix { Mode = AudioMode.Fixed, Sources = [.. heard.Select(h => new AudioSource { Input = h.Input, GainDb = h.GainDb })] },
    };

    [Fact]
    public void Buses_that_would_sound_the_same_have_equal_keys_and_any_difference_in_the_sound_tells_them_apart()
    {
        // Box order, size, other buses' names and the video format do not change the sound.
        var program = Follow("program", "cam-a", "cam-b");
        var aux = Follow("aux1", "cam-b", "cam-a") with { Format = new OutputFormat { Width = 640, Height = 360 } };
        Assert.Equal(AudioMixKey.Of(program), AudioMixKey.Of(aux));
        Assert.Equal(AudioMixKey.Of(Fixed("program", ("cam-a", -6))), AudioMixKey.Of(Fixed("aux1", ("cam-a", -6))));

        var key = AudioMixKey.Of(program);
        Assert.NotEqual(key, AudioMixKey.Of(Follow("aux1", "cam-a")));                                           // what is heard
        Assert.NotEqual(key, AudioMixKey.Of(program with { Layout = [Scenes.Box("cam-a"), Scenes.Box("cam-b") with { Alpha = 0 }] }));
        Assert.NotEqual(key, AudioMixKey.Of(program with { Audio = new AudioMix { Mode = AudioMode.FollowVideo, MasterGainDb = -3 } }));
        Assert.NotEqual(key, AudioMixKey.Of(program with { Audio = new AudioMix { Mode = AudioMode.FollowVideo, Limiter = false } }));
        Assert.NotEqual(key, AudioMixKey.Of(program with { Format = new OutputFormat { AudioBitrateKbps = 64 } }));
        Assert.NotEqual(key, AudioMixKey.Of(program with { Format = new OutputFormat { AudioCodec = AudioCodec.Aac } }));
        Assert.NotEqual(AudioMixKey.Of(Fixed("program", ("cam-a", -6))), AudioMixKey.Of(Fixed("aux1", ("cam-a", -5))));
        // The same input at unity, fixed or following the picture: not shared, since the next cut would part them anyway.
        Assert.NotEqual(AudioMixKey.Of(Follow("program", "cam-a")), AudioMixKey.Of(Fixed("aux1", ("cam-a", 0))));
    }

    [Fact]
    public void A_bus_crossfading_its_sound_has_a_key_of_its_own_and_a_transition_that_keeps_the_sound_does_not()
    {
        var mix = new TransitionSpec { Kind = TransitionKind.Mix, DurationMs = 500 };
        var from = Follow("program", "cam-a");
        var to = Follow("program", "cam-b");
        var crossfading = AudioMixKey.Of(to, new BusAnimation(from, to, mix));
        Assert.Equal("program", crossfading.Alone);
        Assert.NotEqual(AudioMixKey.Of(to), crossfading);
        // A layout move with the same inputs, or a fixed mix under a transition: nothing to crossfade.
        var moved = Follow("program", "cam-a") with { Layout = [Scenes.Box("cam-a", 100, 100)] };
        Assert.Equal(AudioMixKey.Of(moved), AudioMixKey.Of(moved, new BusAnimation(from, moved, mix)));
        var fixedTo = Fixed("program", ("cam-a", 0)) with { Layout = [Scenes.Box("cam-b")] };
        Assert.Equal(AudioMixKey.Of(fixedTo), AudioMixKey.Of(fixedTo, new BusAnimation(Fixed("program", ("cam-a", 0)), fixedTo, mix)));
    }

    private static readonly AudioMixKey A = AudioMixKey.Of(Follow("x", "cam-a")), B = AudioMixKey.Of(Follow("x", "cam-b")), C = AudioMixKey.Of(Follow("x", "cam-c"));

    private static Dictionary<string, int?> Chains(IReadOnlyList<SharedMix> plan) =>
        plan.SelectMany(m => m.Buses.Select(b => (b, m.Chain))).ToDictionary(p => p.b, p => p.Chain);

    [Fact]
    public void Equal_sounds_share_one_chain_from_the_start()
    {
        var plan = AudioSharing.Plan(new Dictionary<int, AudioMixKey>(), new Dictionary<string, int>(),
            [("program", A), ("aux1", A), ("aux2", B), ("aux3", A)]);
        Assert.Equal(2, plan.Count);
        Assert.Equal(["program", "aux1", "aux3"], plan[0].Buses);
        Assert.Equal(["aux2"], plan[1].Buses);
        Assert.All(plan, m => Assert.Null(m.Chain));
    }

    [Fact]
    public void A_bus_that_diverges_gets_a_new_chain_and_the_others_keep_theirs_untouched()
    {
        var chains = new Dictionary<int, AudioMixKey> { [1] = A };
        var hearing = new Dictionary<string, int> { ["program"] = 1, ["aux1"] = 1, ["aux2"] = 1 };
        var plan = AudioSharing.Plan(chains, hearing, [("program", B), ("aux1", A), ("aux2", A)]);
        Assert.Equal(new Dictionary<string, int?> { ["program"] = null, ["aux1"] = 1, ["aux2"] = 1 }, Chains(plan));
        Assert.Equal(A, plan.Single(m => m.Chain == 1).Key);

        // Two buses leave in different directions, one stays: neither leaver changes the chain the third hears.
        plan = AudioSharing.Plan(chains, hearing, [("program", B), ("aux1", C), ("aux2", A)]);
        Assert.Equal(new Dictionary<string, int?> { ["program"] = null, ["aux1"] = null, ["aux2"] = 1 }, Chains(plan));
        // All of them leave, in two directions: none may change the chain in place, the others still hear it until theirs starts.
        plan = AudioSharing.Plan(chains, new Dictionary<string, int> { ["program"] = 1, ["aux1"] = 1 }, [("program", B), ("aux1", C)]);
        Assert.All(plan, m => Assert.Null(m.Chain));
    }

    [Fact]
    public void A_change_every_bus_of_a_chain_makes_is_made_in_place()
    {
        var chains = new Dictionary<int, AudioMixKey> { [1] = A, [2] = C };
        var hearing = new Dictionary<string, int> { ["program"] = 1, ["aux1"] = 1, ["aux2"] = 2 };
        var plan = AudioSharing.Plan(chains, hearing, [("program", B), ("aux1", B), ("aux2", C)]);
        Assert.Equal(new Dictionary<string, int?> { ["program"] = 1, ["aux1"] = 1, ["aux2"] = 2 }, Chains(plan));
        Assert.Equal(B, plan.Single(m => m.Chain == 1).Key);
    }

    [Fact]
    public void A_bus_whose_sound_becomes_another_chains_again_rejoins_it_and_its_own_is_left_unused()
    {
        var chains = new Dictionary<int, AudioMixKey> { [1] = A, [2] = B };
        var hearing = new Dictionary<string, int> { ["program"] = 1, ["aux1"] = 2 };
        var plan = AudioSharing.Plan(chains, hearing, [("program", A), ("aux1", A)]);
        Assert.Equal(new Dictionary<string, int?> { ["program"] = 1, ["aux1"] = 1 }, Chains(plan));
        Assert.DoesNotContain(plan, m => m.Chain == 2);
    }
}
