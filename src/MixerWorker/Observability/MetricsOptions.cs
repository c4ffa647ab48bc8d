using Microsoft.Extensions.Options;

namespace MixerWorker.Observability;

/// <summary>The Metrics section (env METRICS__PORT): where /metrics, /healthz and /readyz are served.</summary>
public sealed class MetricsOptions
{
    public const string Section = "Metrics";

    /// <summary>TCP port on every interface; 0 (the default) serves nothing.</summary>
    public int Port { get; set; }

    /// <summary>How long one scrape waits for a project's engine before it reports that project's last figures.</summary>
    public double ScrapeTimeoutSeconds { get; set; } = 2;

    internal sealed class Validator : IValidateOptions<MetricsOptions>
    {
        public ValidateOptionsResult Validate(string? name, MetricsOptions o)
        {
            var errors = new List<string>();
            if (o.Port is < 0 or > 65535) errors.Add("METRICS__PORT must be 0 (off) or a TCP port, 1-65535");
            if (o.ScrapeTimeoutSeconds is < 0.1 or > 30) errors.Add("METRICS__SCRAPETIMEOUTSECONDS must be 0.1-30");
            return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
        }
    }
}
