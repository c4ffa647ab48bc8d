using MixerWorker.Pipeline.Scene;
using MixerWorker.Pipeline.Srt;
using MixerWorker.Testbed.Feeds;
using MixerWorker.Testbed.Imaging;
using Xunit;
using Xunit.Abstractions;
using static MixerWorker.Pipeline.Tests.Integration.MixHarness;

namespace MixerWorker.Pipeline.Tests.Integration;

/// <summary>
/// Every output of the engine on one local port, so on one libsrt multiplexer (SharedSrtPort): the hub
/// sees them from one address and port, tells them apart by socket id, and one that fails and
/// reconnects leaves the others be. Each input keeps a port (and a kernel receive buffer) of its own.
/// </summary>
public sealed class SharedSrtPortTests(ITestOutputHelper output)
{
    private static readonly FeedSpec A = FeedSpec.Numbered(0), B = FeedSpec.Numbered(1);
    private static readonly string[] BusNames = ["program", "aux1", "aux2"];

    private static SceneDefinition ThreeBuses => new()
    {
        Project = Project,
        Inputs = [new InputDefinition { Name = A.Input }, new InputDefinition { Name = B.Input }],
        Buses = [.. BusNames.Select((name, i) => Bus(name, 160, 90, At(i == 1 ? B.Input : A.Input, 0, 0, 160, 90)))],
    };

    [Theory]
    [InlineData("10.0.0.7", "10.0.0.7")]
    [InlineData("localhost", "127.0.0.1")]
    [InlineData("::1", null)]              // IPv6: srtsink could not bind the wildcard alike
    [InlineData("no-such-host.invalid", null)] // srtsink resolves it again and reports the failure itself
    public void The_hub_is_called_at_an_IPv4_address_or_the_output_binds_nothing(string host, string? expected) =>
        Assert.Equal(expected, SharedSrtPort.IPv4Of(host)?.ToString());

    private static string Out(string bus) => $"out/{Project}/{bus}";

    private static async Task WaitForOutputsAsync(MixHarness h)
    {
        foreach (var bus in BusNames) await h.WaitForPublisherAsync(Out(bus), TimeSpan.FromSeconds(15));
    }

    [Fact]
    public async Task Every_output_calls_from_the_one_shared_port_each_input_from_its_own_and_each_bus_still_reaches_its_viewers()
    {
        // By name, as in a deployment: srtsink is given the address the worker resolved.
        await using var h = await MixHarness.StartShowAsync(output, ThreeBuses, [A, B],
            h => h.Options() is var o ? o with { MediaMtx = o.MediaMtx with { Host = "localhost" } } : null!);
        await WaitForOutputsAsync(h);
        var readers = BusNames.Select(b => (Bus: b, Reader: h.Read(b))).ToArray();
        foreach (var (bus, reader) in readers)
        {
            var rgb = bus == "aux1" ? B.Rgb : A.Rgb;
            await reader.WaitForFrameAsync(TimeSpan.FromSeconds(15), f => Colors.Near(f.ColorAt(80, 45), rgb));
        }

        var shared = SharedSrtPort.Port;
        Assert.NotNull(shared);
        var expected = $"127.0.0.1:{shared}";
        var outputs = BusNames.Select(b => h.StandIn.Publishers(Out(b)).Last().Remote).ToArray();
        var inputs = new[] { A, B }.Select(f => h.StandIn.Attempts().Last(a => a.Action == "read" && a.Path == $"ingest/{Project}/{f.Input}").Remote).ToArray();
        output.WriteLine($"shared port {shared}; outputs from {string.Join(", ", outputs)}; inputs from {string.Join(", ", inputs)}");
        Assert.All(outputs, remote => Assert.Equal(expected, remote));
        Assert.All(inputs, remote => Assert.NotEqual(expected, remote));
        Assert.Equal(inputs.Length, inputs.Distinct().Count());
    }

    [Fact]
    public async Task An_output_dropped_again_and_again_reconnects_on_the_shared_port_and_the_others_keep_publishing()
    {
        await using var h = await MixHarness.StartShowAsync(output, ThreeBuses, [A, B]);
        await WaitForOutputsAsync(h);
        var program = h.Read("program");
        await program.WaitForFrameAsync(TimeSpan.FromSeconds(15), f => Colors.Near(f.ColorAt(80, 45), A.Rgb));
        var aux2 = h.Read("aux2");
        await aux2.WaitForFrameAsync(TimeSpan.FromSeconds(15), f => Colors.Near(f.ColorAt(80, 45), A.Rgb));
        program.ResetCounters();
        aux2.ResetCounters();

        const int Drops = 3;
        for (var i = 1; i <= Drops; i++)
        {
            Assert.True(h.StandIn.KickPublisher(Out("aux1")), "aux1 had a publisher to drop");
            var deadline = DateTime.UtcNow.AddSeconds(10);
            while (h.StandIn.Publishers(Out("aux1")) is var sessions && !(sessions.Count > i && sessions[^1].Ended is null))
            {
                Assert.True(DateTime.UtcNow < deadline, $"aux1 did not reconnect after drop {i}");
                await Task.Delay(50);
            }
        }
        await Task.Delay(1500);

        var shared = $"127.0.0.1:{SharedSrtPort.Port}";
        var aux1 = h.StandIn.Publishers(Out("aux1"));
        output.WriteLine(string.Join(Environment.NewLine, aux1));
        Assert.Equal(Drops + 1, aux1.Count);
        Assert.All(aux1, session => Assert.Equal(shared, session.Remote));
        foreach (var (bus, reader) in new[] { ("program", program), ("aux2", aux2) })
        {
            var sessions = h.StandIn.Publishers(Out(bus));
            var stats = reader.Stats;
            output.WriteLine($"{bus}: {sessions.Count} publisher(s); reader {stats}");
            // Never dropped, never reconnected: the same publisher and the same viewer connection throughout.
            var only = Assert.Single(sessions);
            Assert.Null(only.Ended);
            Assert.Equal(shared, only.Remote);
            Assert.True(reader.Connections == 1, reader.ConnectionReport);
            Assert.True(stats.Frames >= 30, $"{bus} kept sending: {stats.Frames} frames while aux1 was dropped {Drops} times");
            Assert.InRange(stats.MaxFrameGapMs, 1, 500);
        }
    }
}
