using MixerWorker.Pipeline.Sources;
using Xunit;

namespace MixerWorker.Pipeline.Tests.Unit;

/// <summary>What an H.264 PES must look like to be declared one whole access unit (<see cref="AccessUnitCheck"/>).</summary>
public sealed class AccessUnitCheckTests
{
    private static readonly byte[] Aud = [0, 0, 0, 1, 0x09, 0xf0];
    private static readonly byte[] Sps = [0, 0, 0, 1, 0x67, 0x42, 0xc0, 0x1e];
    private static readonly byte[] Pps = [0, 0, 0, 1, 0x68, 0xce, 0x3c, 0x80];
    // Slices: the byte after the NAL header starts first_mb_in_slice (ue(v): a leading 1 bit is 0).
    private static readonly byte[] IdrFirst = [0, 0, 1, 0x65, 0x88, 0x84, 0x21, 0x00, 0x07];
    private static readonly byte[] PFirst = [0, 0, 1, 0x41, 0x9a, 0x22, 0x4c, 0x13];
    private static readonly byte[] PLater = [0, 0, 1, 0x41, 0x3a, 0x22, 0x4c, 0x13];

    private static byte[] Of(params byte[][] nals) => [.. nals.SelectMany(n => n)];

    [Fact]
    public void A_unit_starts_with_a_header_or_its_first_slice_and_holds_one_primary_picture()
    {
        Assert.Equal(new AccessUnitCheck.Shape(true, true), AccessUnitCheck.Inspect(Of(Aud, Sps, Pps, IdrFirst)));
        Assert.Equal(new AccessUnitCheck.Shape(true, false), AccessUnitCheck.Inspect(Of(PFirst)));
        Assert.True(AccessUnitCheck.Inspect(Of(Aud, PFirst, PLater, PLater)).OneAccessUnit);

        Assert.False(AccessUnitCheck.Inspect(Of(PLater)).OneAccessUnit); // the rest of a picture
        Assert.False(AccessUnitCheck.Inspect(Of([0x12, 0x34], PFirst)).OneAccessUnit); // a NAL's tail first
        Assert.False(AccessUnitCheck.Inspect(Of(Sps, Pps)).OneAccessUnit); // headers alone
        Assert.False(AccessUnitCheck.Inspect(Of(PFirst, PFirst)).OneAccessUnit); // two pictures
        Assert.False(AccessUnitCheck.Inspect(Of(PFirst, Aud)).OneAccessUnit); // the next unit begun
        Assert.False(AccessUnitCheck.Inspect([]).OneAccessUnit);
    }

    [Fact]
    public void A_stream_is_declared_after_its_probation_from_a_keyframe_and_never_again_once_broken()
    {
        var check = new AccessUnitCheck();
        for (var i = 0; i < 5; i++) Assert.False(check.Next(Of(PFirst))); // no keyframe yet: not counted
        Assert.False(check.Next(Of(Sps, Pps, IdrFirst)));
        for (var i = 1; i < AccessUnitCheck.Probation - 1; i++) Assert.False(check.Next(Of(PFirst)));
        Assert.True(check.Next(Of(PFirst)));
        Assert.True(check.Next(Of(Aud, PFirst, PLater)));

        Assert.False(check.Next(Of(PLater)));
        Assert.True(check.Broken);
        Assert.False(check.Next(Of(PFirst)));
    }

    [Fact]
    public void A_buffer_as_large_as_a_bounded_PES_is_not_declared_whole_and_the_rest_of_a_split_picture_ends_it()
    {
        var check = new AccessUnitCheck();
        Assert.False(check.Next(Of(Sps, Pps, IdrFirst)));
        for (var i = 1; i < AccessUnitCheck.Probation; i++) check.Next(Of(PFirst));
        Assert.True(check.Next(Of(PFirst)));

        var large = Of(Sps, Pps, IdrFirst, new byte[AccessUnitCheck.LargestBoundedPes]);
        Assert.False(check.Next(large));
        Assert.False(check.Broken);
        Assert.True(check.Next(Of(PFirst))); // it was whole after all

        Assert.False(check.Next(large));
        Assert.False(check.Next([0x55, 0x66, .. PLater])); // its rest: the parser still had the first part
        Assert.True(check.Broken);
    }
}
