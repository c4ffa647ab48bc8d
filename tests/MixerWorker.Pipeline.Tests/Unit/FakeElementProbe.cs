using MixerWorker.Pipeline.Encoding;

namespace MixerWorker.Pipeline.Tests.Unit;

/// <summary>Stands in for the GStreamer registry so every backend and version can be planned on a
/// machine without a GPU; the one probe all encoder tests share.</summary>
internal sealed class FakeElementProbe(string version, params string[] factories) : IElementProbe
{
    private readonly HashSet<string> _factories = [.. factories];

    public Version GStreamerVersion { get; } = Version.Parse(version);

    public bool Has(string factory) => _factories.Contains(factory);
}
