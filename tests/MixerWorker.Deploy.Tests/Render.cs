namespace MixerWorker.Deploy.Tests;

/// <summary>Runs scripts/render-mediamtx-config.sh with /bin/sh (dash on Debian; busybox ash in the image).</summary>
internal sealed class Render : IDisposable
{
    public const string IngestPassphrase = "ingest-Pass_01.abc~xyz";
    public const string OutputPassphrase = "0123456789abcdefOUTPUT";

    public static Dictionary<string, string> GoodValues() => new()
    {
        ["INGEST_SRT_PASSPHRASE"] = IngestPassphrase,
        ["OUTPUT_SRT_PASSPHRASE"] = OutputPassphrase,
    };

    private readonly string _dir = Directory.CreateTempSubdirectory("mtx-render-").FullName;

    public string Output => Path.Combine(_dir, "mediamtx.yml");

    /// <summary>Renders the repo's mediamtx.yml (or <paramref name="template"/>) from an env file built from <paramref name="values"/>.</summary>
    public ProcessResult FromEnvFile(IReadOnlyDictionary<string, string> values, string? template = null)
    {
        var envFile = Path.Combine(_dir, "mediamtx.env");
        File.WriteAllLines(envFile, values.Select(kv => $"{kv.Key}={kv.Value}"));
        return FromFile(envFile, template);
    }

    public ProcessResult FromFile(string envFile, string? template = null) =>
        Run(["--env-file", envFile, template ?? Repo.PathOf("mediamtx.yml"), Output], null);

    /// <summary>Renders with the values in the process environment, as the MediaMTX container entrypoint does.</summary>
    public ProcessResult FromEnvironment(IReadOnlyDictionary<string, string> values) =>
        Run([Repo.PathOf("mediamtx.yml"), Output], values);

    public string WriteTemplate(string text)
    {
        var file = Path.Combine(_dir, "template.yml");
        File.WriteAllText(file, text);
        return file;
    }

    private static ProcessResult Run(IEnumerable<string> args, IReadOnlyDictionary<string, string>? env) =>
        Processes.Run("/bin/sh", new[] { Repo.PathOf("scripts/render-mediamtx-config.sh") }.Concat(args), env);

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}

/// <summary>One configuration rendered with good values and two recorded outputs, shared by the read-only tests.</summary>
public sealed class RenderedConfigFixture : IDisposable
{
    public static readonly string[] RecordedOutputs = ["acme/program", "show-2/aux7"];

    private readonly Render _render = new();

    public RenderedConfigFixture()
    {
        var values = Render.GoodValues();
        values["MEDIAMTX_RECORD_OUTPUTS"] = string.Join(',', RecordedOutputs);
        var result = _render.FromEnvFile(values);
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException($"render failed: {result.StdErr}");
        }
        Config = MediaMtxConfig.Load(_render.Output);
        Text = File.ReadAllText(_render.Output);
    }

    internal MediaMtxConfig Config { get; }

    internal string Text { get; }

    public void Dispose() => _render.Dispose();
}
