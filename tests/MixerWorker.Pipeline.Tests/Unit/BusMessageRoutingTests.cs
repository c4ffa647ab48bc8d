using MixerWorker.Pipeline.Engine;
using Xunit;

namespace MixerWorker.Pipeline.Tests.Unit;

public class BusMessageRoutingTests
{
    [Theory]
    [InlineData("/GstPipeline:pipeline0/GstBin:src.cam-a.3/GstSRTSrc:src.cam-a.3.srtsrc", "src", "cam-a", 3)]
    [InlineData("/GstPipeline:pipeline0/GstBin:out.program.2", "out", "program", 2)]
    [InlineData("/GstPipeline:pipeline0/GstBin:out.program.2/GstSRTSink:out.program.2.srtsink", "out", "program", 2)]
    [InlineData("/GstPipeline:pipeline0/GstBin:box.aux1.7", "box", "aux1", 7)]
    [InlineData("/GstPipeline:pipeline0/GstCompositor:bus.aux3.compositor", "bus", "aux3", 0)]
    [InlineData("/GstPipeline:pipeline0/GstAudioMixer:abox.program.12", "abox", "program", 12)]
    [InlineData("/GstPipeline:pipeline0/GstTee:in.cam_b.tee", "in", "cam_b", 0)]
    [InlineData("src.cam-a.3", "src", "cam-a", 3)]
    public void Finds_the_owner_by_element_name(string path, string kind, string name, int generation) =>
        Assert.Equal((kind, name, generation), ProjectMixer.Owner(path));

    [Theory]
    [InlineData("")]
    [InlineData("/GstPipeline:pipeline0")]
    [InlineData("/GstPipeline:pipeline0/GstCompositor:compositor0")]
    [InlineData("/GstPipeline:pipeline0/GstQueue:queue.5")]
    [InlineData("/GstPipeline:pipeline0/GstBin:source.cam-a.3")]
    [InlineData("/GstPipeline:pipeline0/GstBin:src")]
    [InlineData("/GstPipeline:pipeline0/GstBin:SRC.cam-a.1")]
    public void Unrelated_paths_have_no_owner(string path) =>
        Assert.Equal(("", "", 0), ProjectMixer.Owner(path));

    [Fact]
    public void The_outermost_engine_object_owns_the_message() =>
        Assert.Equal(("bus", "aux2", 0), ProjectMixer.Owner("/GstPipeline:pipeline0/GstBin:bus.aux2/GstBin:box.aux2.4/GstVideoScale:box.aux2.4.scale"));
}
