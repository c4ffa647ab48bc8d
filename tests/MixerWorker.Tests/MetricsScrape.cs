using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;

namespace MixerWorker.Tests;

/// <summary>One sample of the Prometheus text format: a metric name, its labels and its value.</summary>
public sealed record MetricSample(string Name, IReadOnlyDictionary<string, string> Labels, double Value)
{
    public bool Has(params (string Key, string Value)[] labels) => labels.All(l => Labels.TryGetValue(l.Key, out var v) && v == l.Value);
}

/// <summary>A scrape of a worker's /metrics, parsed the way Prometheus reads the text format (comments skipped, one sample per line).</summary>
public sealed partial class MetricsScrape
{
    public string Text { get; }
    public IReadOnlyList<MetricSample> Samples { get; }

    private MetricsScrape(string text)
    {
        Text = text;
        Samples = [.. text.Split('\n').Where(l => l.Length > 0 && l[0] != '#').Select(Parse)];
    }

    public static async Task<MetricsScrape> GetAsync(HttpClient http, int port) =>
        new(await http.GetStringAsync($"http://127.0.0.1:{port}/metrics"));

    /// <summary>The names of the metric families the scrape declares (# TYPE lines).</summary>
    public IReadOnlySet<string> Families => Text.Split('\n').Where(l => l.StartsWith("# TYPE ", StringComparison.Ordinal)).Select(l => l.Split(' ')[2]).ToHashSet();

    /// <summary>The value of the one sample of <paramref name="name"/> with these labels (others may be present); fails when there is none.</summary>
    public double Value(string name, params (string Key, string Value)[] labels)
    {
        var hits = Samples.Where(s => s.Name == name && s.Has(labels)).ToList();
        if (hits.Count != 1)
            throw new Xunit.Sdk.XunitException($"expected one sample {name}{{{string.Join(",", labels.Select(l => $"{l.Key}=\"{l.Value}\""))}}}, found {hits.Count}");
        return hits[0].Value;
    }

    public bool Contains(string name, params (string Key, string Value)[] labels) => Samples.Any(s => s.Name == name && s.Has(labels));

    private static MetricSample Parse(string line)
    {
        var m = SampleLine().Match(line);
        if (!m.Success) throw new FormatException($"not a sample line: {line}");
        var labels = LabelPair().Matches(m.Groups["labels"].Value).ToDictionary(l => l.Groups[1].Value, l => Regex.Unescape(l.Groups[2].Value));
        var value = m.Groups["value"].Value switch
        {
            "+Inf" => double.PositiveInfinity,
            "-Inf" => double.NegativeInfinity,
            "NaN" => double.NaN,
            var v => double.Parse(v, CultureInfo.InvariantCulture),
        };
        return new MetricSample(m.Groups["name"].Value, labels, value);
    }

    [GeneratedRegex(@"^(?<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(?<labels>.*)\})?\s+(?<value>\S+)(?:\s+\d+)?$")]
    private static partial Regex SampleLine();

    [GeneratedRegex(@"([a-zA-Z_][a-zA-Z0-9_]*)=""((?:[^""\\]|\\.)*)""")]
    private static partial Regex LabelPair();

    public static int FreeTcpPort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }
}
