using MixerWorker.Pipeline.Interop;

namespace MixerWorker.Pipeline.Builders;

/// <summary>
/// Groups a bus muxer's output into SRT messages (srtsink sends each buffer as one): up to 7 TS
/// packets (1316 bytes, MediaMTX's payload size) each. The muxer hands out what it wrote for each
/// picture or block of sound at once (alignment 0), so a picture goes whole, its last group short;
/// holding it until a group filled (the muxer's own alignment) kept about 30 ms of every picture back.
/// Sound alone, a few packets every 20 ms, waits for whatever the muxer writes next (the next block of
/// sound or a picture, at most one block later) and goes out in the same messages: every SRT sender
/// then sends about one in three fewer messages, and no picture waits.
/// </summary>
/// <remarks>The muxer's streaming thread; <see cref="Dispose"/> once the bus has stopped.</remarks>
internal sealed class MuxMessages : IDisposable
{
    internal const int TsPacketsPerMessage = 7;
    private const int TsPacket = 188;
    private static readonly Func<ReadOnlySpan<byte>, bool> s_startsPicture = StartsPicture;
    private KeptBuffers? _sound;
    private long _pictures;

    /// <summary>Pictures the muxer has written so far (video PES starts): what the bus's stall watch reads. Any thread.</summary>
    internal long Pictures => Interlocked.Read(ref _pictures);

    /// <summary>A probe on the muxer's source pad, for buffer lists.</summary>
    internal ProbeReturn OnOutput(ProbeInfo info)
    {
        var picture = info.AnyBytes(s_startsPicture);
        if (picture) Interlocked.Increment(ref _pictures);
        if (_sound is null && !picture)
        {
            _sound = info.KeepBufferList();
            return _sound is null ? ProbeReturn.Ok : ProbeReturn.Drop;
        }
        info.JoinBufferList(TsPacketsPerMessage, _sound);
        _sound?.Dispose();
        _sound = null;
        return ProbeReturn.Ok;
    }

    // Whether a video PES starts in these TS packets (the muxer writes one per picture).
    private static bool StartsPicture(ReadOnlySpan<byte> ts)
    {
        for (var i = 0; i + TsPacket <= ts.Length; i += TsPacket)
            if (OutputLateness.VideoPesPts(ts.Slice(i, TsPacket)) is not null) return true;
        return false;
    }

    public void Dispose()
    {
        _sound?.Dispose();
        _sound = null;
    }
}
