using System.Runtime.InteropServices;
using MixerWorker.Pipeline.Interop;

namespace MixerWorker.Testbed.Audio;

/// <summary>Interleaved float samples as they passed a pad, with when they arrived.</summary>
public sealed record PcmChunk(DateTimeOffset At, ulong? Pts, float[] Samples);

/// <summary>
/// Keeps the last seconds of F32LE interleaved audio seen on one or more pads (a reader reconnecting
/// attaches to each new pipeline), for checks of tone, level and timing.
/// </summary>
public sealed class PcmRecorder(int channels = 2, int rate = 48000, double keepSeconds = 30)
{
    private readonly Lock _lock = new();
    private readonly LinkedList<PcmChunk> _chunks = new();
    private long _samples;

    public int Channels => channels;
    public int Rate => rate;

    /// <summary>Records the buffers crossing <paramref name="pad"/> until the returned probe is disposed.</summary>
    internal IDisposable Attach(Pad pad) => Callbacks.AddProbe(pad, ProbeType.Buffer, info =>
    {
        Take(info);
        return ProbeReturn.Ok;
    });

    private unsafe void Take(ProbeInfo info)
    {
        var buffer = info.Buffer;
        if (buffer == 0) return;
        var map = stackalloc byte[Abi.MapInfoSize];
        if (!Native.gst_buffer_map(buffer, (nint)map, Abi.MapRead)) return;
        float[] samples;
        try
        {
            var size = (int)Abi.Read<nuint>((nint)map, Abi.MapInfoSizeOffset);
            samples = new float[size / sizeof(float)];
            Marshal.Copy(Abi.Read<nint>((nint)map, Abi.MapInfoDataOffset), samples, 0, samples.Length);
        }
        finally { Native.gst_buffer_unmap(buffer, (nint)map); }
        var chunk = new PcmChunk(DateTimeOffset.UtcNow, info.BufferPts, samples);
        lock (_lock)
        {
            _chunks.AddLast(chunk);
            _samples += samples.Length;
            while (_samples > keepSeconds * rate * channels && _chunks.First is { } first)
            {
                _samples -= first.Value.Samples.Length;
                _chunks.RemoveFirst();
            }
        }
    }

    public IReadOnlyList<PcmChunk> Since(DateTimeOffset t)
    {
        lock (_lock) return _chunks.Where(c => c.At >= t).ToList();
    }

    /// <summary>The audio that arrives during the next <paramref name="duration"/>.</summary>
    public async Task<AudioWindow> RecordAsync(TimeSpan duration)
    {
        var from = DateTimeOffset.UtcNow;
        await Task.Delay(duration);
        return Window(Since(from));
    }

    /// <summary>The most recent <paramref name="duration"/> of audio.</summary>
    public AudioWindow Latest(TimeSpan duration)
    {
        var wanted = (long)(duration.TotalSeconds * rate) * channels;
        var taken = new List<PcmChunk>();
        lock (_lock)
        {
            long n = 0;
            for (var c = _chunks.Last; c is not null && n < wanted; c = c.Previous) { taken.Add(c.Value); n += c.Value.Samples.Length; }
        }
        taken.Reverse();
        return Window(taken);
    }

    /// <summary>Waits until the latest <paramref name="window"/> of audio satisfies <paramref name="until"/>.</summary>
    public async Task<AudioWindow> WaitForAsync(TimeSpan timeout, TimeSpan window, Func<AudioWindow, bool> until, string what)
    {
        var deadline = DateTimeOffset.UtcNow + timeout;
        var since = DateTimeOffset.UtcNow;
        AudioWindow? last = null;
        while (DateTimeOffset.UtcNow < deadline)
        {
            await Task.Delay(50);
            if (Since(since).Sum(c => (long)c.Samples.Length) < (long)(window.TotalSeconds * rate) * channels) continue;
            last = Latest(window);
            if (until(last)) return last;
        }
        throw new TimeoutException($"no audio with {what} within {timeout.TotalSeconds:F0} s (last: {last?.ToString() ?? "no audio"})");
    }

    private AudioWindow Window(IReadOnlyList<PcmChunk> chunks) => new(chunks.SelectMany(c => c.Samples).ToArray(), channels, rate);
}
