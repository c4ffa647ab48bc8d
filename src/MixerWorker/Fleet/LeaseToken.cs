using System.Globalization;

namespace MixerWorker.Fleet;

/// <summary>
/// The value of a project's lease key: "&lt;epoch&gt;:&lt;nonce&gt;:&lt;worker&gt;". The epoch rises on every
/// acquisition (the fencing token); the nonce makes the value unique even when a worker with the same
/// id comes back, or when an emptied Redis starts counting again.
/// </summary>
public sealed record LeaseToken(long Epoch, string Nonce, string Worker)
{
    public override string ToString() => $"{Epoch.ToString(CultureInfo.InvariantCulture)}:{Nonce}:{Worker}";

    public static LeaseToken? Parse(string? value)
    {
        if (value is null) return null;
        var parts = value.Split(':', 3);
        return parts.Length == 3 && long.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var epoch)
            ? new LeaseToken(epoch, parts[1], parts[2])
            : null;
    }

    /// <summary>A fresh random nonce for one acquisition attempt.</summary>
    public static string NewNonce() => Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(8));
}
