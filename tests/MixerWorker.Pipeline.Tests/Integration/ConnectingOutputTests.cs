using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using MixerWorker.Pipeline.Engine;
using MixerWorker.Pipeline.Scene;
using MixerWorker.Testbed.Feeds;
using MixerWorker.Testbed.Reading;
using Xunit;
using Xunit.Abstractions;
using static MixerWorker.Pipeline.Tests.Integration.MixHarness;

namespace MixerWorker.Pipeline.Tests.Integration;

/// <summary>
/// An output whose hub does not answer its handshake: the bus it publishes goes on mixing meanwhile, and
/// once connected (and at every reconnect) the hub gets the stream from a keyframe with its tables on.
/// </summary>
public sealed class ConnectingOutputTests(ITestOutputHelper output)
{
    private static readonly FeedSpec A = FeedSpec.Numbered(0);

    [Fact]
    public async Task A_bus_mixes_on_while_its_output_connects_to_a_hub_that_does_not_answer_and_publishes_once_it_does()
    {
        await using var h = new MixHarness(output);
        using var door = await StartBehindDoorAsync(h, [Bus("program", 160, 90, At(A.Input, 0, 0, 160, 90))]);

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
        await WaitConnectedAsync(h, "program");
        // The engine's side of the handshake ends before the hub's I/O thread takes the connection on.
        await h.WaitForPublisherAsync($"out/{Project}/program", TimeSpan.FromSeconds(15));
        // What the hub gets decodes from its first packet, on the first connection and on a new one.
        await AssertStartsAtKeyframeAsync(h, "program", 0);
        Assert.True(h.StandIn.KickPublisher($"out/{Project}/program"));
        await AssertStartsAtKeyframeAsync(h, "program", 1);
        var program = h.Read("program");
        await program.WaitForFrameAsync(TimeSpan.FromSeconds(10), _ => true);
    }

    [Fact]
    public async Task A_bus_s_first_connection_announces_its_sound_with_its_picture_from_the_first_packet()
    {
        // Its output connects as the show starts, before the sound has reached the muxer: GStreamer 1.26's muxer,
        // which does not wait for every stream, announced the programme without its sound there (BusBranch).
        var scene = new SceneDefinition { Project = Project, Inputs = [new InputDefinition { Name = A.Input }], Buses = [Bus("program", 160, 90, At(A.Input, 0, 0, 160, 90))] };
        await using var h = await StartShowAsync(output, scene, [A]);
        await AssertStartsAtKeyframeAsync(h, "program", 0);
    }

    [Fact]
    public async Task A_new_connection_asks_its_bus_s_encoder_for_keyframes_and_never_the_muxer()
    {
        // mpegtsmux frees a keyframe request that comes up to it from another thread while its own thread reads the
        // one before (BusBranch.RequestKeyFrame): the requests go to the encoder, which tells the muxer in the stream.
        var scene = new SceneDefinition { Project = Project, Inputs = [new InputDefinition { Name = A.Input }], Buses = [Bus("program", 160, 90, At(A.Input, 0, 0, 160, 90))] };
        await using var h = await StartShowAsync(output, scene, [A]);
        await AssertStartsAtKeyframeAsync(h, "program", 0);
        int atMuxer = 0, atEncoder = 0;
        using var muxer = await h.Mixer!.WatchKeyFrameRequestsAsync("program", atMuxer: true, () => Interlocked.Increment(ref atMuxer));
        using var encoder = await h.Mixer!.WatchKeyFrameRequestsAsync("program", atMuxer: false, () => Interlocked.Increment(ref atEncoder));

        // A new connection asks as it is made, once connected, and a few times in its first 1.5 s.
        Assert.True(h.StandIn.KickPublisher($"out/{Project}/program"));
        await AssertStartsAtKeyframeAsync(h, "program", 1);
        await Task.Delay(TimeSpan.FromSeconds(2));
        output.WriteLine($"keyframe requests: {Volatile.Read(ref atEncoder)} at the encoder, {Volatile.Read(ref atMuxer)} at the muxer");
        Assert.True(Volatile.Read(ref atEncoder) >= 3, $"the encoder was asked for {atEncoder} keyframes");
        Assert.Equal(0, Volatile.Read(ref atMuxer));

        // Then no more: a connected output's stream has a keyframe a GOP, as an encoder left alone makes them (each
        // forced one costs an intra picture's encoding and bits).
        var afterStart = Volatile.Read(ref atEncoder);
        await Task.Delay(TimeSpan.FromSeconds(2.5));
        var later = Volatile.Read(ref atEncoder) - afterStart;
        Assert.True(later == 0, $"the encoder was asked for {later} more keyframes once the output's start was over");
    }

    [Fact]
    public async Task A_bus_rebuilt_while_its_output_connects_is_rebuilt_at_once_and_its_output_then_connects_and_sends()
    {
        await using var h = new MixHarness(output);
        // Retried at once after each 3 s connect timeout, the output is connecting nearly all the time.
        using var door = await StartBehindDoorAsync(h, [Bus("program", 160, 90, At(A.Input, 0, 0, 160, 90)), Bus("aux1", 160, 90, At(A.Input, 0, 0, 160, 90))],
            options => options with
            {
                BusStallTimeout = TimeSpan.FromSeconds(1),
                ReconnectInitialDelay = TimeSpan.FromMilliseconds(1), ReconnectMaxDelay = TimeSpan.FromMilliseconds(2),
            });
        await Task.Delay(TimeSpan.FromSeconds(0.5));

        // The stall watch rebuilds program, whose muxer stops, while its output connects (tried again
        // should the rebuild fall between two attempts, when there is no output to move).
        string? rebuilt = null;
        for (var stall = 0; stall < 3 && rebuilt is null; stall++)
        {
            var seen = h.Log.Lines.Count;
            using (await h.Mixer!.StopMuxerAsync("program"))
            {
                var watch = Stopwatch.StartNew();
                string? line;
                while ((line = h.Log.Lines.Skip(seen).FirstOrDefault(l => l.Contains("bus program: ") && l.Contains("rebuilt"))) is null && watch.Elapsed < TimeSpan.FromSeconds(15))
                    await Task.Delay(50);
                Assert.NotNull(line);
                output.WriteLine($"stall {stall + 1}: {line}");
                if (line.Contains("its SRT output connection kept")) rebuilt = line;
            }
        }
        Assert.NotNull(rebuilt);
        var status = (await h.Mixer!.GetStatusAsync()).Buses["program"];
        Assert.NotEqual(ConnectionState.Connected, status.Output);
        // A render waiting for the handshake would hold the tee pad the rebuild releases, up to 3 s.
        var ms = int.Parse(Regex.Match(rebuilt, @"rebuilt in (\d+) ms").Groups[1].Value);
        Assert.True(ms < 1000, $"the rebuild took {ms} ms");

        door.Open();
        await WaitConnectedAsync(h, "program");
        await AssertStartsAtKeyframeAsync(h, "program", 0);
        await h.Read("program").WaitForFrameAsync(TimeSpan.FromSeconds(10), _ => true);
    }

    /// <summary>
    /// Starts the mixer on <paramref name="buses"/> (of feed A), reaching the hub through a door that swallows every
    /// datagram until opened: each handshake meanwhile waits out libsrt's 3 s connect timeout.
    /// </summary>
    private static async Task<UdpDoor> StartBehindDoorAsync(MixHarness h, BusDefinition[] buses, Func<MixerOptions, MixerOptions>? tweak = null)
    {
        h.StartFeed(A);
        await h.WaitForPublisherAsync($"ingest/{Project}/{A.Input}", TimeSpan.FromSeconds(10));
        var door = new UdpDoor(h.StandIn.Port);
        try
        {
            var options = h.Options();
            options = options with { MediaMtx = options.MediaMtx with { SrtPort = door.Port } };
            await h.StartMixerAsync(new SceneDefinition { Project = Project, Inputs = [new InputDefinition { Name = A.Input }], Buses = buses },
                tweak?.Invoke(options) ?? options);
            return door;
        }
        catch
        {
            door.Dispose();
            throw;
        }
    }

    private async Task WaitConnectedAsync(MixHarness h, string bus)
    {
        var watch = Stopwatch.StartNew();
        BusStatus status;
        do
        {
            await Task.Delay(100);
            status = (await h.Mixer!.GetStatusAsync()).Buses[bus];
        } while (status.Output != ConnectionState.Connected && watch.Elapsed < TimeSpan.FromSeconds(15));
        output.WriteLine($"door open: {status} after {watch.Elapsed.TotalSeconds:F1} s");
        Assert.Equal(ConnectionState.Connected, status.Output);
    }

    /// <summary>
    /// What the hub got first from publisher connection <paramref name="connection"/> of <paramref name="bus"/>,
    /// read as a reader or a recording that takes it from its first packet: the tables, then a keyframe
    /// with its parameter sets, and every picture from there decodes.
    /// </summary>
    private async Task AssertStartsAtKeyframeAsync(MixHarness h, string bus, int connection)
    {
        var path = $"out/{Project}/{bus}";
        var watch = Stopwatch.StartNew();
        byte[] start;
        // About 30 pictures at 600 kb/s.
        while ((start = h.StandIn.PublisherStarts(path).ElementAtOrDefault(connection) ?? []).Length < 48 * 1024 && watch.Elapsed < TimeSpan.FromSeconds(15))
            await Task.Delay(100);
        var report = TsCapture.Read(start);
        output.WriteLine($"{path} connection {connection}: {start.Length} bytes; first PIDs {string.Join(" ", report.FirstPids)} (PMT {report.PmtPid}: {string.Join(" ", report.FirstPmtStreams.Select(t => $"0x{t:X2}"))}); " +
            $"first picture NAL types {string.Join(" ", report.FirstPictureNals)}; {report.VideoPes} pictures, {report.Decoded} decoded");
        Assert.Equal([0, report.PmtPid], report.FirstPids.Take(2));
        // The first PMT lists the sound as well as the picture: readers take it for the stream's tracks (MediaMTX keeps them).
        Assert.True(report.FirstPmtStreams.Count == 2 && report.FirstPmtStreams.Contains(0x1B), $"first PMT lists stream types {string.Join(" ", report.FirstPmtStreams.Select(t => $"0x{t:X2}"))}");
        Assert.Superset(new HashSet<int> { 5, 7, 8 }, report.FirstPictureNals.ToHashSet());
        Assert.True(report.VideoPes >= 10, $"only {report.VideoPes} pictures");
        // The last picture may be cut short by the end of what was kept.
        Assert.InRange(report.Decoded, report.VideoPes - 1, report.VideoPes);
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
