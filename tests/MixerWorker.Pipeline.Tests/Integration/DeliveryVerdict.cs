using MixerWorker.Testbed.Timing;
using Xunit.Abstractions;
using Xunit.Sdk;

namespace MixerWorker.Pipeline.Tests.Integration;

/// <summary>
/// A verdict on what a show delivered in wall time (a delay, a frame gap, pictures in time) judged by what the machine
/// delivered over the same stretch (<see cref="MachineShare.NotDelivered"/>), as <see cref="MotionRig"/> judges its
/// measurements, for a test that measures once. The strict checks decide where the machine delivered; where it did
/// not and they fail, only the checks no shortage of CPU explains decide, and the output and any failure say so,
/// with the machine's readings.
/// <code>
/// DeliveryVerdict.Calibrate(output); // before the show loads the machine
/// var from = MachineShare.NowWithProbes();
/// ... measure ...
/// DeliveryVerdict.Judge(output, MachineShare.Since(from), strict: () => ..., live: () => ...);
/// </code>
/// </summary>
internal static class DeliveryVerdict
{
    /// <summary>Times the yardstick on a machine the show does not load yet: each measurement's is read against it.</summary>
    public static void Calibrate(ITestOutputHelper output) =>
        output.WriteLine($"yardstick calibrated: {Yardstick.Calibrate():0.000} ms of CPU time a piece");

    /// <summary>
    /// Runs <paramref name="strict"/>; where it fails and the machine did not deliver over <paramref name="machine"/>'s
    /// measurement, <paramref name="live"/> decides instead (what no shortage explains).
    /// </summary>
    public static void Judge(ITestOutputHelper output, MachineShare machine, Action strict, Action live)
    {
        output.WriteLine(machine.ToString());
        var notDelivered = machine.NotDelivered;
        try
        {
            strict();
        }
        catch (XunitException e) when (notDelivered is null)
        {
            throw new XunitException($"{e.Message}\nthe machine delivered (no reading says otherwise): the failure is the show's\n{machine}");
        }
        catch (XunitException e)
        {
            var weak = $"the machine did not deliver ({notDelivered}): held only to what no shortage explains; what failed the strict checks:\n{e.Message}\n{machine}";
            output.WriteLine(weak);
            try { live(); }
            catch (XunitException l) { throw new XunitException($"{l.Message}\n{weak}"); }
        }
    }
}
