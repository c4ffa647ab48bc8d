using System.Globalization;
using MixerWorker.Testbed.Feeds;
using MixerWorker.Testbed.Stamps;
using static MixerWorker.Testbed.StandIn.SrtNative;

namespace MixerWorker.Testbed.StandIn;

/// <summary>
/// What the stand-in saw of each connection's timing, for a bench to split a path's delay into its SRT hops
/// (bench/srt-hops.py). Lines, times in Unix µs:
/// <c>pic PATH PTS90K AT</c>: a publisher's picture PES began to arrive (left the stand-in's SRT receiver, which is when
/// it is relayed to the readers);
/// <c>conn PATH publish|read ASKED ACCEPTED</c>: a handshake's streamid check and its hand-over to the router;
/// <c>srt AT PATH publish|read RCVBUF_MS RCVBUF_PKT SNDBUF_MS SNDBUF_PKT RTT_MS RCVDROP SNDDROP</c>, every second: libsrt's
/// instantaneous buffer figures. A receiver holds each packet until its send time on the receiver's time base plus
/// the latency, so RCVBUF_MS is about the latency plus how late that time base was set (its handshake handled late).
/// Written by the stand-in's I/O thread only.
/// </summary>
internal sealed unsafe class StandInTrace(string path) : IDisposable
{
    private readonly StreamWriter _out = new(path, append: false) { AutoFlush = false };
    private long _nextStatsUs;

    internal void Pictures(string streamPath, ReadOnlySpan<byte> message)
    {
        long? now = null;
        for (var i = 0; i + TsPacket.Size <= message.Length; i += TsPacket.Size)
        {
            var p = message.Slice(i, TsPacket.Size);
            if (p[0] != TsPacket.Sync || !TsPacket.IsVideoPes(p) || TsPacket.PesTimestampOffsets(p) is not { Pts: >= 0 and var at }) continue;
            now ??= StampClock.UnixMicros();
            _out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"pic {streamPath} {TsPacket.ReadTimestamp(p[at..])} {now}"));
        }
    }

    internal void Accepted(string streamPath, bool publisher, DateTimeOffset asked) =>
        _out.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"conn {streamPath} {(publisher ? "publish" : "read")} {(asked - DateTimeOffset.UnixEpoch).Ticks / 10} {StampClock.UnixMicros()}"));

    /// <summary>Whether a second has passed since the last <see cref="Stats"/>: the caller gathers the connections only then.</summary>
    internal bool StatsDue() => StampClock.UnixMicros() >= _nextStatsUs;

    /// <summary>Every connection's buffer figures; called once a second (<see cref="StatsDue"/>).</summary>
    internal void Stats(IEnumerable<(int Socket, string Path, bool Publisher)> connections)
    {
        var now = StampClock.UnixMicros();
        _nextStatsUs = now + 1_000_000;
        var perf = stackalloc byte[TraceBStatsSize];
        foreach (var (socket, streamPath, publisher) in connections)
        {
            if (srt_bistats(socket, perf, 0, 1) == SRT_ERROR) continue;
            int I(int offset) => *(int*)(perf + offset);
            _out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"srt {now} {streamPath} {(publisher ? "publish" : "read")} {I(388)} {I(380)} {I(372)} {I(364)} {*(double*)(perf + 328):0.###} {I(68)} {I(64)}"));
        }
        _out.Flush();
    }

    public void Dispose() => _out.Dispose();
}
