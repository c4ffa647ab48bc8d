using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace MixerWorker.Fleet;

/// <summary>
/// Who should take a project that has no owner. Candidates are the live workers that are not draining
/// and have room for its cost (never past capacity). Least-loaded policy: ranked by the share of their
/// capacity they would then use, ties broken by a hash of project and worker, so that equal workers
/// split a batch of projects instead of racing for each.
/// </summary>
public static class Placement
{
    public static IReadOnlyList<WorkerHeartbeat> Candidates(string project, double costCpus, IEnumerable<WorkerHeartbeat> workers) =>
        [.. workers.Where(w => w.State != WorkerStates.Draining && w.FreeCpus + 1e-9 >= costCpus)
            .OrderBy(w => (w.LoadCpus + costCpus) / Math.Max(w.CapacityCpus, 1e-9))
            .ThenBy(w => TieBreak(project, w.Id))];

    /// <summary>How long a worker of this rank waits before it claims (first come: not at all).</summary>
    public static TimeSpan Delay(int rank, ClaimPolicy policy, TimeSpan step) =>
        policy == ClaimPolicy.FirstCome || rank <= 0 ? TimeSpan.Zero : step * rank;

    private static ulong TieBreak(string project, string worker) =>
        BinaryPrimitives.ReadUInt64BigEndian(SHA256.HashData(Encoding.UTF8.GetBytes($"{project}\n{worker}")));
}
