using MixerWorker.Pipeline.Builders;
using MixerWorker.Pipeline.Engine;
using MixerWorker.Pipeline.Interop;
using Xunit;

namespace MixerWorker.Pipeline.Tests.Unit;

public sealed class AudioMeterBoardTests
{
    private static readonly LevelReading Tone = new(-10.5, -13.5);

    [Fact]
    public void Readings_are_kept_apart_by_kind_and_name_until_forgotten()
    {
        var board = new AudioMeterBoard(TimeSpan.FromSeconds(10));
        board.Record(ElementKind.Input, "cam-a", Tone);
        board.Record(ElementKind.Bus, "program", Tone with { PeakDb = -3 });

        var meters = board.Snapshot();
        Assert.Equal(new AudioLevel(-10.5, -13.5), Assert.Single(meters.Inputs).Value);
        Assert.Equal(new AudioLevel(-3, -13.5), meters.Buses["program"]);
        Assert.Equal(1, board.Readings(ElementKind.Input, "cam-a"));

        board.Forget(ElementKind.Input, "cam-a");
        Assert.Empty(board.Snapshot().Inputs);
    }

    [Fact]
    public void A_meter_that_stopped_reporting_reads_as_silence()
    {
        long now = 1_000;
        var board = new AudioMeterBoard(TimeSpan.FromMilliseconds(50), () => now);
        board.Record(ElementKind.Input, "cam-a", Tone);
        Assert.Equal(-10.5, board.Snapshot().Inputs["cam-a"].PeakDb);
        now += 50;
        Assert.Equal(-10.5, board.Snapshot().Inputs["cam-a"].PeakDb);
        now += 1;
        Assert.Equal(AudioLevel.Silence, board.Snapshot().Inputs["cam-a"]);
    }
}
