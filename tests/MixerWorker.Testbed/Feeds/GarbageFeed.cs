using MixerWorker.Testbed.StandIn;

namespace MixerWorker.Testbed.Feeds;

/// <summary>
/// A publisher that sends random bytes instead of MPEG-TS, the way a misconfigured encoder or a wrong
/// port does: the SRT connection is fine, the data is not. About 1 Mb/s in 1316-byte messages.
/// </summary>
public sealed class GarbageFeed : IDisposable
{
    private readonly SrtClient _client;
    private readonly Thread _thread;
    private volatile bool _stop;
    private long _bytes;

    public string Input { get; }
    public long BytesSent => Interlocked.Read(ref _bytes);

    private GarbageFeed(string input, SrtClient client)
    {
        Input = input;
        _client = client;
        _thread = new Thread(Run) { IsBackground = true, Name = $"garbage:{input}" };
        _thread.Start();
    }

    public static GarbageFeed Start(string input, string project, string host, int port, string? passphrase, string? token = null) =>
        new(input, SrtClient.Connect(host, port, $"publish:ingest/{project}/{input}{(token is null ? "" : $":token={token}")}",
            new SrtClientOptions { Passphrase = passphrase, PbKeyLength = passphrase is null ? 0 : 16, LatencyMs = 80 }));

    private void Run()
    {
        var random = new Random(7);
        var message = new byte[1316];
        while (!_stop)
        {
            random.NextBytes(message);
            try { _client.Send(message); }
            catch (SrtException) { return; }
            Interlocked.Add(ref _bytes, message.Length);
            Thread.Sleep(10); // ~1 Mb/s
        }
    }

    public void Dispose()
    {
        _stop = true;
        _thread.Join(TimeSpan.FromSeconds(2));
        _client.Dispose();
    }
}
