using MixerWorker.Testbed.StandIn;
using Xunit;

namespace MixerWorker.Pipeline.Tests.StandIn;

public class StreamIdParserTests
{
    public static TheoryData<string, string, string, string?, string?, string?> Accepted => new()
    {
        // raw, action, path, user, pass, query
        { "publish:ingest/p/cam-a", "publish", "ingest/p/cam-a", null, null, null },
        { "read:out/p/program", "read", "out/p/program", null, null, null },
        { "publish:ingest/cam1:token=abc", "publish", "ingest/cam1", null, null, "token=abc" },
        { "read:out/x:alice:s3cret", "read", "out/x", "alice", "s3cret", null },
        { "read:out/x:alice:s3cret:token=abc&b=2", "read", "out/x", "alice", "s3cret", "token=abc&b=2" },
        { "read:out/x#feedbackplay", "read", "out/x", null, null, null },
        { "read:out/x:q=1#feedbackplay", "read", "out/x", null, null, "q=1" },
        { "read:out/x:u:p#feedbackplay", "read", "out/x", "u", "p", null },
        { "publish:a.b_c-d/E9", "publish", "a.b_c-d/E9", null, null, null },
        { "publish:p:%41=%20", "publish", "p", null, null, "%41=%20" }, // query is verbatim, not decoded
        { "#!::r=ingest/cam1,m=publish", "publish", "ingest/cam1", null, null, null },
        { "#!::r=out/x,m=request,u=bob,s=pw", "read", "out/x", "bob", "pw", null },
        { "#!::r=out/x", "read", "out/x", null, null, null },                 // m defaults to read
        { "#!::h=host,t=stream,r=out/x,zz=ignored", "read", "out/x", null, null, null },
    };

    [Theory]
    [MemberData(nameof(Accepted))]
    public void Accepts_MediaMtx_forms(string raw, string action, string path, string? user, string? pass, string? query)
    {
        Assert.True(StreamIdParser.TryParse(raw, out var sid, out var error), error);
        Assert.Equal(new ParsedStreamId(action, path, user, pass, query), sid);
    }

    [Theory]
    [InlineData("")]
    [InlineData("publish")]                       // 1 part
    [InlineData("play:out/x")]                    // unknown action
    [InlineData("Publish:out/x")]                 // case-sensitive
    [InlineData("read:a:b:c:d:e")]                // 6 parts
    [InlineData("read:")]                         // empty path
    [InlineData("read:/out/x")]                   // leading slash
    [InlineData("read:out/x/")]                   // trailing slash
    [InlineData("read:out x")]                    // space
    [InlineData("read:out/x?token=1")]            // '?' is not a path char
    [InlineData("read:out/../x")]                 // dot-dot segment
    [InlineData("read:./x")]                      // dot segment
    [InlineData("#!::r=out/x,m=play")]            // unsupported mode
    [InlineData("#!::r=out/x,broken")]            // item without '='
    [InlineData("#!::m=publish")]                 // no path
    [InlineData("#!::r=out/x:token=1")]           // standard form has no query: ':' lands in the path
    public void Rejects_everything_else(string raw)
    {
        Assert.False(StreamIdParser.TryParse(raw, out var sid, out var error));
        Assert.Null(sid);
        Assert.False(string.IsNullOrEmpty(error));
    }

    [Theory]
    [InlineData("token=abc", true)]
    [InlineData("a=1&token=abc&b=2", true)]
    [InlineData("token=abcd", false)]
    [InlineData("xtoken=abc", false)]
    [InlineData("token=ABC", false)]
    [InlineData(null, false)]
    public void Token_must_be_an_exact_query_item(string? query, bool expected) =>
        Assert.Equal(expected, StreamIdParser.QueryHasToken(query, "abc"));

    [Theory]
    [InlineData("read:out/x:alice:s3cret", "read:out/x:alice:***")]
    [InlineData("read:out/x:alice:s3cret:q=1", "read:out/x:alice:***:q=1")]
    [InlineData("#!::r=out/x,u=bob,s=pw", "#!::r=out/x,u=bob,s=***")]
    [InlineData("read:out/x:q=1", "read:out/x:q=1")]
    public void Masks_only_the_password(string raw, string masked) =>
        Assert.Equal(masked, StreamIdParser.MaskPassword(raw));
}
