using System.Diagnostics;
using MixerWorker.Pipeline.Interop;
using MixerWorker.Testbed.Feeds;

namespace MixerWorker.Testbed.Reading;

/// <summary>What a reader received of an MPEG-TS stream, read packet by packet and decoded as a viewer would.</summary>
/// <param name="FirstPids">The PIDs of the first packets, in order of arrival.</param>
/// <param name="VideoPes">H.264 pictures that began (PES starts on the video PID).</param>
/// <param name="FirstPictureNals">The NAL unit types of the first picture received.</param>
/// <param name="Decoded">Pictures the decoder made of the whole capture.</param>
/// <param name="FirstPmtStreams">The stream types the first PMT lists (H.264 0x1B; Opus and AAC are 0x06 and 0x0F).</param>
public sealed record TsCaptureReport(IReadOnlyList<int> FirstPids, int PmtPid, int VideoPes, IReadOnlyList<int> FirstPictureNals, int Decoded, IReadOnlyList<int> FirstPmtStreams);

/// <summary>Reads a raw TS capture (what an SRT reader received, messages concatenated). Test tool.</summary>
public static class TsCapture
{
    public static TsCaptureReport Read(byte[] ts)
    {
        int pmtPid = -1, videoPid = -1, videoPes = 0, firstPicturePid = -1;
        IReadOnlyList<int> firstPmtStreams = [];
        var firstPids = new List<int>();
        // The first picture's PES, whole: an encoder's first keyframe can carry a long SEI before its slice.
        var firstPicture = new List<byte>();
        for (var i = 0; i + TsPacket.Size <= ts.Length; i += TsPacket.Size)
        {
            var p = ts.AsSpan(i, TsPacket.Size);
            var pid = TsPacket.Pid(p);
            if (firstPids.Count < 4) firstPids.Add(pid);
            if (videoPes == 1 && pid == firstPicturePid && !TsPacket.Pusi(p) && TsPacket.HasPayload(p)) firstPicture.AddRange(p[TsPacket.PayloadStart(p)..]);
            if (!TsPacket.Pusi(p) || !TsPacket.HasPayload(p)) continue;
            if (pid == 0 && pmtPid < 0) pmtPid = TsTables.Section(p, TsTables.PatTableId) is { } pat ? TsTables.PmtPid(pat) ?? -1 : -1;
            else if (pid == pmtPid && videoPid < 0 && TsTables.Section(p, TsTables.PmtTableId) is { } pmt)
            {
                firstPmtStreams = TsTables.StreamTypes(pmt);
                videoPid = TsTables.VideoStream(pmt) is { H265: false } v ? v.Pid : -1;
            }
            else if (pid == videoPid || (videoPid < 0 && TsPacket.IsVideoPes(p)))
            {
                videoPes++;
                if (videoPes != 1) continue;
                firstPicturePid = pid;
                firstPicture.AddRange(p[TsPacket.PayloadStart(p)..]);
            }
        }
        return new TsCaptureReport(firstPids, pmtPid, videoPes, NalTypes([.. firstPicture]), Decode(ts), firstPmtStreams);
    }

    private static List<int> NalTypes(ReadOnlySpan<byte> pes)
    {
        var types = new List<int>();
        if (pes.Length < 9) return types;
        for (var i = 9 + pes[8]; i + 3 < pes.Length; i++)
            if (pes[i] == 0 && pes[i + 1] == 0 && pes[i + 2] == 1) types.Add(pes[i + 3] & 0x1F);
        return types;
    }

    // tsdemux → h264parse → avdec_h264, as OutputReader decodes; counts the pictures that come out.
    private static int Decode(byte[] ts)
    {
        using var p = new StandalonePipeline();
        var src = p.Add("appsrc", null, ("caps", "video/mpegts,systemstream=true,packetsize=188"), ("format", "bytes"));
        var demux = p.Add("tsdemux");
        var parse = p.Add("h264parse");
        var dec = p.Add("avdec_h264");
        var sink = p.Add("appsink", null, ("sync", false), ("max-buffers", 0));
        src.Link(demux);
        p.AddChain(parse, dec, sink);
        Callbacks.ConnectPadAdded(demux, pad =>
        {
            if (pad.QueryMediaType() != "video/x-h264") return;
            using var sinkPad = parse.StaticPad("sink");
            pad.Link(sinkPad);
        });
        p.Play();
        src.PushBuffer(ts);
        src.EndOfStream();
        var decoded = 0;
        var clock = Stopwatch.StartNew();
        while (!p.Failed && clock.Elapsed < TimeSpan.FromSeconds(10))
        {
            if (sink.TryPullSampleData() is not null) decoded++;
            else Thread.Sleep(5);
        }
        while (sink.TryPullSampleData() is not null) decoded++;
        return decoded;
    }
}
