using System.Globalization;
using System.Runtime.Intrinsics;
using System.Text.RegularExpressions;
using MixerWorker.Pipeline.Interop;

namespace MixerWorker.Pipeline.Builders;

/// <summary>
/// Brings a scaled picture into the mix's colour (<see cref="ElementFactory.MixColour"/>) where the one
/// conversion a camera needs is BT.601 to BT.709 (an SD camera's 8-bit I420): GStreamer's converter does it
/// through its generic path, line by line and pixel by pixel, about 270 µs for a 320x180 box, ten times the
/// scaling; done here on whole planes it is a fraction of that. A source is labelled in the mix's colour before
/// it is scaled (<see cref="Relabel"/>), so the converter after the scaler passes it untouched, and the scaled
/// picture is converted here (<see cref="Bt601ToBt709"/>). Any other colour or format is left to the converter.
/// </summary>
internal static class MixColourConversion
{
    // BT.601 and BT.709 differ in their luma weights only (both limited range: luma 16–235, chroma 16–240), so the
    // conversion is one matrix on luma and the centred chroma: luma gains a term of the chroma, chroma mixes with itself.
    // Computed as GStreamer's converter computes it (its 8-bit matrix: coefficients in 1/256 steps, each term of a
    // centred sample spread to 16 bits and floored on its own), so a box has the same values whichever converts it.
    private static readonly double[,] Matrix = Bt601ToBt709Matrix();
    private static readonly int YFromU = Fixed(Matrix[0, 1]), YFromV = Fixed(Matrix[0, 2]);
    private static readonly int UFromU = Fixed(Matrix[1, 1]), UFromV = Fixed(Matrix[1, 2]);
    private static readonly int VFromU = Fixed(Matrix[2, 1]), VFromV = Fixed(Matrix[2, 2]);

    private static int Fixed(double c) => (int)Math.Round(c * 256);

    // A centred sample (−128..127) times a coefficient: the sample as 16 bits (its byte twice), the product's top half.
    private static int Term(int centred, int coefficient) => (((centred << 8) + (centred & 0xFF)) * coefficient) >> 16;

    /// <summary>
    /// The matrix from BT.601 to BT.709 Y'CbCr on (Y − 16, Cb − 128, Cr − 128): RGB from BT.601's weights,
    /// then BT.709's; luma is scaled to 219 steps and chroma to 224 in both.
    /// </summary>
    internal static double[,] Bt601ToBt709Matrix()
    {
        var from = YCbCrFromRgb(0.299, 0.114);
        var to = YCbCrFromRgb(0.2126, 0.0722);
        var m = Multiply(to, Invert(from));
        double[] scale = [219, 224, 224];
        var result = new double[3, 3];
        for (var r = 0; r < 3; r++)
            for (var c = 0; c < 3; c++) result[r, c] = m[r, c] * scale[r] / scale[c];
        return result;
    }

    private static double[,] YCbCrFromRgb(double kr, double kb)
    {
        var kg = 1 - kr - kb;
        return new[,]
        {
            { kr, kg, kb },
            { -kr / (2 * (1 - kb)), -kg / (2 * (1 - kb)), 0.5 },
            { 0.5, -kg / (2 * (1 - kr)), -kb / (2 * (1 - kr)) },
        };
    }

    private static double[,] Multiply(double[,] a, double[,] b)
    {
        var m = new double[3, 3];
        for (var r = 0; r < 3; r++)
            for (var c = 0; c < 3; c++)
                for (var k = 0; k < 3; k++) m[r, c] += a[r, k] * b[k, c];
        return m;
    }

    private static double[,] Invert(double[,] a)
    {
        var det = a[0, 0] * (a[1, 1] * a[2, 2] - a[1, 2] * a[2, 1]) - a[0, 1] * (a[1, 0] * a[2, 2] - a[1, 2] * a[2, 0])
            + a[0, 2] * (a[1, 0] * a[2, 1] - a[1, 1] * a[2, 0]);
        var m = new double[3, 3];
        for (var r = 0; r < 3; r++)
            for (var c = 0; c < 3; c++)
            {
                int r1 = (c + 1) % 3, r2 = (c + 2) % 3, c1 = (r + 1) % 3, c2 = (r + 2) % 3;
                m[r, c] = (a[r1, c1] * a[r2, c2] - a[r1, c2] * a[r2, c1]) / det;
            }
        return m;
    }

    /// <summary>What becomes of a source's picture on its way into the mix.</summary>
    /// <param name="Caps">The caps the scaler is given: the source's, labelled in the mix's colour.</param>
    /// <param name="Convert">Whether the scaled pictures must be converted from BT.601 (<see cref="Bt601ToBt709"/>).</param>
    internal readonly record struct Plan(string Caps, bool Convert);

    /// <summary>
    /// For a source's raw video caps: the caps to scale it in, labelled in the mix's colour (BT.709, chroma sited
    /// as mpeg2), and whether its pictures need converting from BT.601 after scaling; null for a source this does
    /// not take (not I420, or in a colour other than BT.601 or BT.709), which the converter after the scaler handles.
    /// Caps without a colorimetry are read as GStreamer reads them at the source's size (above 576 rows BT.709, else
    /// BT.601): left unnamed, the scaled picture would be read at the box's size, and a 720p source in a 320x180 box
    /// converted as if it were BT.601. The chroma siting is not resampled (a quarter-pixel move of the colour planes at
    /// the box's size); converting it was half of the converter's work on an SD camera's pictures.
    /// </summary>
    internal static Plan? Relabel(string caps)
    {
        if (!caps.StartsWith("video/x-raw", StringComparison.Ordinal) || Field(caps, "format") != "I420" || caps.Contains(';')) return null;
        var colorimetry = Field(caps, "colorimetry");
        if (colorimetry is null)
        {
            if (!int.TryParse(Field(caps, "height", "int"), NumberStyles.None, CultureInfo.InvariantCulture, out var height)) return null;
            colorimetry = height > 576 ? "bt709" : "bt601";
        }
        if (colorimetry is not ("bt601" or "bt709")) return null;
        var labelled = WithField(WithField(caps, "colorimetry", "bt709"), "chroma-site", "mpeg2");
        return new(labelled, colorimetry == "bt601");
    }

    private static string? Field(string caps, string name, string type = "string") =>
        Regex.Match(caps, $@"(?:^|[ ,]){Regex.Escape(name)}=\({type}\)([^,;]+)") is { Success: true } m ? m.Groups[1].Value.Trim('"') : null;

    private static string WithField(string caps, string name, string value)
    {
        var pattern = new Regex($@"(?<=^|[ ,]){Regex.Escape(name)}=\(string\)[^,;]+");
        return pattern.IsMatch(caps) ? pattern.Replace(caps, $"{name}=(string){value}", 1) : $"{caps}, {name}=(string){value}";
    }

    /// <summary>
    /// Converts an 8-bit I420 picture from BT.601 to BT.709 in place. Each chroma sample is converted, and the luma
    /// of the (up to) four pixels it covers gains the same chroma term, as GStreamer's converter does with its chroma
    /// left unresampled.
    /// </summary>
    internal static void Bt601ToBt709(Span<byte> picture, I420Planes planes, int width, int height)
    {
        int chromaWidth = (width + 1) / 2, chromaHeight = (height + 1) / 2;
        for (var row = 0; row < chromaHeight; row++)
        {
            var u = picture.Slice(planes.UOffset + row * planes.UStride, chromaWidth);
            var v = picture.Slice(planes.VOffset + row * planes.VStride, chromaWidth);
            var top = picture.Slice(planes.YOffset + 2 * row * planes.YStride, width);
            var bottom = 2 * row + 1 < height ? picture.Slice(planes.YOffset + (2 * row + 1) * planes.YStride, width) : Span<byte>.Empty;
            ConvertRow(u, v, top, bottom, width);
        }
    }

    // One chroma row and the one or two luma rows it covers.
    private static void ConvertRow(Span<byte> u, Span<byte> v, Span<byte> top, Span<byte> bottom, int width)
    {
        var i = 0;
        if (Vector128.IsHardwareAccelerated)
            // 16 chroma samples and 32 luma pixels a row at a time, while both rows hold them.
            for (; i + 16 <= u.Length && 2 * i + 32 <= width; i += 16)
                ConvertBlock(u.Slice(i, 16), v.Slice(i, 16), top.Slice(2 * i, 32), bottom.IsEmpty ? bottom : bottom.Slice(2 * i, 32));
        for (; i < u.Length; i++)
        {
            int cu = u[i] - 128, cv = v[i] - 128;
            var dy = Term(cu, YFromU) + Term(cv, YFromV);
            u[i] = Clamp(128 + Term(cu, UFromU) + Term(cv, UFromV));
            v[i] = Clamp(128 + Term(cu, VFromU) + Term(cv, VFromV));
            for (var x = 2 * i; x < Math.Min(2 * i + 2, width); x++)
            {
                top[x] = Clamp(top[x] + dy);
                if (!bottom.IsEmpty) bottom[x] = Clamp(bottom[x] + dy);
            }
        }
    }

    private static byte Clamp(int value) => (byte)Math.Clamp(value, 0, 255);

    private static void ConvertBlock(Span<byte> u, Span<byte> v, Span<byte> top, Span<byte> bottom)
    {
        var (u0, u1, u2, u3) = Spread(Vector128.Create((ReadOnlySpan<byte>)u));
        var (v0, v1, v2, v3) = Spread(Vector128.Create((ReadOnlySpan<byte>)v));
        Narrow(NewU(u0, v0), NewU(u1, v1), NewU(u2, v2), NewU(u3, v3)).CopyTo(u);
        Narrow(NewV(u0, v0), NewV(u1, v1), NewV(u2, v2), NewV(u3, v3)).CopyTo(v);
        var (d0, d1, d2, d3) = (LumaTerm(u0, v0), LumaTerm(u1, v1), LumaTerm(u2, v2), LumaTerm(u3, v3));
        AddLuma(top, d0, d1, d2, d3);
        if (!bottom.IsEmpty) AddLuma(bottom, d0, d1, d2, d3);
    }

    private static Vector128<int> NewU(Vector128<int> wu, Vector128<int> wv) => Vector128.Create(128) + Term(wu, UFromU) + Term(wv, UFromV);

    private static Vector128<int> NewV(Vector128<int> wu, Vector128<int> wv) => Vector128.Create(128) + Term(wu, VFromU) + Term(wv, VFromV);

    // Four chroma samples' luma terms, each twice (for the two pixels of a row it covers): the low half of each lane twice.
    private static Vector128<short> LumaTerm(Vector128<int> wu, Vector128<int> wv)
    {
        var d = Term(wu, YFromU) + Term(wv, YFromV);
        return ((d & Vector128.Create(0xFFFF)) | (d << 16)).AsInt16();
    }

    private static Vector128<int> Term(Vector128<int> spread, int coefficient) => Vector128.ShiftRightArithmetic(spread * coefficient, 16);

    // Centred samples spread to 16 bits as Term does.
    private static (Vector128<int>, Vector128<int>, Vector128<int>, Vector128<int>) Spread(Vector128<byte> samples)
    {
        var (a, b, c, d) = Centred(samples);
        return (Spread(a), Spread(b), Spread(c), Spread(d));
    }

    private static Vector128<int> Spread(Vector128<int> centred) => (centred << 8) + (centred & Vector128.Create(0xFF));

    private static (Vector128<int>, Vector128<int>, Vector128<int>, Vector128<int>) Centred(Vector128<byte> samples)
    {
        var (lo, hi) = Vector128.Widen(samples);
        var (a, b) = Vector128.Widen(lo);
        var (c, d) = Vector128.Widen(hi);
        var centre = Vector128.Create(128);
        return (a.AsInt32() - centre, b.AsInt32() - centre, c.AsInt32() - centre, d.AsInt32() - centre);
    }

    private static Vector128<byte> Narrow(Vector128<int> a, Vector128<int> b, Vector128<int> c, Vector128<int> d)
    {
        var lo = Vector128.Narrow(Clamp(a), Clamp(b)).AsUInt16();
        var hi = Vector128.Narrow(Clamp(c), Clamp(d)).AsUInt16();
        return Vector128.Narrow(lo, hi);
    }

    private static Vector128<int> Clamp(Vector128<int> x) => Vector128.Min(Vector128.Max(x, Vector128<int>.Zero), Vector128.Create(255));

    private static void AddLuma(Span<byte> luma, Vector128<short> d0, Vector128<short> d1, Vector128<short> d2, Vector128<short> d3)
    {
        AddLuma16(luma[..16], d0, d1);
        AddLuma16(luma.Slice(16, 16), d2, d3);
    }

    private static void AddLuma16(Span<byte> luma, Vector128<short> dLo, Vector128<short> dHi)
    {
        var (lo, hi) = Vector128.Widen(Vector128.Create((ReadOnlySpan<byte>)luma));
        Vector128.Narrow(Clamp(lo.AsInt16() + dLo), Clamp(hi.AsInt16() + dHi)).CopyTo(luma);
    }

    private static Vector128<ushort> Clamp(Vector128<short> x) =>
        Vector128.Min(Vector128.Max(x, Vector128<short>.Zero), Vector128.Create((short)255)).AsUInt16();
}
