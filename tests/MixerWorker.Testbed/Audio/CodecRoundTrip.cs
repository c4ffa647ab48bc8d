using System.Diagnostics;
using System.Runtime.InteropServices;
using MixerWorker.Pipeline.Builders;
using MixerWorker.Pipeline.Scene;

namespace MixerWorker.Testbed.Audio;

/// <summary>
/// Sound through a bus's encoder, at the bus's settings, and back through a decoder, offline: what a
/// viewer's player rebuilds from what the bus's limiter let through.
/// </summary>
public static class CodecRoundTrip
{
    private const int Rate = 48000, Channels = 2;

    /// <param name="interleaved">48 kHz stereo float, as the bus's limiter leaves it.</param>
    public static AudioWindow ThroughBusEncoder(float[] interleaved, OutputFormat format)
    {
        using var p = new StandalonePipeline();
        var src = p.Add("appsrc", null, ("caps", $"audio/x-raw,format=F32LE,rate={Rate},channels={Channels},layout=interleaved"),
            ("format", "time"));
        var toEncoder = p.Add("audioconvert"); // as in the bus: the encoders take integer samples
        var encoder = p.Add(BusAudio.Encoder("roundtrip.aenc", format));
        var decoder = format.AudioCodec == AudioCodec.Aac ? p.Add("avdec_aac") : p.Add("opusdec");
        var convert = p.Add("audioconvert");
        var caps = p.Add("capsfilter", null, ("caps", $"audio/x-raw,format=F32LE,rate={Rate},channels={Channels}"));
        var sink = p.Add("appsink", null, ("sync", false));
        p.AddChain(src, toEncoder, encoder, decoder, convert, caps, sink);
        p.Play();
        // In the mix's blocks (one Opus frame), stamped as the mix stamps them.
        var block = (int)(Rate * BusAudio.Block.TotalSeconds) * Channels;
        for (var at = 0; at < interleaved.Length; at += block)
        {
            var samples = interleaved.AsSpan(at, Math.Min(block, interleaved.Length - at));
            src.PushBuffer(MemoryMarshal.AsBytes(samples), (ulong)at / Channels * 1_000_000_000UL / Rate);
        }
        src.EndOfStream();
        var decoded = new List<float>(interleaved.Length);
        var clock = Stopwatch.StartNew();
        while (true)
        {
            // Read before pulling: once the end of stream is in, everything before it is in the sink.
            var ended = p.Errors;
            while (sink.TryPullSampleData() is { } data) decoded.AddRange(MemoryMarshal.Cast<byte, float>(data));
            if (ended.Any(e => e != "end of stream")) throw new InvalidOperationException("round trip failed: " + string.Join("; ", ended));
            if (ended.Count > 0) break;
            if (clock.Elapsed > TimeSpan.FromSeconds(10)) throw new TimeoutException("the round trip did not end within 10 s");
            Thread.Sleep(5);
        }
        return new AudioWindow([.. decoded], Channels, Rate);
    }
}
