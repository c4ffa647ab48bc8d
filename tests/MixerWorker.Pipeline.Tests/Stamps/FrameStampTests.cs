using MixerWorker.Testbed.Stamps;
using Xunit;

namespace MixerWorker.Pipeline.Tests.Stamps;

/// <summary>The stamp's code and its cells, without media: encode, burn into I420, read back.</summary>
public sealed class FrameStampTests
{
    [Theory]
    [InlineData(0, 0)]
    [InlineData(1, 65535)]
    [InlineData(255, 12345)]
    [InlineData(77, 1)]
    public void A_stamp_survives_its_own_code(int frame, int millis)
    {
        var stamp = new FrameStamp((byte)frame, (ushort)millis);
        Assert.Equal(stamp, FrameStamp.Decode(stamp.Encode()));
    }

    [Fact]
    public void Every_one_or_two_cell_misread_and_every_plain_picture_is_refused()
    {
        Assert.Null(FrameStamp.Decode(0));          // all black: a slate, a box without a stamp
        Assert.Null(FrameStamp.Decode(uint.MaxValue)); // all white
        foreach (var word in new[] { new FrameStamp(0, 0).Encode(), new FrameStamp(200, 40000).Encode(), new FrameStamp(13, 999).Encode() })
            for (var i = 0; i < 32; i++)
            {
                Assert.Null(FrameStamp.Decode(word ^ (1u << i)));
                for (var j = i + 1; j < 32; j++) Assert.Null(FrameStamp.Decode(word ^ (1u << i) ^ (1u << j)));
            }
    }

    [Fact]
    public void A_burnt_stamp_reads_back_from_the_picture_and_from_a_box_inside_a_bigger_one()
    {
        const int w = 320, h = 180;
        var picture = new byte[StampWriter.I420Size(w, h)];
        var stamp = new FrameStamp(42, 31337);
        StampWriter.WriteI420(picture, w, h, stamp, 42, 30);
        var read = StampReader.Read(new LumaPlane(picture, w, h, StampWriter.YStride(w)), 0, 0, w, h);
        Assert.Equal(stamp, read?.Stamp);
        Assert.True(read!.Value.Margin > 80, $"margin {read.Value.Margin}");

        // The same picture shrunk 3x (nearest pixel) into the middle box of a 3x3 grid of 320x180.
        var bus = new byte[w * h];
        const int bx = 107, by = 60, bw = 106, bh = 60;
        for (var y = 0; y < bh; y++)
            for (var x = 0; x < bw; x++)
                bus[(by + y) * w + bx + x] = picture[(y * h / bh) * StampWriter.YStride(w) + x * w / bw];
        Assert.Equal(stamp, StampReader.Read(new LumaPlane(bus, w, h, w), bx, by, bw, bh)?.Stamp);
        Assert.Null(StampReader.Read(new LumaPlane(bus, w, h, w), 0, 0, bw, bh)); // an empty (black) box
    }

    [Fact]
    public void Only_the_bottom_quarter_changes_and_the_block_moves_from_picture_to_picture()
    {
        const int w = 160, h = 90;
        byte[] Picture(long n)
        {
            var p = new byte[StampWriter.I420Size(w, h)];
            Array.Fill(p, (byte)99);
            StampWriter.WriteI420(p, w, h, FrameStamp.At(n, 1000 + n * 33), n, 30);
            return p;
        }
        var a = Picture(0);
        var b = Picture(5);
        for (var y = 0; y < (int)(h * StampLayout.BandTop) - 1; y++)
            for (var x = 0; x < w; x++) Assert.Equal(99, a[y * StampWriter.YStride(w) + x]);
        var motionRow = (int)(h * (StampLayout.BandTop + StampLayout.MotionBottom) / 2) * StampWriter.YStride(w);
        Assert.NotEqual(a.AsSpan(motionRow, w).ToArray(), b.AsSpan(motionRow, w).ToArray());
    }

    [Fact]
    public void Unwrapping_recovers_frame_numbers_and_capture_times_across_wraps()
    {
        var unwrap = new StampUnwrapper(30);
        var start = 1_700_000_060_000L; // ms; 16-bit millis wrap during the run
        for (long n = 250; n < 1000; n += 1 + n % 3) // with skips of up to 2 frames
        {
            var sent = start + (long)(n * 1000 / 30.0);
            var arrivalUs = (sent + 150) * 1000;
            var frame = unwrap.Next(FrameStamp.At(n, sent), arrivalUs);
            Assert.Equal(sent, frame.SentMs);
            Assert.Equal(n, frame.Number); // the first stamp (250) fixes the base
        }
    }
}
