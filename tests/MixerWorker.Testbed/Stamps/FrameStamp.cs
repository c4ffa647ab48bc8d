namespace MixerWorker.Testbed.Stamps;

/// <summary>
/// What a synthetic feed burns into each picture: the low 8 bits of its frame counter and the low
/// 16 bits of the wall-clock millisecond (Unix time, CLOCK_REALTIME) at which the picture entered its
/// encoder. A reader on the same machine unwraps both against its own clock (<see cref="StampUnwrapper"/>):
/// 16 bits of milliseconds cover 65 s of latency, 8 bits of frames are recovered from the time.
/// </summary>
public readonly record struct FrameStamp(byte Frame, ushort Millis)
{
    public const int Bits = 32;

    public static FrameStamp At(long frameNumber, long unixMillis) => new((byte)frameNumber, (ushort)unixMillis);

    /// <summary>Frame (8 bits), milliseconds (16), then a CRC-8 of both, most significant bit first.</summary>
    public uint Encode()
    {
        var data = ((uint)Frame << 16) | Millis;
        return (data << 8) | Crc8(data);
    }

    /// <summary>The stamp, or null when the check byte does not match (a picture that carries no stamp,
    /// a blend of two stamps during a transition, a cell misread).</summary>
    public static FrameStamp? Decode(uint word)
    {
        var data = word >> 8;
        if ((byte)word != Crc8(data)) return null;
        return new FrameStamp((byte)(data >> 16), (ushort)data);
    }

    // CRC-8/AUTOSAR (poly 0x2F, init and xor-out 0xFF): a picture of one colour (all cells 0 or all 1)
    // never passes, nor does any one- or two-cell misread (the unit tests try them all).
    private static byte Crc8(uint data24)
    {
        var crc = 0xFF;
        for (var i = 23; i >= 0; i--)
        {
            var bit = (int)(data24 >> i) & 1;
            var top = (crc >> 7) & 1;
            crc = (crc << 1) & 0xFF;
            if ((top ^ bit) != 0) crc ^= 0x2F;
        }
        return (byte)(crc ^ 0xFF);
    }
}

/// <summary>
/// Where the stamp lies in a picture, as fractions of its width and height so that it scales with
/// the picture: two rows of 16 cells in the bottom quarter (black = 0, white = 1), above them a white
/// block that slides across in two seconds so a person sees motion and its judder. The rest of the
/// picture stays the feed's solid colour: colour-sampling tests look at box centres and the top.
/// Cells are 1/17 of the width and 1/10 of the height: 6x6 pixels in a 106x60 box (a 3x3 grid of a
/// 320x180 bus), which survives scaling and x264 at the bitrates the tests use.
/// </summary>
public static class StampLayout
{
    public const int Rows = 2, Columns = 16;
    public const double BandTop = 0.70, MotionBottom = 0.76, RowHeight = 0.10, BandBottom = 0.96;
    public const double CellWidth = 1.0 / 17;
    public static readonly TimeSpan SweepTime = TimeSpan.FromSeconds(2);

    /// <summary>Centre of cell (row, column) as fractions of the picture.</summary>
    public static (double X, double Y) CellCentre(int row, int column) =>
        (CellWidth * (column + 1), MotionBottom + RowHeight * (row + 0.5));

    /// <summary>The bit a cell carries: row 0 holds bits 31..16, row 1 bits 15..0.</summary>
    public static int BitIndex(int row, int column) => Bits - 1 - (row * Columns + column);

    private const int Bits = FrameStamp.Bits;
}

/// <summary>Burns stamps into I420 pictures in place (the feed calls it from a pad probe, before the encoder).</summary>
public static class StampWriter
{
    private const byte Black = 16, White = 235, NeutralChroma = 128;

    /// <summary>Default I420 layout (GStreamer's, without video meta): plane strides rounded up to 4.</summary>
    public static int I420Size(int width, int height) =>
        YStride(width) * RoundUp2(height) + 2 * UvStride(width) * (RoundUp2(height) / 2);

    public static void WriteI420(Span<byte> picture, int width, int height, FrameStamp stamp, long frameIndex, int fps)
    {
        if (picture.Length < I420Size(width, height)) throw new ArgumentException($"not an I420 {width}x{height} picture ({picture.Length} bytes)");
        var word = stamp.Encode();
        var ys = YStride(width);
        var uvs = UvStride(width);
        var uOffset = ys * RoundUp2(height);
        var vOffset = uOffset + uvs * (RoundUp2(height) / 2);
        // Even pixel edges, so every 2x2 chroma block lies wholly inside or outside a cell.
        int Ey(double f) => Math.Min(height & ~1, (int)Math.Round(f * height / 2) * 2);
        int Ex(double f) => Math.Min(width & ~1, (int)Math.Round(f * width / 2) * 2);

        var top = Ey(StampLayout.BandTop);
        var bottom = Ey(StampLayout.BandBottom);
        for (var y = top; y < bottom; y++) picture.Slice(y * ys, width).Fill(Black);
        for (var y = top / 2; y < bottom / 2; y++)
        {
            picture.Slice(uOffset + y * uvs, width / 2).Fill(NeutralChroma);
            picture.Slice(vOffset + y * uvs, width / 2).Fill(NeutralChroma);
        }

        // The moving block: one sweep per SweepTime whatever the frame rate.
        var framesPerSweep = Math.Max(1, (int)Math.Round(StampLayout.SweepTime.TotalSeconds * fps));
        var blockWidth = Ex(StampLayout.CellWidth);
        var travel = width - blockWidth;
        var blockX = (int)(travel * (frameIndex % framesPerSweep) / framesPerSweep) & ~1;
        FillY(picture, ys, blockX, blockX + blockWidth, top, Ey(StampLayout.MotionBottom), White);

        for (var row = 0; row < StampLayout.Rows; row++)
            for (var col = 0; col < StampLayout.Columns; col++)
            {
                if (((word >> StampLayout.BitIndex(row, col)) & 1) == 0) continue;
                var x0 = Ex(StampLayout.CellWidth * (col + 0.5));
                var y0 = Ey(StampLayout.MotionBottom + StampLayout.RowHeight * row);
                FillY(picture, ys, x0, Ex(StampLayout.CellWidth * (col + 1.5)), y0, Ey(StampLayout.MotionBottom + StampLayout.RowHeight * (row + 1)), White);
            }
    }

    private static void FillY(Span<byte> picture, int stride, int x0, int x1, int y0, int y1, byte value)
    {
        for (var y = y0; y < y1; y++) picture.Slice(y * stride + x0, x1 - x0).Fill(value);
    }

    internal static int YStride(int width) => (width + 3) & ~3;
    private static int UvStride(int width) => ((RoundUp2(width) / 2) + 3) & ~3;
    private static int RoundUp2(int v) => (v + 1) & ~1;
}

/// <summary>A luma (brightness) plane to read stamps from: the Y plane of a decoded picture, or one computed from RGB.</summary>
public readonly ref struct LumaPlane(ReadOnlySpan<byte> pixels, int width, int height, int stride)
{
    public ReadOnlySpan<byte> Pixels { get; } = pixels;
    public int Width { get; } = width;
    public int Height { get; } = height;
    public int Stride { get; } = stride;

    public byte this[int x, int y] => Pixels[y * Stride + x];
}

/// <summary>A stamp as read from one box of one picture.</summary>
public readonly record struct StampRead(FrameStamp Stamp, int Margin);

/// <summary>Reads the stamp of a picture that was scaled into a rectangle of a bigger one.</summary>
public static class StampReader
{
    private const int Threshold = 128;

    /// <summary>
    /// The stamp of the picture shown in (x, y, width, height) of <paramref name="plane"/>, or null when
    /// the cells do not form a valid stamp. Each cell is the mean of a square in its middle, a third of
    /// the cell's size, so the blur of scaling and compression at cell edges does not count.
    /// </summary>
    public static StampRead? Read(LumaPlane plane, int x, int y, int width, int height)
    {
        if (width < StampLayout.Columns + 1 || height < 10) return null;
        var r = (int)Math.Clamp(Math.Min(width * StampLayout.CellWidth, height * StampLayout.RowHeight) / 6, 0, 4);
        uint word = 0;
        var margin = int.MaxValue;
        for (var row = 0; row < StampLayout.Rows; row++)
            for (var col = 0; col < StampLayout.Columns; col++)
            {
                var (fx, fy) = StampLayout.CellCentre(row, col);
                var cx = x + (int)(fx * width);
                var cy = y + (int)(fy * height);
                var mean = Mean(plane, cx, cy, r);
                if (mean >= Threshold) word |= 1u << StampLayout.BitIndex(row, col);
                margin = Math.Min(margin, Math.Abs(mean - Threshold));
            }
        return FrameStamp.Decode(word) is { } stamp ? new StampRead(stamp, margin) : null;
    }

    private static int Mean(LumaPlane p, int cx, int cy, int r)
    {
        int sum = 0, n = 0;
        for (var yy = Math.Max(0, cy - r); yy <= Math.Min(p.Height - 1, cy + r); yy++)
            for (var xx = Math.Max(0, cx - r); xx <= Math.Min(p.Width - 1, cx + r); xx++)
            {
                sum += p[xx, yy];
                n++;
            }
        return n == 0 ? 0 : sum / n;
    }

    /// <summary>A luma plane computed from packed RGB (BT.601 weights), for pictures the reader kept as RGB.</summary>
    public static byte[] LumaOfRgb(ReadOnlySpan<byte> rgb, int width, int height)
    {
        var luma = new byte[width * height];
        for (var i = 0; i < luma.Length; i++)
            luma[i] = (byte)((rgb[i * 3] * 77 + rgb[i * 3 + 1] * 150 + rgb[i * 3 + 2] * 29) >> 8);
        return luma;
    }
}

/// <summary>The clock stamps are written and read with: wall-clock time, the same for every process on the machine.</summary>
public static class StampClock
{
    public static long UnixMillis() => DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
    public static long UnixMicros() => (DateTime.UtcNow.Ticks - DateTime.UnixEpoch.Ticks) / 10;
}
