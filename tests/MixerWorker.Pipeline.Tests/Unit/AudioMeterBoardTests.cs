using MixerWorker.Pipeline.Builders;
using MixerWorker.Pipeline.Engine;
using MixerWorker.Pipeline.Interop;
using Xunit;

namespace MixerWorker.Pipeline.Tests.Unit;

public sealed class AudioMeterBoardTests
{
    private static readonly LevelReading Tone = new(-10.5, -13.5);

    [Fact]
    public void Readings_are_scoped_by_the_level_element_s_name_and_only_for_current_inputs_and_buses()
    {
        var board = new AudioMeterBoard(TimeSpan.FromSeconds(10));
        bool Current(ElementKind kind, string name) => (kind, name) is (ElementKind.Input, "cam-a") or (ElementKind.Bus, "program");

        Assert.True(board.Record("/GstPipeline:pipeline0/GstLevel:in.cam-a.level", Tone, Current));
        Assert.True(board.Record("/GstPipeline:pipeline0/GstLevel:bus.program.level", Tone with { PeakDb = -3 }, Current));
        Assert.False(board.Record("/GstPipeline:pipeline0/GstLevel:in.cam-gone.level", Tone, Current));  // removed input, late message
        Assert.False(board.Record("/GstPipeline:pipeline0/GstQueue:abox.program.cam-a", Tone, Current)); // not a meter
        Assert.False(board.Record("/GstPipeline:pipeline0/GstLevel:level0", Tone, Current));

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
        board.Record("/GstPipeline:pipeline0/GstLevel:in.cam-a.level", Tone, (_, _) => true);
        Assert.Equal(-10.5, board.Snapshot().Inputs["cam-a"].PeakDb);
        now += 50;
        Assert.Equal(-10.5, board.Snapshot().Inputs["cam-a"].PeakDb);
        now += 1;
        Assert.Equal(AudioLevel.Silence, board.Snapshot().Inputs["cam-a"]);
    }
}
