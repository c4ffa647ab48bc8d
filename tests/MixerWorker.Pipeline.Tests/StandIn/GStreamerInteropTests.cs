using System.Diagnostics;
using System.Text;
using MixerWorker.Testbed;
using MixerWorker.Testbed.StandIn;
using Xunit;
using static MixerWorker.Pipeline.Tests.StandIn.StandInTestUtil;

namespace MixerWorker.Pipeline.Tests.StandIn;

/// <summary>
/// The engine talks to MediaMTX through GStreamer's srtsrc/srtsink, so the stand-in must accept them the
/// same way: these run gst-launch-1.0 (GStreamer 1.22) as a subprocess against a loopback stand-in.
/// </summary>
public class GStreamerInteropTests
{
    private const string Source =
        "videotestsrc is-live=true num-buffers={0} ! video/x-raw,width=320,height=180,framerate=30/1 ! " +
        "x264enc tune=zerolatency speed-preset=ultrafast key-int-max=15 ! mpegtsmux ! ";

    private static string SrtSink(int port, string streamId, string passphrase) =>
        $"srtsink uri=srt://127.0.0.1:{port} streamid={streamId} passphrase={passphrase} pbkeylen=16 auto-reconnect=false";

    private static string SrtSrc(int port, string streamId, string passphrase) =>
        $"srtsrc uri=srt://127.0.0.1:{port} streamid={streamId} passphrase={passphrase} pbkeylen=16 auto-reconnect=false";

    [Fact]
    public async Task Gstreamer_srtsink_publishes_and_SrtClient_reads_valid_mpegts()
    {
        using var s = StartWithPassphrases();
        using var gst = GstLaunch(string.Format(Source, 75) + SrtSink(s.Port, "publish:ingest/p/cam-a", IngestPass));
        var pubAttempt = await s.WaitForAttemptAsync(a => a.Action == "publish" && a.Outcome == SrtAttemptOutcome.Accepted, TimeSpan.FromSeconds(10));
        Assert.Equal("publish:ingest/p/cam-a", pubAttempt.StreamId);

        using var reader = Connect(s, "read:ingest/p/cam-a", IngestPass);
        long bytes = 0;
        int messages = 0;
        var buf = new byte[1500];
        while (true)
        {
            int n = reader.Receive(buf, TimeSpan.FromSeconds(5));
            if (n <= 0) break; // -1: the stand-in closed us when gst-launch finished
            Assert.True(n % 188 == 0, $"message of {n} bytes is not whole TS packets");
            for (int off = 0; off < n; off += 188) Assert.Equal(0x47, buf[off]);
            bytes += n;
            messages++;
        }
        Assert.True(gst.WaitForExit(10_000), "gst-launch did not finish");
        Assert.True(gst.ExitCode == 0, $"gst-launch failed: {gst.Output}");
        Assert.True(bytes > 20_000, $"only {bytes} bytes read");

        var pub = await s.WaitForAttemptAsync(a => a.Sequence == pubAttempt.Sequence && a.ClosedAt != null, Wait);
        Assert.Equal("publisher disconnected", pub.Reason);
        var stats = s.GetPathStats("ingest/p/cam-a")!;
        Assert.False(stats.HasPublisher);
        Assert.True(stats.BytesIn >= bytes, $"{stats} vs {bytes} read");
        Assert.Equal(0, stats.MessagesDropped);
    }

    [Fact]
    public async Task Gstreamer_srtsrc_reads_from_the_stand_in_and_is_refused_with_a_wrong_passphrase()
    {
        using var s = StartWithPassphrases();
        using var pub = GstLaunch(string.Format(Source, 120) + SrtSink(s.Port, "publish:out/p/program", OutputPass));
        await s.WaitForAttemptAsync(a => a.Action == "publish" && a.Outcome == SrtAttemptOutcome.Accepted, TimeSpan.FromSeconds(10));

        var file = Path.Combine(Path.GetTempPath(), $"standin-{Guid.NewGuid():N}.ts");
        try
        {
            using var wrong = GstLaunch(SrtSrc(s.Port, "read:out/p/program", IngestPass) + " ! fakesink");
            Assert.True(wrong.WaitForExit(10_000), "srtsrc with a wrong passphrase kept running");
            Assert.NotEqual(0, wrong.ExitCode);
            var failed = await s.WaitForAttemptAsync(a => a.Action == "read" && a.Outcome != SrtAttemptOutcome.Pending, Wait);
            Assert.Equal(SrtAttemptOutcome.HandshakeFailed, failed.Outcome);

            using var reader = GstLaunch(SrtSrc(s.Port, "read:out/p/program:token=t1", OutputPass) + $" ! filesink location={file}");
            var accepted = await s.WaitForAttemptAsync(a => a.Action == "read" && a.Outcome == SrtAttemptOutcome.Accepted, Wait);
            Assert.Equal("token=t1", accepted.Query);

            Assert.True(pub.WaitForExit(15_000), "publisher did not finish");
            // Publisher gone → the stand-in closes the reader → srtsrc ends.
            Assert.True(reader.WaitForExit(15_000), "srtsrc did not stop after the publisher left");
            var data = File.ReadAllBytes(file);
            Assert.True(data.Length > 20_000, $"srtsrc wrote {data.Length} bytes: {reader.Output}");
            int sync = 0;
            for (int i = 0; i < data.Length; i++) if (data[i] == 0x47) { sync = i; break; }
            for (int off = sync; off + 188 <= data.Length; off += 188) Assert.Equal(0x47, data[off]);
            var closed = await s.WaitForAttemptAsync(a => a.Sequence == accepted.Sequence && a.ClosedAt != null, Wait);
            Assert.Equal("publisher left", closed.Reason);
        }
        finally
        {
            File.Delete(file);
        }
    }

    private static GstProcess GstLaunch(string pipeline) => new(pipeline);

    private sealed class GstProcess : IDisposable
    {
        private readonly Process _p;
        private readonly StringBuilder _out = new();

        public GstProcess(string pipeline)
        {
            var psi = new ProcessStartInfo("gst-launch-1.0") { RedirectStandardOutput = true, RedirectStandardError = true };
            psi.ArgumentList.Add("-q");
            foreach (var token in pipeline.Split(' ', StringSplitOptions.RemoveEmptyEntries)) psi.ArgumentList.Add(token);
            _p = ChildProcesses.Start(psi);
            _p.OutputDataReceived += (_, e) => { lock (_out) _out.AppendLine(e.Data); };
            _p.ErrorDataReceived += (_, e) => { lock (_out) _out.AppendLine(e.Data); };
            _p.BeginOutputReadLine();
            _p.BeginErrorReadLine();
        }

        public bool WaitForExit(int ms) => _p.WaitForExit(ms);
        public int ExitCode => _p.ExitCode;
        public string Output { get { lock (_out) return _out.ToString(); } }

        public void Dispose()
        {
            if (!_p.HasExited) _p.Kill(entireProcessTree: true);
            _p.WaitForExit(5000);
            _p.Dispose();
        }
    }
}
