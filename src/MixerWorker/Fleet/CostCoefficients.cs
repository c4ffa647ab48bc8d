namespace MixerWorker.Fleet;

/// <summary>
/// What a project costs, in CPUs, by the linear model of <see cref="ProjectCostModel"/> (env
/// FLEET__COST__*). "Mpx/s" is million pixels a second: width × height × fps / 10⁶. The defaults are a
/// least-squares fit of bench/fleet-cost.sh on the 2-core development machine (docs/fleet.md); another
/// CPU model should be measured again with the same script.
/// </summary>
public sealed class CostCoefficients
{
    /// <summary>Every project: pipeline, clocks, audio mixing of the Program bus, the control plane's share.</summary>
    public double BaseCpus { get; set; } = 0.05;
    /// <summary>Each input: SRT, demux, audio decode, and its video decode per Mpx/s (inputs are assumed to arrive at the largest bus's size and rate).</summary>
    public double InputCpus { get; set; } = 0.01;
    public double InputCpusPerMpx { get; set; } = 0.012;
    /// <summary>Each bus with a software encoder: compositing, conversion and x264 per Mpx/s of output, plus Opus, muxing and SRT.</summary>
    public double BusCpus { get; set; } = 0.02;
    public double BusCpusPerMpx { get; set; } = 0.02;
    /// <summary>Each bus on a GPU encoder: what stays on the CPU (compositing, upload) per Mpx/s. No GPU here to measure it: an estimate, a third of the software figure.</summary>
    public double GpuBusCpusPerMpx { get; set; } = 0.007;
    /// <summary>Scaling a source into a box, per Mpx/s of box area.</summary>
    public double BoxCpusPerMpx { get; set; } = 0.006;

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
