using MixerWorker.Pipeline.Builders;
using Xunit;

namespace MixerWorker.Pipeline.Tests.Unit;

/// <summary>
/// The pictures a box let in and its compositor never drew although the bus made their frame (<see cref="UndrawnPictures"/>):
/// counted once, when a newer picture is drawn; an output gap, a shed frame, a picture drawn a frame late or one
/// already counted late as it came in is no such loss.
/// </summary>
public sealed class UndrawnPicturesTests
{
    private const double Frame = 1e9 / 30;
    private static ulong At(int frame) => (ulong)Math.Round(10e9 + frame * Frame);
    // A picture's PTS stands apart from its running time, as in a pipeline.
    private static ulong Pts(int picture) => (ulong)(picture * 1000 + 7);

    [Fact]
    public void Pictures_drawn_in_their_frames_are_no_loss()
    {
        var undrawn = new UndrawnPictures();
        var lost = 0;
        for (var i = 0; i < 10; i++)
        {
            undrawn.Entered(Pts(i), At(i), countedLate: false);
            lost += undrawn.Drawing(At(i), Pts(i), Frame);
        }
        Assert.Equal(0, lost);
    }

    [Fact]
    public void Pictures_that_came_after_their_frames_were_made_are_counted_once_when_a_newer_one_is_drawn()
    {
        var undrawn = new UndrawnPictures();
        undrawn.Entered(Pts(0), At(0), false);
        Assert.Equal(0, undrawn.Drawing(At(0), Pts(0), Frame));
        // Pictures 1-3 are let in but held up on their way: frames 1-3 are made with picture 0.
        foreach (var i in new[] { 1, 2, 3 }) undrawn.Entered(Pts(i), At(i), false);
        foreach (var i in new[] { 1, 2, 3 }) Assert.Equal(0, undrawn.Drawing(At(i), Pts(0), Frame));
        undrawn.Entered(Pts(4), At(4), false);
        Assert.Equal(3, undrawn.Drawing(At(4), Pts(4), Frame));
        Assert.Equal(0, undrawn.Drawing(At(5), Pts(4), Frame));
    }

    [Fact]
    public void A_frame_the_bus_did_not_make_or_a_picture_already_counted_late_or_drawn_late_is_no_loss()
    {
        var undrawn = new UndrawnPictures();
        undrawn.Entered(Pts(0), At(0), false);
        undrawn.Drawing(At(0), Pts(0), Frame);
        // An output gap: frames 1 and 2 are never made.
        foreach (var i in new[] { 1, 2, 3 }) undrawn.Entered(Pts(i), At(i), false);
        Assert.Equal(0, undrawn.Drawing(At(3), Pts(3), Frame));
        // A shed frame: made and thrown away.
        undrawn.Entered(Pts(4), At(4), false);
        Assert.Equal(0, undrawn.Drawing(At(4), Pts(3), Frame, made: false));
        // Counted late as it came in.
        undrawn.Entered(Pts(5), At(5), countedLate: true);
        Assert.Equal(0, undrawn.Drawing(At(5), Pts(3), Frame));
        // Drawn a frame late: frame 6 is made without picture 6, which frame 7 then shows.
        undrawn.Entered(Pts(6), At(6), false);
        Assert.Equal(0, undrawn.Drawing(At(6), Pts(3), Frame));
        undrawn.Entered(Pts(7), At(7), false);
        Assert.Equal(0, undrawn.Drawing(At(7), Pts(6), Frame));
        Assert.Equal(0, undrawn.Drawing(At(8), Pts(7), Frame));
    }
}
