using MixerWorker.Pipeline.Builders;
using MixerWorker.Pipeline.Engine;
using Xunit;

namespace MixerWorker.Pipeline.Tests.Unit;

/// <summary>
/// When a bus counts as stalled: its muxer silent for its allowance while another bus goes on; never
/// all buses at once (nor one after another), nor a bus that sheds or drops as late, nor for time the
/// control thread itself lost. Looks every 250 ms, as the control thread does.
/// </summary>
public sealed class BusStallWatchTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(5), Tick = TimeSpan.FromMilliseconds(250);

    private sealed class Bus(string name, int fps = 30)
    {
        internal readonly string Name = name;
        internal object Branch = new();
        internal long Pictures;
        internal bool Producing = true;
        // Every how many frames it makes one (shedding).
        internal int Every = 1;
        // While not producing: every how many frames it drops one (or a block of sound) for coming late; 0: none.
        internal int DropsLateEvery;
        internal long LateDrops;
        internal BusStallWatch.Look Look => new(Name, Branch, Pictures, LateDrops, BusStallWatch.Allowance(Timeout, fps), BusStallWatch.GoingOn(fps));
    }

    private sealed record Outcome(List<(TimeSpan At, BusStallWatch.Stall Stall)> Rebuilds, List<BusStallWatch.Recovery> Recovered);

    // Runs the buses from `from` for `length`, at 30 fps; a rebuild gives the bus a new branch, which
    // produces again when `comesBack` says so.
    private static Outcome Run(BusStallWatch watch, Bus[] buses, TimeSpan from, TimeSpan length, Func<Bus, bool>? comesBack = null, TimeSpan? tick = null)
    {
        var outcome = new Outcome([], []);
        var frame = 0L;
        for (var now = from; now < from + length; now += tick ?? Tick)
        {
            var frames = (long)(now.TotalSeconds * 30);
            for (; frame < frames; frame++)
                foreach (var b in buses)
                {
                    if (b.Producing && frame % b.Every == 0) b.Pictures++;
                    else if (!b.Producing && b.DropsLateEvery > 0 && frame % b.DropsLateEvery == 0) b.LateDrops++;
                }
            var (rebuild, recovered) = watch.Watch([.. buses.Select(b => b.Look)], now);
            outcome.Recovered.AddRange(recovered);
            foreach (var s in rebuild)
            {
                outcome.Rebuilds.Add((now, s));
                var bus = buses.Single(b => b.Name == s.Bus);
                (bus.Branch, bus.Pictures, bus.Producing) = (new object(), 0, comesBack?.Invoke(bus) ?? true);
            }
        }
        return outcome;
    }

    [Fact]
    public void A_bus_silent_for_its_allowance_while_the_others_go_on_is_rebuilt_once_and_its_return_is_told()
    {
        var watch = new BusStallWatch();
        var buses = new[] { new Bus("program"), new Bus("aux1"), new Bus("aux2") };
        Run(watch, buses, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(10));
        buses[1].Producing = false;
        var stallAt = TimeSpan.FromSeconds(11);
        var outcome = Run(watch, buses, stallAt, TimeSpan.FromSeconds(20));

        var (at, stall) = Assert.Single(outcome.Rebuilds);
        Assert.Equal(("aux1", 1), (stall.Bus, stall.Rebuild));
        // Its last picture was seen at the look before the stall, up to a look earlier than it began.
        Assert.InRange(at - stallAt, Timeout - Tick, Timeout + Tick);
        Assert.InRange(stall.Silent, Timeout, Timeout + 2 * Tick);
        var back = Assert.Single(outcome.Recovered);
        Assert.Equal(("aux1", 1), (back.Bus, back.Rebuilds));
        Assert.Equal(1, watch.Episodes("aux1"));
        Assert.False(watch.Stalled("aux1"));
        Assert.Equal(0, watch.Episodes("program"));
    }

    [Fact]
    public void A_rebuilt_bus_that_stays_silent_is_rebuilt_again_at_growing_intervals_in_one_episode()
    {
        var watch = new BusStallWatch();
        var buses = new[] { new Bus("program"), new Bus("aux1") };
        Run(watch, buses, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(5));
        buses[1].Producing = false;
        var outcome = Run(watch, buses, TimeSpan.FromSeconds(6), TimeSpan.FromSeconds(120), comesBack: _ => false);

        Assert.Equal(new[] { 1, 2, 3, 4 }, outcome.Rebuilds.Select(r => r.Stall.Rebuild).Take(4));
        var gaps = outcome.Rebuilds.Zip(outcome.Rebuilds.Skip(1), (a, b) => b.At - a.At).ToList();
        Assert.True(gaps.Zip(gaps.Skip(1)).All(g => g.Second >= g.First), string.Join(", ", gaps));
        Assert.All(gaps, g => Assert.True(g <= BusStallWatch.MostBetweenRebuilds + Tick));
        Assert.Equal(1, watch.Episodes("aux1"));
        Assert.True(watch.Stalled("aux1"));
    }

    [Fact]
    public void Buses_silent_together_are_the_machine_not_a_bus_and_are_left_alone()
    {
        var watch = new BusStallWatch();
        var buses = new[] { new Bus("program"), new Bus("aux1") };
        Run(watch, buses, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(5));
        foreach (var b in buses) b.Producing = false;
        Assert.Empty(Run(watch, buses, TimeSpan.FromSeconds(6), TimeSpan.FromSeconds(30)).Rebuilds);
        // A lone bus has nobody to compare with: silent for its allowance, it is rebuilt.
        var lone = new[] { new Bus("program") };
        var alone = new BusStallWatch();
        Run(alone, lone, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(5));
        lone[0].Producing = false;
        Assert.Single(Run(alone, lone, TimeSpan.FromSeconds(6), TimeSpan.FromSeconds(8)).Rebuilds);
    }

    [Fact]
    public void Buses_that_stop_one_after_another_are_the_machine_too_and_only_one_left_silent_once_the_others_go_on_is_rebuilt()
    {
        var watch = new BusStallWatch();
        // The AUX buses shed to a frame in 15: their last picture before a stop of the whole show comes up to half a second
        // before Program's.
        var buses = new[] { new Bus("program"), new Bus("aux1") { Every = LatenessGuard.MostShed }, new Bus("aux2") { Every = LatenessGuard.MostShed } };
        Run(watch, buses, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(5));
        buses[1].Producing = buses[2].Producing = false;
        Run(watch, buses, TimeSpan.FromSeconds(6), TimeSpan.FromSeconds(0.75));
        buses[0].Producing = false;
        Assert.Empty(Run(watch, buses, TimeSpan.FromSeconds(6.75), TimeSpan.FromSeconds(10)).Rebuilds);

        // The show goes on but aux1: now it is stalled, at once.
        buses[0].Producing = buses[2].Producing = true;
        var (at, stall) = Assert.Single(Run(watch, buses, TimeSpan.FromSeconds(16.75), TimeSpan.FromSeconds(3), comesBack: _ => false).Rebuilds);
        Assert.Equal("aux1", stall.Bus);
        Assert.InRange(at, TimeSpan.FromSeconds(16.75), TimeSpan.FromSeconds(16.75) + 2 * Tick);
    }

    [Fact]
    public void A_bus_dropping_its_pictures_or_sound_as_late_is_starved_not_stalled_until_it_stops_dropping_too()
    {
        var watch = new BusStallWatch();
        // aux1's kept frames (one in 15) each come too late and are dropped, for 30 s; Program goes on.
        var buses = new[] { new Bus("program"), new Bus("aux1") { DropsLateEvery = LatenessGuard.MostShed } };
        Run(watch, buses, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(5));
        buses[1].Producing = false;
        Assert.Empty(Run(watch, buses, TimeSpan.FromSeconds(6), TimeSpan.FromSeconds(30)).Rebuilds);

        // It stops dropping too (stuck): stalled once its allowance has passed since its last late drop.
        buses[1].DropsLateEvery = 0;
        var (at, stall) = Assert.Single(Run(watch, buses, TimeSpan.FromSeconds(36), TimeSpan.FromSeconds(8), comesBack: _ => false).Rebuilds);
        Assert.Equal("aux1", stall.Bus);
        Assert.InRange(at, TimeSpan.FromSeconds(36) + Timeout - TimeSpan.FromSeconds(0.5) - Tick, TimeSpan.FromSeconds(36) + Timeout + Tick);
    }

    [Fact]
    public void A_bus_shed_to_its_fewest_frames_even_at_a_low_rate_is_not_stalled()
    {
        var watch = new BusStallWatch();
        var buses = new[] { new Bus("program"), new Bus("aux1", fps: 2) { Every = LatenessGuard.MostShed * 15 } };
        // aux1 at 2 fps shedding to one frame in 15 writes a picture every 7.5 s: longer than the timeout.
        Assert.True(BusStallWatch.Allowance(Timeout, 2) > TimeSpan.FromSeconds(7.5));
        Assert.Empty(Run(watch, buses, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(60)).Rebuilds);
        var thirty = new[] { new Bus("program"), new Bus("aux1") { Every = LatenessGuard.MostShed } };
        Assert.Empty(Run(new BusStallWatch(), thirty, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(60)).Rebuilds);
    }

    [Fact]
    public void Time_the_control_thread_lost_is_not_counted_against_a_bus()
    {
        var watch = new BusStallWatch();
        var buses = new[] { new Bus("program"), new Bus("aux1") };
        Run(watch, buses, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(5));
        buses[1].Producing = false;
        // Looks come 2 s apart: the control thread is starved as well; 8 s pass with 4 looks.
        Assert.Empty(Run(watch, buses, TimeSpan.FromSeconds(6), TimeSpan.FromSeconds(8), tick: TimeSpan.FromSeconds(2)).Rebuilds);
        Assert.Single(Run(watch, buses, TimeSpan.FromSeconds(14), TimeSpan.FromSeconds(6)).Rebuilds);
    }
}
