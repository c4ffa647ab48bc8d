using System.Text.RegularExpressions;
using YamlDotNet.RepresentationModel;

namespace MixerWorker.Deploy.Tests;

/// <summary>
/// What can be checked about the images and the compose stack without a Docker engine: the properties
/// that the deployment depends on and that are easy to lose in an edit.
/// </summary>
public sealed class DeploymentFilesTests
{
    [Fact]
    public void MediaMtxIsPinnedTo1201Everywhere()
    {
        Assert.Matches(new Regex(@"^ARG MEDIAMTX_VERSION=1\.20\.1$", RegexOptions.Multiline), Repo.Read("docker/Dockerfile.mediamtx"));
        var mediamtx = Service(Compose("docker-compose.yml"), "mediamtx");
        Assert.Equal("1.20.1", Scalar(mediamtx, "build", "args", "MEDIAMTX_VERSION"));
        Assert.EndsWith(":1.20.1", Scalar(mediamtx, "image"));
    }

    [Theory]
    [InlineData("docker/Dockerfile.gst")]
    [InlineData("docker/Dockerfile.mediamtx")]
    [InlineData("docker-compose.yml")]
    public void NoImageIsTakenAsLatest(string file) =>
        Assert.DoesNotMatch(new Regex(@"(FROM|image:)\s+\S+:latest\b|FROM\s+[^\s:$]+\s*$", RegexOptions.Multiline), Repo.Read(file));

    [Theory]
    [InlineData("docker/Dockerfile.gst")]
    [InlineData("docker/Dockerfile.mediamtx")]
    public void ImagesRunAsNonRootWithExecFormEntrypointAndAHealthCheck(string file)
    {
        var text = Repo.Read(file);
        var user = Regex.Matches(text, @"^USER\s+(\S+)", RegexOptions.Multiline).Last().Groups[1].Value;
        Assert.NotEqual("root", user);
        Assert.NotEqual("0", user);
        // Exec form (JSON array): a shell-form ENTRYPOINT runs under /bin/sh -c, which does not pass SIGTERM on.
        Assert.Matches(new Regex(@"^ENTRYPOINT \[""[^""]+""\]\s*$", RegexOptions.Multiline), text);
        Assert.Matches(new Regex(@"^\s*CMD \[", RegexOptions.Multiline), text[text.IndexOf("HEALTHCHECK", StringComparison.Ordinal)..]);
    }

    [Fact]
    public void WorkerImageHasWhatTheGpuPathsNeed()
    {
        var text = Repo.Read("docker/Dockerfile.gst");
        Assert.Contains("NVIDIA_DRIVER_CAPABILITIES=compute,video,utility", text);
        Assert.Contains("GST_CUDA_NVRTC_LIBNAME=libnvrtc.so.12", text);
        Assert.Matches(new Regex(@"^ARG DEBIAN_RELEASE=trixie$", RegexOptions.Multiline), text); // GStreamer 1.26
        foreach (var package in new[]
                 {
                     "gstreamer1.0-tools", "gstreamer1.0-plugins-base", "gstreamer1.0-plugins-good", "gstreamer1.0-plugins-bad",
                     "gstreamer1.0-plugins-ugly", "gstreamer1.0-libav", "libsrt1.5-gnutls", "mesa-va-drivers", "libnvrtc12",
                 })
        {
            Assert.Matches(new Regex($@"^\s+.*\b{Regex.Escape(package)}\b", RegexOptions.Multiline), text);
        }
        Assert.Contains("ARG INTEL_VA_DRIVER=intel-media-va-driver-non-free", text);
        // NativeAOT: the worker is its own executable, with no .NET runtime in the image to start it.
        Assert.Contains(@"CMD [""/app/MixerWorker""]", text);
        Assert.Matches(new Regex(@"^\s+-r ""linux-.*-p:PublishAot=true", RegexOptions.Multiline), text);
    }

    [Fact]
    public void WorkerEntrypointDropsTheRegistryAndExecsTheDaemon()
    {
        var dir = Directory.CreateTempSubdirectory("gst-reg-").FullName;
        try
        {
            var registry = Path.Combine(dir, "registry.bin");
            File.WriteAllText(registry, "stale");

            var result = Processes.Run("/bin/sh", [Repo.PathOf("docker/worker-entrypoint.sh"), "echo", "daemon-args-reached"],
                new Dictionary<string, string> { ["GST_REGISTRY"] = registry });

            Assert.Equal(0, result.ExitCode);
            Assert.False(File.Exists(registry), "a registry cached without the GPU would hide nvcodec for good");
            Assert.Equal("daemon-args-reached", result.StdOut.Trim());
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void WorkerStopGraceCoversTheHandOver()
    {
        var worker = Service(Compose("docker-compose.yml"), "worker");
        var grace = Regex.Match(Scalar(worker, "stop_grace_period"), @"^(\d+)s$");
        Assert.True(grace.Success);
        var handOver = int.Parse(EnvExample("config/worker.env.example")["SHUTDOWN__GRACESECONDS"]);
        // Room after the hand-over for pipelines to stop; compose's own default would be 10 s.
        Assert.True(int.Parse(grace.Groups[1].Value) >= handOver + 10, $"stop_grace_period {grace.Value} vs SHUTDOWN__GRACESECONDS {handOver}");
        Assert.NotNull(Node(worker, "deploy", "replicas"));
        Assert.Null(Node(worker, "container_name")); // would make --scale fail
        Assert.Null(Node(worker, "ports"));
    }

    [Fact]
    public void WorkerHealthChecksAskTheWorkersEndpointsInsteadOfStartingDotnet()
    {
        var image = Repo.Read("docker/Dockerfile.gst");
        var check = image[image.IndexOf("\nHEALTHCHECK ", StringComparison.Ordinal)..];
        check = check[..check.IndexOf("\n\n", StringComparison.Ordinal)];
        Assert.Contains("/healthz", check);
        Assert.DoesNotContain("dotnet", check);
        Assert.Matches(new Regex(@"^ENV\b[\s\S]*?\bMETRICS__PORT=9100\b", RegexOptions.Multiline), image);
        Assert.Matches(new Regex(@"^\s+curl \\$", RegexOptions.Multiline), image); // installed for the check

        var worker = Service(Compose("docker-compose.yml"), "worker");
        var test = string.Join(" ", ((YamlSequenceNode)Node(worker, "healthcheck", "test")!).Children.Select(c => c.ToString()));
        Assert.Contains("/readyz", test);
        Assert.DoesNotContain("dotnet", test);
        Assert.Equal("9100", EnvExample("config/worker.env.example")["METRICS__PORT"]);
    }

    [Theory]
    [InlineData("MALLOC_ARENA_MAX")]
    [InlineData("DOTNET_GCgen0size")]
    public void TheBenchmarksRunTheWorkerWithTheImagesMemorySettings(string variable)
    {
        // The benchmarks' RSS figures are the image's only if they run with the same allocator and GC settings.
        var image = Regex.Match(Repo.Read("docker/Dockerfile.gst"), $@"^\s+{variable}=(\S+?)\s*\\?$", RegexOptions.Multiline);
        var bench = Regex.Match(Repo.Read("bench/lib.sh"), $@"^export {variable}=\$\{{{variable}:-(\S+?)\}}$", RegexOptions.Multiline);
        Assert.True(image.Success, $"docker/Dockerfile.gst sets no {variable}");
        Assert.True(bench.Success, $"bench/lib.sh exports no {variable}");
        Assert.Equal(image.Groups[1].Value, bench.Groups[1].Value);
    }

    [Fact]
    public void TheGen0BudgetIsWrittenAsTheNativeAotRuntimeReadsIt()
    {
        // NativeAOT reads GC settings as bare hex digits: with a 0x prefix the value was ignored and the budget followed
        // the CPU's cache (52 MB on a 105 MB L3). The executable carries the value too, for a worker run without the image.
        var image = Regex.Match(Repo.Read("docker/Dockerfile.gst"), @"^\s+DOTNET_GCgen0size=(\S+?)\s*\\?$", RegexOptions.Multiline);
        var executable = Regex.Match(Repo.Read("src/MixerWorker/MixerWorker.csproj"), @"<IlcArg Include=""--runtimeopt:GCgen0size=([^""]+)"" />");
        Assert.True(image.Success, "docker/Dockerfile.gst sets no DOTNET_GCgen0size");
        Assert.True(executable.Success, "MixerWorker.csproj compiles no GCgen0size into the executable");
        Assert.Matches("^[0-9a-fA-F]+$", image.Groups[1].Value);
        Assert.Equal(image.Groups[1].Value, executable.Groups[1].Value);
    }

    [Fact]
    public void EveryServiceHasAHealthCheck()
    {
        var services = (YamlMappingNode)Compose("docker-compose.yml").Children[new YamlScalarNode("services")];
        foreach (var (name, node) in services.Children)
        {
            var service = (YamlMappingNode)node;
            var dockerfile = Node(service, "build", "dockerfile") is YamlScalarNode d ? d.Value : null;
            var hasOwn = Node(service, "healthcheck") != null;
            var fromImage = dockerfile != null && Repo.Read(dockerfile).Contains("\nHEALTHCHECK ");
            Assert.True(hasOwn || fromImage, $"service {name} has no health check");
        }
    }

    [Fact]
    public void NvidiaVariantAsksForComputeAndVideo()
    {
        var device = (YamlMappingNode)((YamlSequenceNode)Node(Service(Compose("docker-compose.nvidia.yml"), "worker"),
            "deploy", "resources", "reservations", "devices")!).Children.Single();
        Assert.Equal("nvidia", Scalar(device, "driver"));
        var caps = ((YamlSequenceNode)device.Children[new YamlScalarNode("capabilities")]).Children.Select(c => c.ToString()).ToList();
        Assert.Contains("gpu", caps);
        Assert.Contains("compute", caps);
        Assert.Contains("video", caps);
    }

    [Fact]
    public void VaapiVariantPassesDriAndTheRenderGroup()
    {
        var worker = Service(Compose("docker-compose.vaapi.yml"), "worker");
        Assert.Contains("/dev/dri:/dev/dri", ((YamlSequenceNode)Node(worker, "devices")!).Children.Select(c => c.ToString()));
        Assert.Contains("RENDER_GID", ((YamlSequenceNode)Node(worker, "group_add")!).Children.Single().ToString());
    }

    [Theory]
    [InlineData("config/worker.env.example", "REDIS__CONFIGURATION,MEDIAMTX__HOST,MEDIAMTX__SRTPORT,INGEST_SRT_PASSPHRASE,OUTPUT_SRT_PASSPHRASE,MEDIAMTX__TOKEN,WORKER__ID,SRT__LATENCYMS,GRAPHICS__DIRECTORY,ENCODER__BACKEND,LOGGING__FORMAT,SHUTDOWN__GRACESECONDS,METRICS__PORT,THUMBNAILS__INTERVALMS,THUMBNAILS__WIDTH,STALL__INPUTTIMEOUTMS,STALL__BUSTIMEOUTMS")]
    [InlineData("config/mediamtx.env.example", "INGEST_SRT_PASSPHRASE,OUTPUT_SRT_PASSPHRASE,MEDIAMTX_WEBRTC_ALLOW_ORIGIN,MEDIAMTX_WEBRTC_ADDITIONAL_HOSTS,MEDIAMTX_WEBRTC_ENCRYPTION,MEDIAMTX_RECORD_OUTPUTS")]
    public void EnvExamplesDocumentEveryVariable(string file, string variables)
    {
        var lines = File.ReadAllLines(Repo.PathOf(file));
        foreach (var variable in variables.Split(','))
        {
            // Set or commented out, and preceded by a comment that explains it.
            var at = Array.FindIndex(lines, l => Regex.IsMatch(l, $@"^(# )?{variable}="));
            Assert.True(at > 0, $"{variable} missing from {file}");
            var i = at - 1;
            while (i >= 0 && Regex.IsMatch(lines[i], @"^(# )?[A-Z0-9_]+=")) // neighbours in the same group
            {
                i--;
            }
            Assert.True(i >= 0 && lines[i].StartsWith("# ") && lines[i].Length > 10, $"{variable} in {file} has no explanation above it");
        }
    }

    [Fact]
    public void SmokeTestFailsClearlyWithoutDocker()
    {
        // This machine has no Docker engine; the smoke test must say so instead of half-running.
        var emptyPath = Directory.CreateTempSubdirectory("no-docker-").FullName;
        try
        {
            var result = Processes.Run("/bin/sh", [Repo.PathOf("scripts/smoke.sh")],
                new Dictionary<string, string> { ["PATH"] = $"{emptyPath}:/usr/bin:/bin", ["DOCKER"] = Path.Combine(emptyPath, "docker") });
            Assert.Equal(3, result.ExitCode);
            Assert.Contains("needs Docker", result.StdErr);
        }
        finally
        {
            Directory.Delete(emptyPath);
        }
    }

    private static Dictionary<string, string> EnvExample(string file) =>
        File.ReadAllLines(Repo.PathOf(file))
            .Where(l => Regex.IsMatch(l, @"^[A-Z0-9_]+="))
            .ToDictionary(l => l[..l.IndexOf('=')], l => l[(l.IndexOf('=') + 1)..]);

    private static YamlMappingNode Compose(string file)
    {
        var stream = new YamlStream();
        using var reader = new StringReader(Repo.Read(file));
        stream.Load(reader);
        return (YamlMappingNode)stream.Documents[0].RootNode;
    }

    private static YamlMappingNode Service(YamlMappingNode compose, string name) =>
        (YamlMappingNode)Node(compose, "services", name)!;

    private static YamlNode? Node(YamlNode node, params string[] path)
    {
        foreach (var key in path)
        {
            if (node is not YamlMappingNode map || !map.Children.TryGetValue(new YamlScalarNode(key), out var next))
            {
                return null;
            }
            node = next;
        }
        return node;
    }

    private static string Scalar(YamlNode node, params string[] path) =>
        (Node(node, path) as YamlScalarNode)?.Value ?? throw new KeyNotFoundException(string.Join('.', path));
}
