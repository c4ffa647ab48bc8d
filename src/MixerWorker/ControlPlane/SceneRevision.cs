using MixerWorker.Pipeline.Scene;

namespace MixerWorker.ControlPlane;

internal static class SceneRevision
{
    /// <summary>Best effort: the revision field of a stored payload, or 0.</summary>
    public static long Of(string? payload)
    {
        if (string.IsNullOrEmpty(payload)) return 0;
        try
        {
            using var doc = System.Text.Json.JsonDocument.Parse(payload);
            // TryGetInt64 throws on anything but a number: a revision written as "7" or [7] must not.
            return doc.RootElement.ValueKind == System.Text.Json.JsonValueKind.Object && doc.RootElement.TryGetProperty("revision", out var r)
                && r.ValueKind == System.Text.Json.JsonValueKind.Number && r.TryGetInt64(out var v) ? v : 0;
        }
        catch (System.Text.Json.JsonException) { return 0; }
    }

    public static SceneDefinition WithRevision(this SceneDefinition scene, long revision) => scene with { Revision = revision };
}
