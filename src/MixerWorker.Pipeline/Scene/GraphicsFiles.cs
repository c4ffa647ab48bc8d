using System.Text.RegularExpressions;

namespace MixerWorker.Pipeline.Scene;

/// <summary>
/// Graphics file names come from operators and end up opened by the engine: only plain relative
/// names inside the graphics directory are accepted, checked both as text and on the filesystem.
/// </summary>
public static partial class GraphicsFiles
{
    public const int MaxNameLength = 255;

    // Segments start with a letter, digit or '_': no "..", no hidden files, no empty segment.
    // Written without IgnoreCase, which would also let through look-alikes such as the Kelvin sign.
    [GeneratedRegex(@"^(?:[A-Za-z0-9_][A-Za-z0-9_.-]*/)*[A-Za-z0-9_][A-Za-z0-9_.-]*\.(?:[pP][nN][gG]|[sS][vV][gG])\z")]
    private static partial Regex NamePattern();

    public const string NameRule = "use a relative name of letters, digits, '_', '-', '.' and '/' (each part starting with a letter, digit or '_') ending in .png or .svg";

    /// <summary>Whether <paramref name="file"/> is a syntactically acceptable name; touches no filesystem.</summary>
    public static bool IsValidName(string? file) =>
        file is not null && file.Length <= MaxNameLength && NamePattern().IsMatch(file);

    /// <summary>The full path of a layer's file inside <paramref name="graphicsDirectory"/>; throws when it would leave it or is not PNG/SVG.</summary>
    public static string Resolve(string graphicsDirectory, string file)
    {
        if (!IsValidName(file)) throw new ArgumentException($"graphics file {Names.Quote(file)} is refused: {NameRule}");
        if (string.IsNullOrWhiteSpace(graphicsDirectory)) throw new ArgumentException($"graphics file {Names.Quote(file)} is refused: no graphics directory is configured");

        var root = Path.TrimEndingDirectorySeparator(Path.GetFullPath(graphicsDirectory));
        var full = Path.GetFullPath(Path.Combine(root, file));
        if (!IsUnder(full, root)) throw Outside(file);

        // A link inside the directory (the file or any folder on the way) may still point out of it.
        string realRoot, realFile;
        try
        {
            realRoot = RealPath(root);
            realFile = RealPath(full);
        }
        catch (IOException) { throw Outside(file); }
        catch (UnauthorizedAccessException) { throw Outside(file); }
        if (!IsUnder(realFile, realRoot)) throw Outside(file);
        return full;
    }

    private static ArgumentException Outside(string file) =>
        new($"graphics file {Names.Quote(file)} is refused: it lies outside the graphics directory");

    private static bool IsUnder(string path, string root) =>
        path.StartsWith(root + Path.DirectorySeparatorChar, StringComparison.Ordinal);

    /// <summary>The path with every symbolic link on the way replaced by its target, like realpath(3), dangling links included.</summary>
    /// <remarks>".." in a link target applies to the resolved folder, as the kernel does, not to the text.</remarks>
    private static string RealPath(string path)
    {
        var full = Path.GetFullPath(path);
        var pending = new Stack<string>(Parts(full).Reverse());
        var current = Path.GetPathRoot(full)!;
        var hops = 0;
        while (pending.Count > 0)
        {
            var part = pending.Pop();
            if (part == ".") continue;
            if (part == "..") { current = Path.GetDirectoryName(current) ?? current; continue; }
            var next = Path.Combine(current, part);
            var target = new FileInfo(next).LinkTarget;
            if (target is null) { current = next; continue; }
            if (++hops > 40) throw new IOException("too many levels of symbolic links");
            if (Path.IsPathRooted(target)) current = Path.GetPathRoot(target)!;
            foreach (var p in Parts(target).Reverse()) pending.Push(p);
        }
        return current;
    }

    private static string[] Parts(string path) =>
        path[(Path.GetPathRoot(path)?.Length ?? 0)..].Split(Path.DirectorySeparatorChar, StringSplitOptions.RemoveEmptyEntries);
}
