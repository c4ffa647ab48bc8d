using System.Collections.Concurrent;
using MixerWorker.Pipeline.Interop;
using MixerWorker.Testbed.Timing;
using Xunit;
using Xunit.Abstractions;

namespace MixerWorker.Pipeline.Tests.Integration;

/// <summary>
/// What elements post on a pipeline's bus is taken on the thread that posts it: nothing waits in
/// GStreamer's own queue (whose writers spin on each other in 1.22 when one of them is descheduled),
/// what the engine does not read goes no further, and an error still reaches the handler.
/// </summary>
public sealed class BusReaderTests(ITestOutputHelper output)
{
    [Fact]
    public async Task A_streaming_thread_s_flood_never_waits_in_the_bus_s_queue_and_its_error_reaches_the_handler()
    {
        MediaTestLock.Acquire(TimeSpan.FromMinutes(3));
        var pipeline = Element.NewPipeline();
        var handed = new ConcurrentQueue<BusMessage>();
        var reader = new BusReader(pipeline, handed.Enqueue);
        // A live tone of 1 ms buffers through a meter posting each millisecond: about a thousand element
        // messages a second from one streaming thread, and after 600 buffers an error from the same thread.
        var tone = Element.Make("audiotestsrc", "tone");
        tone.Set("is-live", true);
        tone.Set("samplesperbuffer", 48);
        var meter = Element.Make("level", "meter");
        meter.Set("interval", 1_000_000UL);
        meter.Set("post-messages", true);
        var fail = Element.Make("identity", "fail");
        fail.Set("error-after", 600);
        var sink = Element.Make("fakesink", "sink");
        Element[] chain = [tone, Element.Make("capsfilter", "caps"), meter, fail, sink];
        chain[1].Set("caps", "audio/x-raw,rate=48000,channels=2");
        foreach (var e in chain) pipeline.Add(e);
        Element.LinkMany(chain);
        try
        {
            Assert.NotEqual(StateChange.Failure, pipeline.SetState(State.Playing));
            var queuedSeen = 0;
            for (var deadline = DateTime.UtcNow.AddSeconds(20); !handed.Any(m => m.Type == MessageType.Error) && DateTime.UtcNow < deadline; await Task.Delay(5))
                if (reader.AnyQueued) queuedSeen++;

            var posted = reader.Posted(MessageType.Element);
            output.WriteLine($"{posted} element messages posted; handed on: {string.Join(", ", handed.Select(m => m.Type))}; seen queued {queuedSeen} times");
            // The identity's own error, then its source's stream error as it stops: both handed on as posted.
            var error = Assert.Single(handed, m => m.Type == MessageType.Error && m.SourcePath.EndsWith("fail", StringComparison.Ordinal));
            Assert.Contains("as requested", error.Text);
            Assert.InRange(posted, 300, long.MaxValue);
            // The meter's messages went no further than the thread that posted them, and nothing ever waited.
            Assert.DoesNotContain(handed, m => m.Type == MessageType.Element);
            Assert.Equal(0, queuedSeen);
        }
        finally
        {
            pipeline.SetState(State.Null);
            reader.Dispose();
            foreach (var e in chain) e.Dispose();
            pipeline.Dispose();
        }
    }
}
