using MixerWorker.Pipeline.Interop;

namespace MixerWorker.Testbed.Stamps;

/// <summary>
/// A pad probe on raw I420 pictures (before the encoder) that burns each one's stamp in place; the
/// capture time is taken when the picture passes. Interlaced frames are woven from two pictures,
/// which both carry the frame's stamp. A feed written to a file (<see cref="Feeds.SyntheticFeed.WriteFile"/>)
/// is encoded faster than real time and sent later: its capture time is <paramref name="ptsBaseMillis"/> plus the
/// picture's PTS, so the stamps' times advance one frame interval per frame, as a live feed's do.
/// </summary>
internal sealed class StampBurner(int width, int height, int fps, bool interlaced, long? ptsBaseMillis = null)
{
    private long _pictures;
    private FrameStamp _stamp;

    internal static ProbeHandle Attach(Pad rawPictures, int width, int height, int fps, bool interlaced = false, long? ptsBaseMillis = null) =>
        Callbacks.AddProbe(rawPictures, ProbeType.Buffer, new StampBurner(width, height, fps, interlaced, ptsBaseMillis).OnPicture);

    private ProbeReturn OnPicture(ProbeInfo info)
    {
        var picture = _pictures++;
        var frame = interlaced ? picture / 2 : picture;
        if (!interlaced || picture % 2 == 0)
            _stamp = FrameStamp.At(frame, ptsBaseMillis is { } zero ? zero + (long)(info.BufferPts ?? 0) / 1_000_000 : StampClock.UnixMillis());
        var stamp = _stamp;
        WithWritableData(info, span => StampWriter.WriteI420(span, width, height, stamp, frame, fps));
        return ProbeReturn.Ok;
    }

    /// <summary>The stamps of <paramref name="boxes"/> in a decoded I420 picture (default layout), or null if the buffer is not one.</summary>
    internal static unsafe StampRead?[]? ReadBoxes(nint buffer, int width, int height, IReadOnlyList<StampBox> boxes)
    {
        var map = stackalloc byte[Abi.MapInfoSize];
        if (!Native.gst_buffer_map(buffer, (nint)map, Abi.MapRead)) return null;
        try
        {
            var size = (int)Abi.Read<nuint>((nint)map, Abi.MapInfoSizeOffset);
            if (size < StampWriter.I420Size(width, height)) return null;
            var luma = new LumaPlane(new ReadOnlySpan<byte>((void*)Abi.Read<nint>((nint)map, Abi.MapInfoDataOffset), size), width, height, StampWriter.YStride(width));
            var reads = new StampRead?[boxes.Count];
            for (var i = 0; i < reads.Length; i++) reads[i] = StampReader.Read(luma, boxes[i].X, boxes[i].Y, boxes[i].Width, boxes[i].Height);
            return reads;
        }
        finally { Native.gst_buffer_unmap(buffer, (nint)map); }
    }

    internal delegate void SpanAction(Span<byte> data);

    /// <summary>Maps the probe's buffer, made writable first, for a change in place.</summary>
    internal static unsafe void WithWritableData(ProbeInfo info, SpanAction action)
    {
        var buffer = info.WritableBuffer();
        if (buffer == 0) return;
        var map = stackalloc byte[Abi.MapInfoSize];
        if (!Native.gst_buffer_map(buffer, (nint)map, Abi.MapRead | Abi.MapWrite)) return;
        try
        {
            var data = Abi.Read<nint>((nint)map, Abi.MapInfoDataOffset);
            var size = (int)Abi.Read<nuint>((nint)map, Abi.MapInfoSizeOffset);
            action(new Span<byte>((void*)data, size));
        }
        finally { Native.gst_buffer_unmap(buffer, (nint)map); }
    }
}
