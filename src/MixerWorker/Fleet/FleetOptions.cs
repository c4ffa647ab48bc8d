using Microsoft.Extensions.Options;

namespace MixerWorker.Fleet;

/// <summary>How projects are shared out (env FLEET__*); the reasoning behind every default is in docs/fleet.md.</summary>
public sealed class FleetOptions
{
    public const string Section = "Fleet";

    /// <summary>A project's lease lapses this long after its owner's last renewal (FLEET__LEASETTLMS).</summary>
    public int LeaseTtlMs { get; set; } = 2000;
    /// <summary>How often an owner renews each lease, on a connection of its own (FLEET__RENEWINTERVALMS).</summary>
    public int RenewIntervalMs { get; set; } = 500;
    /// <summary>How long one renewal (or claim) may take before its result counts as unknown (FLEET__RENEWTIMEOUTMS).</summary>
    public int RenewTimeoutMs { get; set; } = 250;
    /// <summary>leastLoaded: the worker with the most room claims first; firstCome: whoever polls first (FLEET__CLAIMPOLICY).</summary>
    public ClaimPolicy ClaimPolicy { get; set; } = ClaimPolicy.LeastLoaded;
    /// <summary>How often a worker looks for projects without an owner (FLEET__CLAIMSCANMS).</summary>
    public int ClaimScanMs { get; set; } = 200;
    /// <summary>leastLoaded: how much longer each worker waits per worker ranked before it (FLEET__RANKSTEPMS).</summary>
    public int RankStepMs { get; set; } = 300;
    /// <summary>Share of the CPUs the worker fills with projects (FLEET__TARGETUTILISATION).</summary>
    public double TargetUtilisation { get; set; } = 0.8;
    /// <summary>CPUs to plan with instead of the container's quota or the machine's cores (FLEET__CPUS).</summary>
    public double? Cpus { get; set; }
    /// <summary>How often the worker's heartbeat record is written (FLEET__HEARTBEATMS).</summary>
    public int HeartbeatMs { get; set; } = 500;
    /// <summary>Hand-over: how long a successor waits for its inputs before it takes the outputs anyway (FLEET__HANDOVERINPUTWAITMS).</summary>
    public int HandOverInputWaitMs { get; set; } = 3000;
    /// <summary>
    /// The worker that would claim a project whose owner has missed renewals (its lease has less than
    /// <see cref="Overdue"/> left) builds it with outputs held before the lease lapses, so that at the
    /// lapse only the outputs are left to connect (FLEET__PREPAREEARLY).
    /// </summary>
    public bool PrepareEarly { get; set; } = true;

    /// <summary>Calibrated by bench/fleet-cost.sh on the 2-core development machine.</summary>
    public CostCoefficients Cost { get; set; } = new();

    public TimeSpan LeaseTtl => TimeSpan.FromMilliseconds(LeaseTtlMs);
    public TimeSpan RenewInterval => TimeSpan.FromMilliseconds(RenewIntervalMs);
    public TimeSpan RenewTimeout => TimeSpan.FromMilliseconds(RenewTimeoutMs);

    /// <summary>
    /// An owner may (re)connect its outputs only while its last confirmed renewal was sent less than this
    /// long ago: the lease's TTL less one renewal timeout, the budget for clock drift and pauses.
    /// </summary>
    public TimeSpan ConfirmedFor => LeaseTtl - RenewTimeout;

    /// <summary>
    /// A lease with less than this left was not renewed for at least two renewal intervals (a live owner's
    /// lease never drops below TTL − one interval): its owner is dead, hung or cut off, or very late.
    /// </summary>
    public TimeSpan Overdue => LeaseTtl - 2 * RenewInterval;

    internal sealed class Validator : IValidateOptions<FleetOptions>
    {
        public ValidateOptionsResult Validate(string? name, FleetOptions o)
        {
            var errors = new List<string>();
            if (o.LeaseTtlMs is < 500 or > 120_000) errors.Add("FLEET__LEASETTLMS must be 500-120000");
            if (o.RenewIntervalMs < 50 || o.RenewIntervalMs * 3 > o.LeaseTtlMs)
                errors.Add("FLEET__RENEWINTERVALMS must be at least 50 and at most a third of FLEET__LEASETTLMS, so that two renewals can fail before the lease lapses");
            if (o.RenewTimeoutMs < 20 || o.RenewTimeoutMs > o.RenewIntervalMs)
                errors.Add("FLEET__RENEWTIMEOUTMS must be at least 20 and at most FLEET__RENEWINTERVALMS");
            if (!Enum.IsDefined(o.ClaimPolicy)) errors.Add("FLEET__CLAIMPOLICY must be leastLoaded or firstCome");
            if (o.ClaimScanMs is < 20 or > 10_000) errors.Add("FLEET__CLAIMSCANMS must be 20-10000");
            if (o.RankStepMs is < 0 or > 10_000) errors.Add("FLEET__RANKSTEPMS must be 0-10000");
            if (double.IsNaN(o.TargetUtilisation) || o.TargetUtilisation is < 0.05 or > 1.0) errors.Add("FLEET__TARGETUTILISATION must be 0.05-1.0");
            if (o.Cpus is { } cpus && (double.IsNaN(cpus) || cpus is < 0.1 or > 4096)) errors.Add("FLEET__CPUS must be 0.1-4096 when set");
            if (o.HeartbeatMs < 100 || o.HeartbeatMs > o.LeaseTtlMs) errors.Add("FLEET__HEARTBEATMS must be at least 100 and at most FLEET__LEASETTLMS");
            if (o.HandOverInputWaitMs is < 0 or > 60_000) errors.Add("FLEET__HANDOVERINPUTWAITMS must be 0-60000");
            errors.AddRange(o.Cost.Validate());
            return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
        }
    }
}
