using System.Diagnostics;
using MixerWorker.Testbed.StandIn;
using Xunit;

namespace MixerWorker.Pipeline.Tests.StandIn;

internal static class StandInTestUtil
{
    public const string IngestPass = "ingest-secret-0123";
    public const string OutputPass = "output-secret-4567";
    // How long a test waits for something the stand-in's I/O thread or libsrt's threads must do: generous, since on a
    // starved machine those threads can wait seconds for a core; a wait that succeeds returns as soon as it does.
    public static readonly TimeSpan Wait = TimeSpan.FromSeconds(15);

    public static MediaMtxStandIn StartWithPassphrases(string? token = null) => MediaMtxStandIn.Start(new StandInOptions
    {
        IngestPassphrase = IngestPass,
        OutputPassphrase = OutputPass,
        RequiredToken = token,
    });

    public static SrtClient Connect(MediaMtxStandIn s, string streamId, string? passphrase = null, SrtClientOptions? options = null) =>
        SrtClient.Connect("127.0.0.1", s.Port, streamId, (options ?? new SrtClientOptions()) with { Passphrase = passphrase });

    /// <summary>Message i of a test stream: 1316 bytes, first 4 bytes = i, rest a pattern depending on i.</summary>
    public static byte[] Message(int i)
    {
        var m = new byte[1316];
        BitConverter.TryWriteBytes(m, i);
        for (int k = 4; k < m.Length; k++) m[k] = (byte)(i * 31 + k);
        return m;
    }

    /// <summary>Receives until <paramref name="count"/> messages arrived or nothing came for <paramref name="idle"/>.</summary>
    public static List<byte[]> ReceiveMessages(SrtClient c, int count, TimeSpan idle)
    {
        var got = new List<byte[]>();
        var buf = new byte[1500];
        while (got.Count < count)
        {
            int n = c.Receive(buf, idle);
            if (n <= 0) break;
            got.Add(buf[..n]);
        }
        return got;
    }

    /// <summary>Readers are only routed once the I/O thread accepted them; wait for that before publishing.</summary>
    public static void WaitForReaders(MediaMtxStandIn s, string path, int readers)
    {
        var sw = Stopwatch.StartNew();
        while (s.GetPathStats(path)?.Readers != readers)
        {
            if (sw.Elapsed > Wait) Assert.Fail($"path {path}: expected {readers} readers, have {s.GetPathStats(path)?.Readers}");
            Thread.Sleep(5);
        }
        // libsrt 1.5.1 caller race, measured here: a SHUTDOWN that reaches a caller within a few ms of
        // its srt_connect returning is lost about half the time, and the caller only notices after its
        // 5 s peer-idle timeout. Tests that expect a prompt disconnect let the connection settle first.
        Thread.Sleep(200);
    }
}
