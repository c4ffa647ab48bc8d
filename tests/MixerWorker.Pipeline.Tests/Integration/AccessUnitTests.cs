using System.Collections.Concurrent;
using System.Security.Cryptography;
using MixerWorker.Pipeline.Builders;
using MixerWorker.Pipeline.Interop;
using MixerWorker.Pipeline.Sources;
using Xunit;

namespace MixerWorker.Pipeline.Tests.Integration;

/// <summary>
/// An input's H.264 parser is told that each PES is a whole access unit only while the stream shows it
/// (<see cref="AccessUnitWatch"/>), with real tsdemux, h264parse and avdec_h264: a feed muxed one picture
/// to a PES gets it, and its pictures leave the parser without waiting for the next; a stream whose
/// pictures come split over buffers is never told so and decodes every picture as the whole stream does.
/// </summary>
public sealed class AccessUnitTests
{
    private const int Pictures = 45; // three keyframes (one every 15): the probation (30) ends with a third of them left

    [Fact]
    public void A_feed_muxed_one_picture_to_a_PES_is_declared_whole_units_and_decodes_every_picture()
    {
        GstRuntime.Init();
        using var graph = new Graph("au-ts");
        var chain = Encoder(graph, "au-ts", "mpegtsmux", "tsdemux");
        using var parse = Element.Make("h264parse", "au-ts.parse");
        var decoded = Decoder(graph, "au-ts", parse);
        AccessUnitWatch? watch = null;
        var broke = 0;
        graph.ConnectPadAdded(chain[^1], pad =>
        {
            if (pad.QueryMediaType() != "video/x-h264") return;
            watch = new AccessUnitWatch(graph, pad, () => { }, () => Interlocked.Increment(ref broke));
            using var sink = parse.StaticPad("sink");
            pad.Link(sink);
        });
        try
        {
            Assert.NotEqual(StateChange.Failure, graph.SetState(State.Playing));
            Assert.True(WaitFor(() => decoded.Count >= Pictures), $"decoded {decoded.Count} of {Pictures}");
            Assert.NotNull(watch);
            Assert.True(watch!.ToldWhole, "the parser was not told whole access units");
            Assert.False(watch.Broken);
            Assert.Equal(0, broke);
            using var parseSink = parse.StaticPad("sink");
            Assert.Contains("alignment=(string)au", parseSink.CurrentCaps());
        }
        finally
        {
            graph.SetState(State.Null);
            watch?.Dispose();
        }
    }

    [Fact]
    public void Pictures_split_over_buffers_are_never_declared_whole_and_every_picture_decodes_as_in_the_whole_stream()
    {
        var units = EncodedUnits();
        Assert.Equal(Pictures, units.Count);

        var (whole, wholeWatch) = DecodeThroughWatch("au-whole", units.Select(u => new[] { u }));
        Assert.True(wholeWatch.ToldWhole);
        Assert.False(wholeWatch.Broken);
        // Told whole units, the parser hands on each picture with its own buffer: all of them were out
        // before the end of the stream told it that nothing more comes.
        Assert.Equal(Pictures, whole.BeforeEnd);

        // Each picture cut in the middle of its slice data, as a muxer that splits access units over PES gives them.
        var (split, splitWatch) = DecodeThroughWatch("au-split", units.Select(u => new[] { u[..(u.Length / 2)], u[(u.Length / 2)..] }));
        Assert.True(splitWatch.Broken);
        Assert.False(splitWatch.ToldWhole);
        Assert.Equal(Pictures, split.Frames.Count);
        Assert.Equal(whole.Frames, split.Frames);
    }

    // videotestsrc → x264enc (no B-frames, a keyframe every 15) → [muxer → demuxer], in the graph; returns the chain.
    private static List<Element> Encoder(Graph graph, string name, params string[] after)
    {
        var chain = new List<Element>
        {
            Element.Make("videotestsrc", $"{name}.src"),
            ElementFactory.CapsFilter($"{name}.raw", "video/x-raw,width=320,height=240,framerate=30/1"),
            Element.Make("x264enc", $"{name}.enc"),
        };
        chain[0].Set("num-buffers", Pictures);
        chain[0].Set("pattern", "ball");
        chain[2].Set("speed-preset", "ultrafast");
        chain[2].Set("tune", "zerolatency");
        chain[2].Set("key-int-max", 15u);
        chain.AddRange(after.Select(f => Element.Make(f, $"{name}.{f}")));
        foreach (var e in chain) graph.Add(e);
        Element.LinkMany([.. chain]);
        return chain;
    }

    // h264parse → avdec_h264 (slice threads, as inputs decode) → fakesink; a hash of every decoded picture, in order.
    private static ConcurrentQueue<string> Decoder(Graph graph, string name, Element parse)
    {
        var decoder = Element.Make("avdec_h264", $"{name}.dec");
        decoder.Set("thread-type", "slice");
        var sink = Element.Make("fakesink", $"{name}.sink");
        sink.Set("sync", false);
        foreach (var e in new[] { parse, decoder, sink }) graph.Add(e);
        Element.LinkMany(parse, decoder, sink);
        var frames = new ConcurrentQueue<string>();
        using var decoded = decoder.StaticPad("src");
        graph.AddProbe(decoded, ProbeType.Buffer, info =>
        {
            info.ReadBytes(bytes => frames.Enqueue(Convert.ToHexString(SHA256.HashData(bytes))));
            return ProbeReturn.Ok;
        });
        return frames;
    }

    // The encoder's access units, one buffer each.
    private static List<byte[]> EncodedUnits()
    {
        GstRuntime.Init();
        using var graph = new Graph("au-encode");
        var chain = Encoder(graph, "au-encode");
        var caps = ElementFactory.CapsFilter("au-encode.caps", "video/x-h264,stream-format=byte-stream,alignment=au");
        var sink = Element.Make("appsink", "au-encode.sink");
        sink.Set("sync", false);
        graph.Add(caps);
        graph.Add(sink);
        Element.LinkMany(chain[^1], caps, sink);
        var units = new List<byte[]>();
        try
        {
            Assert.NotEqual(StateChange.Failure, graph.SetState(State.Playing));
            Assert.True(WaitFor(() =>
            {
                while (sink.TryPullSampleData() is { } unit) units.Add(unit);
                return units.Count >= Pictures;
            }), $"encoded {units.Count} of {Pictures}");
        }
        finally { graph.SetState(State.Null); }
        return units;
    }

    // appsrc (H.264 byte stream, no alignment said) → [watch] → h264parse → avdec_h264, each unit pushed as the buffers given.
    private static ((List<string> Frames, int BeforeEnd), AccessUnitWatch) DecodeThroughWatch(string name, IEnumerable<byte[][]> units)
    {
        using var graph = new Graph(name);
        var src = Element.Make("appsrc", $"{name}.appsrc");
        src.Set("caps", "video/x-h264,stream-format=byte-stream");
        src.Set("format", "time");
        graph.Add(src);
        var parse = Element.Make("h264parse", $"{name}.parse");
        var decoded = Decoder(graph, name, parse);
        src.Link(parse);
        using var srcPad = src.StaticPad("src");
        var watch = new AccessUnitWatch(graph, srcPad, () => { }, () => { });
        try
        {
            Assert.NotEqual(StateChange.Failure, graph.SetState(State.Playing));
            var pushed = 0;
            foreach (var parts in units)
            {
                foreach (var part in parts) Assert.True(src.PushBuffer(part));
                pushed++;
            }
            // What the decoder has before the end of the stream: the parser holds nothing it may hand on.
            WaitFor(() => decoded.Count >= pushed, TimeSpan.FromSeconds(3));
            var beforeEnd = decoded.Count;
            src.EndOfStream();
            Assert.True(WaitFor(() => decoded.Count >= pushed), $"decoded {decoded.Count} of {pushed}");
            return (([.. decoded], beforeEnd), watch);
        }
        finally
        {
            graph.SetState(State.Null);
            watch.Dispose();
        }
    }

    private static bool WaitFor(Func<bool> done, TimeSpan? within = null)
    {
        var deadline = DateTime.UtcNow + (within ?? TimeSpan.FromSeconds(20));
        while (!done())
        {
            if (DateTime.UtcNow > deadline) return false;
            Thread.Sleep(20);
        }
        return true;
    }
}
