using Microsoft.Extensions.Options;
using MixerWorker.Pipeline.Scene;

namespace MixerWorker.Fleet;

/// <summary>
/// Estimates a project's CPU cost from its scene with the calibrated linear model (coefficients in
/// <see cref="CostCoefficients"/>, measured by bench/fleet-cost.sh): a base per project, per input a
/// constant plus decoding per Mpx/s, per bus a constant plus compositing and encoding per Mpx/s
/// (a GPU bus leaves only compositing and upload on the CPU), and scaling per Mpx/s of box area.
/// The scene does not say what the feeds send, so inputs count at the largest bus's size and rate.
/// </summary>
public sealed class ProjectCostModel(IOptions<FleetOptions> options)
{
    private readonly CostCoefficients _c = options.Value.Cost;

    /// <summary>An unreadable scene still costs a project's base: the worker that claims it reports the errors.</summary>
    public ProjectCost Base => new(_c.BaseCpus, 0);

    public ProjectCost Estimate(SceneDefinition scene, string encoderBackend)
    {
        var buses = scene.Buses.Where(b => b.Enabled).ToList();
        var gpu = encoderBackend is not "software";
        var inputMpx = buses.Count == 0 ? 0 : buses.Max(b => Mpx(b.Format.Width, b.Format.Height, b.Format.Fps));
        var cpus = _c.BaseCpus + scene.Inputs.Count * (_c.InputCpus + _c.InputCpusPerMpx * inputMpx);
        foreach (var bus in buses)
        {
            var f = bus.Format;
            var mpx = Mpx(f.Width, f.Height, f.Fps);
            cpus += _c.BusCpus + (gpu ? _c.GpuBusCpusPerMpx : _c.BusCpusPerMpx) * mpx;
            // A multiview tiles every input over its whole frame; a composition scales each box.
            var boxMpx = bus.Kind == BusKind.Multiview ? mpx : BoxesMpx(bus);
            cpus += _c.BoxCpusPerMpx * boxMpx;
        }
        return new ProjectCost(Math.Round(cpus, 4), gpu ? buses.Count : 0);
    }

    private static double BoxesMpx(BusDefinition bus)
    {
        IReadOnlyList<Box> boxes;
        try { boxes = bus.ProgramBoxes(); }
        catch (SceneException) { return Mpx(bus.Format.Width, bus.Format.Height, bus.Format.Fps); }
        return boxes.Sum(b => Mpx(Math.Min(b.Width, bus.Format.Width), Math.Min(b.Height, bus.Format.Height), bus.Format.Fps));
    }

    private static double Mpx(int width, int height, int fps) => (double)width * height * fps / 1e6;
}
