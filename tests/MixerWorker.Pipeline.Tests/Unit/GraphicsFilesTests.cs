using MixerWorker.Pipeline.Scene;
using Xunit;

namespace MixerWorker.Pipeline.Tests.Unit;

public sealed class GraphicsFilesTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("mixer-graphics-").FullName;
    private readonly string _dir;
    private readonly string _outside;

    public GraphicsFilesTests()
    {
        _dir = Directory.CreateDirectory(Path.Combine(_root, "graphics")).FullName;
        _outside = Directory.CreateDirectory(Path.Combine(_root, "secret")).FullName;
        File.WriteAllText(Path.Combine(_outside, "passwd.png"), "x");
        Directory.CreateDirectory(Path.Combine(_dir, "lower"));
        File.WriteAllText(Path.Combine(_dir, "bug.png"), "x");
        File.WriteAllText(Path.Combine(_dir, "lower", "name.SVG"), "x");
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Theory]
    [InlineData("bug.png")]
    [InlineData("lower/name.SVG")]
    [InlineData("not-yet-there.png")]   // a missing file is the engine's error, not a traversal
    [InlineData("a.b-c_d.svg")]
    [InlineData("_x/y/z.PnG")]
    public void Resolves_names_inside_the_directory(string file) =>
        Assert.Equal(Path.Combine(_dir, file), GraphicsFiles.Resolve(_dir, file));

    [Fact]
    public void A_trailing_separator_on_the_directory_is_fine() =>
        Assert.Equal(Path.Combine(_dir, "bug.png"), GraphicsFiles.Resolve(_dir + "/", "bug.png"));

    [Theory]
    [InlineData("../secret/passwd.png")]
    [InlineData("../etc/passwd.png")]
    [InlineData("/abs.png")]
    [InlineData("a/../../x.png")]
    [InlineData("a/../b.png")]
    [InlineData("./bug.png")]
    [InlineData(".hidden.png")]
    [InlineData("bug.gif")]
    [InlineData("bug.png.exe")]
    [InlineData("bug")]
    [InlineData(".png")]
    [InlineData("bug.png\n")]
    [InlineData("a//b.png")]
    [InlineData("a\\b.png")]
    [InlineData("lower/")]
    [InlineData("")]
    [InlineData(" bug.png")]
    [InlineData("bu g.png")]
    [InlineData("C:bug.png")]
    [InlineData("~/bug.png")]
    [InlineData("bug.pn\u212a")]            // Kelvin sign: equal to 'k' under case-insensitive matching
    [InlineData("caf\u00e9.png")]
    [InlineData("bug.png\0.svg")]
    public void Refuses_names_that_are_not_plain_relative_png_or_svg(string file)
    {
        Assert.False(GraphicsFiles.IsValidName(file));
        var e = Assert.Throws<ArgumentException>(() => GraphicsFiles.Resolve(_dir, file));
        Assert.StartsWith($"graphics file {Names.Quote(file)} is refused: ", e.Message);
        Assert.DoesNotContain(_dir, e.Message);
    }

    [Fact]
    public void Refuses_a_null_name_and_a_very_long_one()
    {
        Assert.False(GraphicsFiles.IsValidName(null));
        Assert.False(GraphicsFiles.IsValidName(new string('a', 300) + ".png"));
        Assert.Throws<ArgumentException>(() => GraphicsFiles.Resolve(_dir, null!));
    }

    [Fact]
    public void Refuses_a_file_link_pointing_out_of_the_directory()
    {
        File.CreateSymbolicLink(Path.Combine(_dir, "escape.png"), Path.Combine(_outside, "passwd.png"));
        var e = Assert.Throws<ArgumentException>(() => GraphicsFiles.Resolve(_dir, "escape.png"));
        Assert.Equal("graphics file 'escape.png' is refused: it lies outside the graphics directory", e.Message);
    }

    [Fact]
    public void Refuses_a_folder_link_pointing_out_of_the_directory()
    {
        Directory.CreateSymbolicLink(Path.Combine(_dir, "sub"), _outside);
        Assert.Throws<ArgumentException>(() => GraphicsFiles.Resolve(_dir, "sub/passwd.png"));
    }

    [Fact]
    public void Refuses_a_dangling_link_pointing_out_of_the_directory()
    {
        File.CreateSymbolicLink(Path.Combine(_dir, "later.png"), Path.Combine(_outside, "not-yet.png"));
        Assert.Throws<ArgumentException>(() => GraphicsFiles.Resolve(_dir, "later.png"));
    }

    [Fact]
    public void Refuses_a_relative_link_that_climbs_out()
    {
        File.CreateSymbolicLink(Path.Combine(_dir, "lower", "up.png"), "../../secret/passwd.png");
        Assert.Throws<ArgumentException>(() => GraphicsFiles.Resolve(_dir, "lower/up.png"));
    }

    // ".." after a linked folder applies to the link's target, not to the text of the path.
    [Fact]
    public void Refuses_a_link_whose_dotdot_climbs_from_a_linked_folder()
    {
        Directory.CreateDirectory(Path.Combine(_outside, "deep"));
        File.WriteAllText(Path.Combine(_outside, "deep-secret.png"), "x");
        Directory.CreateSymbolicLink(Path.Combine(_dir, "deeplink"), Path.Combine(_outside, "deep"));
        File.CreateSymbolicLink(Path.Combine(_dir, "trick.png"), "deeplink/../deep-secret.png");
        Assert.Throws<ArgumentException>(() => GraphicsFiles.Resolve(_dir, "trick.png"));
    }

    [Fact]
    public void Accepts_links_that_stay_inside()
    {
        File.CreateSymbolicLink(Path.Combine(_dir, "alias.png"), "bug.png");
        Directory.CreateSymbolicLink(Path.Combine(_dir, "l2"), Path.Combine(_dir, "lower"));
        Assert.Equal(Path.Combine(_dir, "alias.png"), GraphicsFiles.Resolve(_dir, "alias.png"));
        Assert.Equal(Path.Combine(_dir, "l2", "name.SVG"), GraphicsFiles.Resolve(_dir, "l2/name.SVG"));
    }

    [Fact]
    public void Works_when_the_directory_itself_is_a_link()
    {
        var link = Path.Combine(_root, "graphics-link");
        Directory.CreateSymbolicLink(link, _dir);
        Assert.Equal(Path.Combine(link, "bug.png"), GraphicsFiles.Resolve(link, "bug.png"));
        File.CreateSymbolicLink(Path.Combine(_dir, "escape.png"), Path.Combine(_outside, "passwd.png"));
        Assert.Throws<ArgumentException>(() => GraphicsFiles.Resolve(link, "escape.png"));
    }

    [Fact]
    public void Refuses_a_link_loop()
    {
        File.CreateSymbolicLink(Path.Combine(_dir, "loop1.png"), "loop2.png");
        File.CreateSymbolicLink(Path.Combine(_dir, "loop2.png"), "loop1.png");
        Assert.Throws<ArgumentException>(() => GraphicsFiles.Resolve(_dir, "loop1.png"));
    }

    [Fact]
    public void Needs_a_directory() =>
        Assert.Contains("no graphics directory is configured", Assert.Throws<ArgumentException>(() => GraphicsFiles.Resolve("", "bug.png")).Message);
}
