using Microsoft.Extensions.Logging;
using MixerWorker.Pipeline.Builders;
using MixerWorker.Pipeline.Engine;
using MixerWorker.Pipeline.Interop;
using Xunit;

namespace MixerWorker.Pipeline.Tests.Unit;

public class BusMessageRoutingTests
{
    [Theory]
    [InlineData("/GstPipeline:pipeline0/GstBin:src.cam-a.3/GstSRTSrc:src.cam-a.3.srtsrc", "Source", "cam-a", 3)]
    [InlineData("/GstPipeline:pipeline0/GstBin:out.program.2", "Output", "program", 2)]
    [InlineData("/GstPipeline:pipeline0/GstBin:out.program.2/GstSRTSink:out.program.2.srtsink", "Output", "program", 2)]
    [InlineData("/GstPipeline:pipeline0/GstBin:box.aux1.7", "Box", "aux1", 7)]
    [InlineData("/GstPipeline:pipeline0/GstCompositor:bus.aux3.compositor", "Bus", "aux3", null)]
    [InlineData("/GstPipeline:pipeline0/GstQueue:abox.program.12", "AudioBox", "program", null)]
    [InlineData("/GstPipeline:pipeline0/GstTee:in.cam_b.tee", "Input", "cam_b", null)]
    [InlineData("src.cam-a.3", "Source", "cam-a", 3)]
    public void Finds_the_owner_by_element_name(string path, string kind, string name, int? generation)
    {
        var owner = ElementName.OwnerOf(path);
        Assert.Equal((kind, name, generation), (owner?.Kind.ToString(), owner?.Owner, owner?.Generation));
    }

    [Theory]
    [InlineData("")]
    [InlineData("/GstPipeline:pipeline0")]
    [InlineData("/GstPipeline:pipeline0/GstCompositor:compositor0")]
    [InlineData("/GstPipeline:pipeline0/GstQueue:queue.5")]
    [InlineData("/GstPipeline:pipeline0/GstBin:source.cam-a.3")]
    [InlineData("/GstPipeline:pipeline0/GstBin:src")]
    [InlineData("/GstPipeline:pipeline0/GstBin:SRC.cam-a.1")]
    [InlineData("/GstPipeline:pipeline0/GstBin:src.cam-a")]       // a connection always has a generation
    [InlineData("/GstPipeline:pipeline0/GstBin:box.aux1.first")]
    [InlineData("/GstPipeline:pipeline0/GstBin:in.Cam A.tee")]    // not a valid input name
    public void Unrelated_paths_have_no_owner(string path) => Assert.Null(ElementName.OwnerOf(path));

    [Fact]
    public void The_outermost_engine_object_owns_the_message() =>
        Assert.Equal(ElementName.Bus("aux2"), ElementName.OwnerOf("/GstPipeline:pipeline0/GstBin:bus.aux2/GstBin:box.aux2.4/GstVideoScale:box.aux2.4.scale"));

    [Fact]
    public void Errors_of_boxes_and_heard_inputs_belong_to_their_bus()
    {
        Assert.Equal("aux1", ElementName.Box("aux1", 7).Child("scale").BusName);
        Assert.Equal("program", ElementName.AudioBox("program", "cam-a").BusName);
        Assert.Null(ElementName.Source("cam-a", 2).BusName);
        Assert.Null(ElementName.Graphic("program", 1).BusName);
    }

    private static readonly (ElementName Name, string Text)[] Written =
    [
        (ElementName.Input("cam-a").Child("vtee"), "in.cam-a.vtee"),
        (ElementName.Source("cam-a", 3), "src.cam-a.3"),
        (ElementName.Source("cam-a", 3).Child("h264parse"), "src.cam-a.3.h264parse"),
        (ElementName.Bus("program").Child("venc0"), "bus.program.venc0"),
        (ElementName.Box("aux1", 12).Child("crop"), "box.aux1.12.crop"),
        (ElementName.AudioBox("program", "7"), "abox.program.7"),
        (ElementName.Graphic("program", 0).Child("file"), "gfx.program.0.file"),
        (ElementName.Veil("program", "dip").Child("src"), "veil.program.dip.src"),
        (ElementName.Output("aux7", 41), "out.aux7.41"),
    ];

    // Formatting and parsing are one protocol: whatever the builders write reads back as itself.
    [Fact]
    public void Every_name_the_builders_write_reads_back_as_itself()
    {
        foreach (var (name, text) in Written)
        {
            Assert.Equal(text, name.ToString());
            Assert.Equal(name, ElementName.Parse(text));
        }
    }

    // A pipeline error is logged as one while the show runs; once the mixer stops, its sources' "Internal
    // data stream error" (their downstream torn down first) is teardown, at debug, and fails nothing.
    [Fact]
    public void Errors_are_errors_until_the_mixer_stops_then_teardown_at_debug()
    {
        var log = new LevelLog();
        // Only owner-less errors are routed here: they touch neither the graph nor the meters.
        var router = new BusMessageRouter(null!, new SecretRedactor(["pw-1234"]), log);
        var unowned = new BusMessage(MessageType.Error, "/GstPipeline:pipeline0/GstQueue:queue7", "Internal data stream error.", "streaming stopped, reason error (pw-1234)");
        router.Route(unowned);
        Assert.Equal([LogLevel.Error], log.Levels);
        Assert.DoesNotContain("pw-1234", log.Text);

        router.Stopping();
        router.Route(unowned);
        router.Route(unowned with { SourcePath = "/GstPipeline:pipeline0/GstAudioTestSrc:audiotestsrc3" });
        Assert.Equal([LogLevel.Error, LogLevel.Debug, LogLevel.Debug], log.Levels);
    }

    private sealed class LevelLog : ILogger
    {
        public List<LogLevel> Levels { get; } = [];
        public string Text { get; private set; } = "";
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
        public bool IsEnabled(LogLevel logLevel) => true;
        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            Levels.Add(logLevel);
            Text += formatter(state, exception) + "\n";
        }
    }
}
