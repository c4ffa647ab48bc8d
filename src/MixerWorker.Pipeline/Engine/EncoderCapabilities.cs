namespace MixerWorker.Pipeline.Engine;

/// <summary>The encoder backend a host's projects get, and every backend whose elements it has.</summary>
public sealed record EncoderCapabilities(string Selected, IReadOnlyList<string> Available);
