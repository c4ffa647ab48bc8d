using System.Text.RegularExpressions;
using YamlDotNet.RepresentationModel;

namespace MixerWorker.Deploy.Tests;

/// <summary>A loaded mediamtx.yml plus the two MediaMTX behaviours the tests rely on: path lookup and key schema.</summary>
internal sealed class MediaMtxConfig
{
    private MediaMtxConfig(YamlMappingNode root) => Root = root;

    public YamlMappingNode Root { get; }

    public static MediaMtxConfig Load(string file)
    {
        var stream = new YamlStream();
        using var reader = new StringReader(File.ReadAllText(file));
        stream.Load(reader);
        Assert.Single(stream.Documents); // MediaMTX: "invalid YAML" for anything else
        return new MediaMtxConfig((YamlMappingNode)stream.Documents[0].RootNode);
    }

    public string? Scalar(string key) =>
        Root.Children.TryGetValue(new YamlScalarNode(key), out var n) && n is YamlScalarNode s ? s.Value : null;

    public IReadOnlyList<string> List(string key) =>
        Root.Children.TryGetValue(new YamlScalarNode(key), out var n) && n is YamlSequenceNode seq
            ? seq.Children.Select(c => ((YamlScalarNode)c).Value ?? "").ToList()
            : throw new KeyNotFoundException(key);

    public IReadOnlyDictionary<string, YamlMappingNode> Paths =>
        ((YamlMappingNode)Root.Children[new YamlScalarNode("paths")]).Children.ToDictionary(
            kv => ((YamlScalarNode)kv.Key).Value!,
            kv => kv.Value as YamlMappingNode ?? new YamlMappingNode());

    public static string? PathSetting(YamlMappingNode path, string key) =>
        path.Children.TryGetValue(new YamlScalarNode(key), out var n) && n is YamlScalarNode s ? s.Value : null;

    /// <summary>
    /// MediaMTX's FindPathConf (internal/conf/path.go, v1.20.1): an exact static name first; otherwise the
    /// name must be a valid path name, then regex keys are tried in byte order of the key with all/all_others
    /// last, and the first match wins. Returns the key and the submatches (G0, G1, ...).
    /// </summary>
    public (string Key, IReadOnlyList<string> Groups)? FindPath(string name)
    {
        var paths = Paths;
        if (paths.ContainsKey(name))
        {
            return (name, Array.Empty<string>());
        }
        if (!IsValidPathName(name))
        {
            return null;
        }
        var regexKeys = paths.Keys
            .Where(k => k.StartsWith('~') || k is "all" or "all_others")
            .OrderBy(k => k is "all" or "all_others" ? 1 : 0)
            .ThenBy(k => k, StringComparer.Ordinal);
        foreach (var key in regexKeys)
        {
            var pattern = key is "all" or "all_others" ? "^.*$" : key[1..];
            // .NET and Go RE2 agree on these patterns for valid path names (which cannot contain '\n',
            // the one place where .NET's '$' would differ).
            var m = Regex.Match(name, pattern, RegexOptions.CultureInvariant);
            if (m.Success)
            {
                return (key, m.Groups.Cast<Group>().Select(g => g.Value).ToList());
            }
        }
        return null;
    }

    // internal/conf/path.go IsValidPathName
    private static bool IsValidPathName(string name) =>
        name.Length > 0 && name[0] != '/' && name[^1] != '/'
        && Regex.IsMatch(name, @"\A[0-9a-zA-Z_\-/\.]+\z")
        && name.Split('/').All(s => s is not ("." or ".."));
}

/// <summary>The v1.20.1 key list (Data/mediamtx-v1.20.1-keys.txt) and a walker that applies it to a config.</summary>
internal static class MediaMtxSchema
{
    private static readonly Lazy<Dictionary<string, Dictionary<string, bool>>> Sections = new(LoadSections);

    public static IReadOnlyDictionary<string, bool> Section(string name) => Sections.Value[name];

    private static Dictionary<string, Dictionary<string, bool>> LoadSections()
    {
        var result = new Dictionary<string, Dictionary<string, bool>>();
        Dictionary<string, bool>? current = null;
        foreach (var raw in File.ReadLines(Path.Combine(AppContext.BaseDirectory, "Data", "mediamtx-v1.20.1-keys.txt")))
        {
            var line = raw.Trim();
            if (line.Length == 0 || line.StartsWith('#'))
            {
                continue;
            }
            if (line.StartsWith('['))
            {
                current = new Dictionary<string, bool>(StringComparer.Ordinal);
                result[line[1..line.IndexOf(']')]] = current;
                continue;
            }
            var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            current![parts[0]] = parts.Length > 1 && parts[1] == "deprecated";
        }
        return result;
    }

    // Which keys hold nested structs, and the section that describes them (from the Go field types).
    private static readonly Dictionary<(string Section, string Key), (string Section, bool IsList)> Nested = new()
    {
        [("global", "authHTTPExclude")] = ("permission", true),
        [("global", "authJWTExclude")] = ("permission", true),
        [("global", "authInternalUsers")] = ("internalUser", true),
        [("internalUser", "permissions")] = ("permission", true),
        [("global", "webrtcICEServers2")] = ("iceServer", true),
        [("global", "pathDefaults")] = ("path", false),
        [("path", "forward")] = ("forwardDest", true),
        [("path", "alwaysAvailableTracks")] = ("alwaysAvailableTrack", true),
    };

    /// <summary>Returns one line per key MediaMTX would reject (unknown) or warn about (deprecated).</summary>
    public static List<string> Problems(MediaMtxConfig config)
    {
        var problems = new List<string>();
        Walk(config.Root, "global", "", problems);
        return problems;
    }

    private static void Walk(YamlMappingNode node, string section, string where, List<string> problems)
    {
        var known = Section(section);
        foreach (var (keyNode, value) in node.Children)
        {
            var key = ((YamlScalarNode)keyNode).Value!;
            var at = where.Length == 0 ? key : $"{where}.{key}";
            if (!known.TryGetValue(key, out var deprecated))
            {
                problems.Add($"unknown key '{at}' (not in MediaMTX v1.20.1 [{section}])");
                continue;
            }
            if (deprecated)
            {
                problems.Add($"deprecated key '{at}'");
            }
            if (section == "global" && key == "paths")
            {
                if (value is YamlMappingNode paths)
                {
                    foreach (var (name, pathNode) in paths.Children)
                    {
                        if (pathNode is YamlMappingNode pathMap)
                        {
                            Walk(pathMap, "path", $"paths[{((YamlScalarNode)name).Value}]", problems);
                        }
                    }
                }
                continue;
            }
            if (!Nested.TryGetValue((section, key), out var nested))
            {
                continue;
            }
            var items = nested.IsList && value is YamlSequenceNode seq ? seq.Children : [value];
            var i = 0;
            foreach (var item in items)
            {
                if (item is YamlMappingNode map)
                {
                    Walk(map, nested.Section, nested.IsList ? $"{at}[{i}]" : at, problems);
                }
                i++;
            }
        }
    }
}
