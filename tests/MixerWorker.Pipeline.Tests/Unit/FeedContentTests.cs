using MixerWorker.Pipeline.Sources;
using Xunit;

namespace MixerWorker.Pipeline.Tests.Unit;

/// <summary>What an input connection that never became a picture is reported as.</summary>
public sealed class FeedContentTests
{
    private static readonly TimeSpan Six = TimeSpan.FromSeconds(6);

    [Fact]
    public void Each_way_of_carrying_nothing_usable_gets_its_own_message()
    {
        var content = new FeedContent();
        Assert.Null(content.Explain("f7", connected: false, 0, Six));
        Assert.Equal("input f7: connected, but no data in 6 s", content.Explain("f7", true, 0, Six));
        Assert.Equal("input f7: connected, but no decodable MPEG-TS in 6 s (1316 bytes received)", content.Explain("f7", true, 1316, Six));

        content.Track("meta/x-klv", "meta/x-klv", decodable: false); // data tracks are drained silently
        content.Track("video/mpeg", "video/mpeg, mpegversion=(int)2, systemstream=(boolean)false", decodable: false);
        content.Track("audio/x-ac3", "audio/x-ac3", decodable: false);
        Assert.Equal("input f7: connected, but its video is MPEG-1/2 video and its audio is AC-3, which the engine cannot decode (it decodes " + FeedContent.Decodes + ")",
            content.Explain("f7", true, 5000, Six));
    }

    [Fact]
    public void A_working_input_names_what_it_cannot_decode_and_a_decodable_one_that_shows_nothing_says_so()
    {
        var content = new FeedContent();
        content.Track("video/mpeg", "video/mpeg, mpegversion=(int)4", decodable: false);
        content.Track("audio/mpeg", "audio/mpeg, mpegversion=(int)4, stream-format=(string)adts", decodable: true);
        Assert.Equal(["input f9: its video is MPEG-4 Part 2, which the engine cannot decode (it decodes " + FeedContent.Decodes + "); the input goes on without it"], content.Lost("f9"));
        Assert.Equal("input f9: connected, AAC audio found, but nothing decoded in 6 s (9000 bytes received)", content.Explain("f9", true, 9000, Six));
    }
}
