using Microsoft.Extensions.Options;
using MixerWorker.Fleet;
using MixerWorker.Pipeline.Engine;
using Xunit;

namespace MixerWorker.Tests.Fleet;

/// <summary>Placement ranking, cgroup CPU limits, the cost model and the fleet settings' validation.</summary>
public sealed class FleetUnitTests
{
    private static WorkerHeartbeat Worker(string id, double load, double capacity = 1.6, string state = WorkerStates.Active) => new()
    {
        Id = id, Host = "h", Version = "v", State = state, StartedAt = DateTimeOffset.UtcNow, UpdatedAt = DateTimeOffset.UtcNow,
        Cpus = capacity / 0.8, CpusSource = "test", TargetUtilisation = 0.8, CapacityCpus = capacity,
        EstimatedCpus = load, MeasuredCpus = 0, LoadCpus = load, EncoderBackend = "software", EncoderBackends = ["software"],
        GpuSessions = 0, ClaimPolicy = "LeastLoaded", Projects = [],
    };

    [Fact]
    public void The_least_loaded_worker_with_room_ranks_first_and_full_or_draining_workers_not_at_all()
    {
        var ranked = Placement.Candidates("p", 0.5, [Worker("a", 0.9), Worker("b", 0.2), Worker("c", 1.2), Worker("d", 0.0, state: WorkerStates.Draining), Worker("e", 0.5)]);
        Assert.Equal(["b", "e", "a"], ranked.Select(w => w.Id)); // c has 0.4 free < 0.5; d drains
        Assert.Empty(Placement.Candidates("p", 2.0, [Worker("a", 0)]));
        Assert.Equal(TimeSpan.Zero, Placement.Delay(0, ClaimPolicy.LeastLoaded, TimeSpan.FromMilliseconds(300)));
        Assert.Equal(TimeSpan.FromMilliseconds(600), Placement.Delay(2, ClaimPolicy.LeastLoaded, TimeSpan.FromMilliseconds(300)));
        Assert.Equal(TimeSpan.Zero, Placement.Delay(2, ClaimPolicy.FirstCome, TimeSpan.FromMilliseconds(300)));
    }

    [Fact]
    public void Equal_workers_split_projects_between_them_by_a_stable_tie_break()
    {
        var workers = new[] { Worker("a", 0), Worker("b", 0), Worker("c", 0) };
        var firsts = Enumerable.Range(0, 60).Select(i => Placement.Candidates($"p{i}", 0.1, workers)[0].Id).GroupBy(x => x).ToDictionary(g => g.Key, g => g.Count());
        Assert.Equal(3, firsts.Count);
        Assert.All(firsts.Values, n => Assert.InRange(n, 8, 35));
        Assert.Equal(Placement.Candidates("p7", 0.1, workers)[0].Id, Placement.Candidates("p7", 0.1, workers.Reverse())[0].Id);
    }

    [Fact]
    public void Cpus_come_from_the_cgroup_v2_or_v1_quota_or_the_core_count()
    {
        var root = Directory.CreateTempSubdirectory("cgroup-").FullName;
        try
        {
            var v2 = Path.Combine(root, "sys/fs/cgroup");
            Directory.CreateDirectory(v2);
            File.WriteAllText(Path.Combine(v2, "cpu.max"), "150000 100000\n");
            Assert.Equal(new CpuCapacity.Detected(1.5, $"cgroup v2 cpu.max ({v2})"), CpuCapacity.Detect(root, processorCount: 8));
            Assert.Equal(1.5, CpuCapacity.Detect(root, processorCount: 8).Cpus);
            File.WriteAllText(Path.Combine(v2, "cpu.max"), "max 100000\n");
            Assert.Equal(8, CpuCapacity.Detect(root, processorCount: 8).Cpus);
            // A quota above the cores is no use: the cores are the limit.
            File.WriteAllText(Path.Combine(v2, "cpu.max"), "1600000 100000\n");
            Assert.Equal(8, CpuCapacity.Detect(root, processorCount: 8).Cpus);

            File.Delete(Path.Combine(v2, "cpu.max"));
            var v1 = Path.Combine(root, "sys/fs/cgroup/cpu,cpuacct");
            Directory.CreateDirectory(v1);
            File.WriteAllText(Path.Combine(v1, "cpu.cfs_quota_us"), "250000\n");
            File.WriteAllText(Path.Combine(v1, "cpu.cfs_period_us"), "100000\n");
            var detected = CpuCapacity.Detect(root, processorCount: 8);
            Assert.Equal(2.5, detected.Cpus);
            Assert.StartsWith("cgroup v1", detected.Source);
            File.WriteAllText(Path.Combine(v1, "cpu.cfs_quota_us"), "-1\n");
            Assert.Equal(new CpuCapacity.Detected(8, "processor count"), CpuCapacity.Detect(root, processorCount: 8));
        }
        finally { Directory.Delete(root, recursive: true); }
    }

    [Fact]
    public void A_project_costs_more_with_more_pixels_inputs_and_buses_and_less_on_a_GPU()
    {
        var model = new ProjectCostModel(Options.Create(new FleetOptions()));
        var small = model.Estimate(FleetScenes.Small("p"), "software");
        var medium = model.Estimate(FleetScenes.Medium("p"), "software");
        var huge = model.Estimate(FleetScenes.Huge("p"), "software");
        var hugeOnGpu = model.Estimate(FleetScenes.Huge("p"), "nvenc");
        Assert.True(small.Cpus < medium.Cpus && medium.Cpus < huge.Cpus, $"{small.Cpus} < {medium.Cpus} < {huge.Cpus}");
        Assert.True(hugeOnGpu.Cpus < huge.Cpus);
        Assert.Equal((0, 8), (huge.GpuSessions, hugeOnGpu.GpuSessions));
    }

    [Fact]
    public async Task The_publish_gate_closes_by_itself_once_the_lease_is_too_old_and_opens_only_when_told_again()
    {
        // The renewal loop that would close the gate on time may be the one starved (a loaded host): the
        // gate asks "lease still confirmed?" at every connection attempt.
        var confirmed = true;
        var gate = new PublishGate(open: true, stillOpen: () => confirmed);
        Assert.True(gate.IsOpen);
        confirmed = false;
        Assert.False(gate.IsOpen);
        var waiting = gate.WaitOpenAsync(CancellationToken.None);
        confirmed = true;
        Assert.False(gate.IsOpen); // closed until the runtime sees a confirmed renewal and opens it
        Assert.False(waiting.IsCompleted);
        gate.Open();
        await waiting.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.True(gate.IsOpen);
    }

    [Fact]
    public void Fleet_settings_are_refused_with_the_variable_named()
    {
        var validator = new FleetOptions.Validator();
        Assert.True(validator.Validate(null, new FleetOptions()).Succeeded);
        (FleetOptions Options, string Variable)[] bad =
        [
            (new FleetOptions { LeaseTtlMs = 100 }, "FLEET__LEASETTLMS"),
            (new FleetOptions { RenewIntervalMs = 1000 }, "FLEET__RENEWINTERVALMS"),
            (new FleetOptions { RenewTimeoutMs = 600 }, "FLEET__RENEWTIMEOUTMS"),
            (new FleetOptions { ClaimPolicy = (ClaimPolicy)7 }, "FLEET__CLAIMPOLICY"),
            (new FleetOptions { TargetUtilisation = 1.5 }, "FLEET__TARGETUTILISATION"),
            (new FleetOptions { Cpus = 0 }, "FLEET__CPUS"),
            (new FleetOptions { HeartbeatMs = 5000 }, "FLEET__HEARTBEATMS"),
            (new FleetOptions { Cost = new CostCoefficients { BusCpusPerMpx = -1 } }, "FLEET__COST__BUSCPUSPERMPX"),
        ];
        foreach (var (options, variable) in bad)
        {
            var result = validator.Validate(null, options);
            Assert.True(result.Failed, variable);
            Assert.Contains(variable, result.FailureMessage);
        }
    }
}
