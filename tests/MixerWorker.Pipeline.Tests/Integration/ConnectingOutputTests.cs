using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using MixerWorker.Pipeline.Engine;
using MixerWorker.Pipeline.Scene;
using MixerWorker.Testbed.Feeds;
using Xunit;
using Xunit.Abstractions;
using static MixerWorker.Pipeline.Tests.Integration.MixHarness;

namespace MixerWorker.Pipeline.Tests.Integration;

/// <summary>An output whose hub does not answer its handshake: the bus it publishes goes on mixing meanwhile.</summary>
public sealed class ConnectingOutputTests(ITestOutputHelper output)
{
    private static readonly FeedSpec A = FeedSpec.Numbered(0);

    [Fact]
    public async Task A_bus_mixes_on_while_its_output_connects_to_a_hub_that_does_not_answer_and_publishes_once_it_does()
    {
        await using var h = new MixHarness(output);
        h.StartFeed(A);
        await h.WaitForPublisherAsync($"ingest/{Project}/{A.Input}", TimeSpan.FromSeconds(10));
        // The mixer reaches the hub through a door that swallows every datagram until opened: each
        // handshake meanwhile waits out libsrt's 3 s connect timeout.
        using var door = new UdpDoor(h.StandIn.Port);
        var options = h.Options();
        await h.StartMixerAsync(new SceneDefinition
        {
            Project = Project, Inputs = [new InputDefinition { Name = A.Input }],
            Buses = [Bus("program", 160, 90, At(A.Input, 0, 0, 160, 90))],
        }, options with { MediaMtx = options.MediaMtx with { SrtPort = door.Port } });

        await Task.Delay(TimeSpan.FromSeconds(0.5));
        var before = (await h.Mixer!.GetStatusAsync()).Buses["program"];
        await Task.Delay(TimeSpan.FromSeconds(2));
        var during = (await h.Mixer!.GetStatusAsync()).Buses["program"];
        output.WriteLine($"door shut: {before} → {during}; datagrams swallowed {door.Swallowed}");
        Assert.True(door.Swallowed > 0, "the output tried to connect");
        Assert.NotEqual(ConnectionState.Connected, during.Output);
        // 60 pictures in 2 s at 30 fps; a bus whose muxer waits for the handshake makes next to none.
        Assert.True(during.FramesOut - before.FramesOut >= 30, $"the bus mixed {during.FramesOut - before.FramesOut} pictures in 2 s while its output connected");

        door.Open();
        var watch = Stopwatch.StartNew();
        BusStatus bus;
        do
        {
            await Task.Delay(100);
            bus = (await h.Mixer!.GetStatusAsync()).Buses["program"];
        } while (bus.Output != ConnectionState.Connected && watch.Elapsed < TimeSpan.FromSeconds(15));
        output.WriteLine($"door open: {bus} after {watch.Elapsed.TotalSeconds:F1} s");
        Assert.Equal(ConnectionState.Connected, bus.Output);
        Assert.Contains($"out/{Project}/program", h.StandIn.PublishedPaths());
        // What the hub gets decodes: it starts at a keyframe soon after the connection.
        var program = h.Read("program");
        await program.WaitForFrameAsync(TimeSpan.FromSeconds(10), _ => true);
    }

    /// <summary>A UDP relay to a port on loopback that drops everything until <see cref="Open"/>.</summary>
    private sealed class UdpDoor : IDisposable
    {
        private readonly UdpClient _front = new(new IPEndPoint(IPAddress.Loopback, 0));
        private readonly IPEndPoint _hub;
        private readonly Dictionary<IPEndPoint, UdpClient> _backs = [];
        private readonly CancellationTokenSource _stop = new();
        private volatile bool _open;
        private int _swallowed;

        internal UdpDoor(int hubPort)
        {
            _hub = new IPEndPoint(IPAddress.Loopback, hubPort);
            _ = Task.Run(RelayAsync);
        }

        internal int Port => ((IPEndPoint)_front.Client.LocalEndPoint!).Port;
        internal int Swallowed => Volatile.Read(ref _swallowed);
        internal void Open() => _open = true;

        private async Task RelayAsync()
        {
            try
            {
                while (!_stop.IsCancellationRequested)
                {
                    var got = await _front.ReceiveAsync(_stop.Token);
                    if (!_open) { Interlocked.Increment(ref _swallowed); continue; }
                    UdpClient? back;
                    lock (_backs)
                        if (!_backs.TryGetValue(got.RemoteEndPoint, out back))
                        {
                            _backs[got.RemoteEndPoint] = back = new UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
                            var client = got.RemoteEndPoint;
                            _ = Task.Run(() => ReturnAsync(back, client));
                        }
                    await back.SendAsync(got.Buffer, _hub, _stop.Token);
                }
            }
            catch (Exception) when (_stop.IsCancellationRequested) { }
        }

        private async Task ReturnAsync(UdpClient back, IPEndPoint client)
        {
            try
            {
                while (!_stop.IsCancellationRequested)
                {
                    var got = await back.ReceiveAsync(_stop.Token);
                    await _front.SendAsync(got.Buffer, client, _stop.Token);
                }
            }
            catch (Exception) when (_stop.IsCancellationRequested) { }
        }

        public void Dispose()
        {
            _stop.Cancel();
            _front.Dispose();
            lock (_backs) foreach (var b in _backs.Values) b.Dispose();
        }
    }
}
