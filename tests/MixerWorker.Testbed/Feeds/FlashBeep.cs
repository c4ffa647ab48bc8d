using System.Runtime.InteropServices;
using MixerWorker.Pipeline.Interop;
using MixerWorker.Testbed.Stamps;

namespace MixerWorker.Testbed.Feeds;

/// <summary>
/// An audio-sync marker burnt into a feed: every <c>every</c>, the first picture at or after a whole
/// multiple of it turns white above the stamp area, and a 1 kHz beep of <see cref="BeepLength"/>
/// starts at that very picture's timestamp; the sound is silent otherwise. A reader finds both in a
/// bus's output and measures how far apart they arrive (<see cref="Sync"/>). Two pad probes on the raw
/// picture and the raw sound (S16LE) before their encoders; both sources share the feed's clock, so
/// the picture probe tells the sound probe only where its frames fall (the first picture's time).
/// </summary>
internal sealed class FlashBeep(TimeSpan every, int width, int height, int fps, int rate, int channels)
{
    internal static readonly TimeSpan BeepLength = TimeSpan.FromMilliseconds(100);
    private const double BeepHz = 1000, BeepAmplitude = 0.5;
    private readonly long _everyNs = every.Ticks * 100;
    private readonly double _frameNs = 1e9 / fps;
    private long _firstPicture = -1;

    internal ProbeReturn OnPicture(ProbeInfo info)
    {
        if (info.BufferPts is not { } pts) return ProbeReturn.Ok;
        if (Interlocked.Read(ref _firstPicture) < 0) Interlocked.Exchange(ref _firstPicture, (long)pts);
        if (!IsFlash((long)pts)) return ProbeReturn.Ok;
        StampBurner.WithWritableData(info, span =>
        {
            // White above the stamp area: luma 235, neutral chroma.
            var rows = height * 6 / 10 & ~1;
            span[..(width * rows)].Fill(235);
            var chroma = width / 2 * (height / 2);
            span.Slice(width * height, width / 2 * (rows / 2)).Fill(128);
            span.Slice(width * height + chroma, width / 2 * (rows / 2)).Fill(128);
        });
        return ProbeReturn.Ok;
    }

    // The first picture at or after the start of a period.
    private bool IsFlash(long pts) => pts % _everyNs < _frameNs;

    // Where the flash picture of the period that starts at or before t lies: the first picture at or after the period's start.
    private long FlashAt(long t, long first)
    {
        var period = t / _everyNs * _everyNs;
        return first + (long)(Math.Ceiling((period - first) / _frameNs) * _frameNs);
    }

    internal ProbeReturn OnSound(ProbeInfo info)
    {
        if (info.BufferPts is not { } pts) return ProbeReturn.Ok;
        var first = Interlocked.Read(ref _firstPicture);
        StampBurner.WithWritableData(info, span =>
        {
            var samples = MemoryMarshal.Cast<byte, short>(span);
            var beepNs = BeepLength.Ticks * 100;
            for (var i = 0; i < samples.Length / channels; i++)
            {
                var t = (long)pts + (long)(i * 1e9 / rate);
                short value = 0;
                if (first >= 0 && FlashAt(t, first) is var start && t >= start && t < start + beepNs)
                    value = (short)(BeepAmplitude * short.MaxValue * Math.Sin(2 * Math.PI * BeepHz * (t - start) / 1e9));
                for (var c = 0; c < channels; c++) samples[i * channels + c] = value;
            }
        });
        return ProbeReturn.Ok;
    }
}
