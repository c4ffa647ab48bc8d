namespace MixerWorker.Fleet;

/// <summary>
/// What a project costs, in CPUs, by the linear model of <see cref="ProjectCostModel"/> (env
/// FLEET__COST__*). "Mpx/s" is million pixels a second: width × height × fps / 10⁶. The defaults are the
/// non-negative least-squares fit of bench/fleet-cost.sh on the 2-core development machine
/// (bench/results/2026-11-30-0310-vm-fleet.md, docs/fleet.md); another CPU model should be measured again
/// with the same script. Where the fit gave 0 (input decode and box scaling per Mpx/s) the cost did not
/// separate from the bus's per-Mpx/s term, which carries it: the feeds were at the bus's size, as the model assumes.
/// </summary>
public sealed class CostCoefficients
{
    /// <summary>Every project: pipeline, clocks, audio mixing of the Program bus, the control plane's share.</summary>
    public double BaseCpus { get; set; } = 0.092;
    /// <summary>Each input: SRT, demux, audio decode, and its video decode per Mpx/s (inputs are assumed to arrive at the largest bus's size and rate).</summary>
    public double InputCpus { get; set; } = 0.027;
    public double InputCpusPerMpx { get; set; } = 0;
    /// <summary>Each bus with a software encoder: compositing, conversion and x264 per Mpx/s of output, plus Opus, muxing and SRT.</summary>
    public double BusCpus { get; set; } = 0.027;
    public double BusCpusPerMpx { get; set; } = 0.0089;
    /// <summary>Each bus on a GPU encoder: what stays on the CPU (compositing, upload) per Mpx/s. No GPU here to measure it: an estimate, a third of the software figure.</summary>
    public double GpuBusCpusPerMpx { get; set; } = 0.003;
    /// <summary>Scaling a source into a box, per Mpx/s of box area.</summary>
    public double BoxCpusPerMpx { get; set; } = 0;

    internal IEnumerable<string> Validate()
    {
        (string Name, double Value)[] all =
        [
            ("FLEET__COST__BASECPUS", BaseCpus), ("FLEET__COST__INPUTCPUS", InputCpus), ("FLEET__COST__INPUTCPUSPERMPX", InputCpusPerMpx),
            ("FLEET__COST__BUSCPUS", BusCpus), ("FLEET__COST__BUSCPUSPERMPX", BusCpusPerMpx), ("FLEET__COST__GPUBUSCPUSPERMPX", GpuBusCpusPerMpx),
            ("FLEET__COST__BOXCPUSPERMPX", BoxCpusPerMpx),
        ];
        foreach (var (name, value) in all)
            if (double.IsNaN(value) || value is < 0 or > 64) yield return $"{name} must be 0-64";
    }
}
