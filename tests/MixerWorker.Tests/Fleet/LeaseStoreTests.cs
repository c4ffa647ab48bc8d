using System.Diagnostics;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using MixerWorker.ControlPlane;
using MixerWorker.Fleet;
using StackExchange.Redis;
using Xunit;

namespace MixerWorker.Tests.Fleet;

/// <summary>The lease scripts against a real redis-server: exclusivity, epochs, lapse, loss, hand-over, fencing, unanswered claims.</summary>
public sealed class LeaseStoreTests : IAsyncLifetime
{
    private const string Project = "lp";
    private static readonly RedisKeys Keys = new("mixer");
    private readonly List<IAsyncDisposable> _owned = [];
    private RedisServer _redis = null!;
    private ConnectionMultiplexer _client = null!;
    private FleetEvents _events = null!;

    public async Task InitializeAsync()
    {
        _redis = await RedisServer.StartAsync("lease-test-pw-1");
        _client = await _redis.ConnectAsync();
        _events = await FleetEvents.StartAsync(_redis, Keys);
    }

    private IDatabase Db => _client.GetDatabase();

    private LeaseStore Store(string worker, int ttlMs = 6000, string? configuration = null)
    {
        // Timeouts as long as the settings allow: these tests are about the scripts' answers, and a loaded
        // 2-core host (a first EVALSHA is SCRIPT LOAD plus the call) must not turn an answer into "none",
        // which settles by reading the owner and so cannot say what the lease was before. A test that lets a
        // lease lapse or an answer go missing names its shorter TTL.
        var interval = ttlMs / 3;
        var fleet = Options.Create(new FleetOptions { LeaseTtlMs = ttlMs, RenewIntervalMs = interval, RenewTimeoutMs = interval });
        var connection = new LeaseConnection(Options.Create(new RedisOptions { Configuration = configuration ?? _redis.Configuration }), fleet, NullLogger<LeaseConnection>.Instance);
        _owned.Add(connection);
        return new LeaseStore(connection, fleet, Options.Create(new WorkerOptions { Id = worker }));
    }

    private FencedWriter Fenced() => new(new RedisConnection(Options.Create(new RedisOptions { Configuration = _redis.Configuration }), NullLogger<RedisConnection>.Instance));

    private async Task<IReadOnlyList<ProjectEvent>> EventsAsync(int atLeast)
    {
        await WorkerHarness.Eventually(() => Task.FromResult(_events.All.Count >= atLeast), TimeSpan.FromSeconds(5), $"fewer than {atLeast} events");
        return _events.All;
    }

    [Fact]
    public async Task One_holder_at_a_time_and_every_acquisition_raises_the_epoch()
    {
        var a = Store("wa");
        var b = Store("wb");
        var first = await a.AcquireAsync(Project, 0, "claim");
        Assert.Equal(1, first.Acquired!.Epoch);
        Assert.Equal("", first.Previous); // nobody ever held it
        var second = await b.AcquireAsync(Project, 0, "claim");
        Assert.Null(second.Acquired);
        Assert.Equal("wa", second.Holder!.Worker);
        Assert.Equal(RenewOutcome.Renewed, (await a.RenewAsync(Project, first.Acquired)).Outcome);
        Assert.True(await a.ReleaseAsync(Project, first.Acquired, "shutdown"));
        Assert.False(await a.ReleaseAsync(Project, first.Acquired, "shutdown"));
        var third = await b.AcquireAsync(Project, 0, "claim");
        Assert.Equal(2, third.Acquired!.Epoch);
        Assert.Equal("released", third.Previous);

        var events = await EventsAsync(3);
        Assert.Equal([EventTypes.Claimed, EventTypes.Released, EventTypes.Claimed], events.Select(e => e.Type));
        Assert.Equal(("wa", 1L, "shutdown"), (events[1].Worker, events[1].Epoch!.Value, events[1].Reason));
        Assert.Null(events[2].Previous); // released, not lost
        Assert.Empty(_events.Of(EventTypes.Lost));
    }

    [Fact]
    public async Task A_lapsed_lease_is_claimed_by_another_worker_who_reports_it_lost_and_the_old_holder_can_no_longer_write()
    {
        // The lease must outlive the first fenced write (its first script call, on a loaded 2-core host), so
        // the lapse is what the delay makes, not what a slow first call does.
        var a = Store("wa", ttlMs: 1500);
        var b = Store("wb", ttlMs: 1500);
        var fenced = Fenced();
        var held = (await a.AcquireAsync(Project, 0, "claim")).Acquired!;
        Assert.True(await fenced.SetAsync(Db, Project, held, Keys.Status(Project), "{\"by\":\"wa\"}", TimeSpan.FromSeconds(5)));
        await Task.Delay(1800); // wa stops renewing (dead, paused or cut off)
        var claim = await b.AcquireAsync(Project, 0, "claim");
        var taken = claim.Acquired!;
        Assert.Equal(2, taken.Epoch);
        Assert.Equal(held.ToString(), claim.Previous); // the lease it took over lapsed from wa's

        var renewal = await a.RenewAsync(Project, held);
        Assert.Equal(RenewOutcome.Taken, renewal.Outcome);
        Assert.Equal(("wb", 2L), (renewal.Holder!.Worker, renewal.Holder.Epoch));
        // Fencing: the old holder's writes are refused, the new holder's go through.
        Assert.False(await fenced.SetAsync(Db, Project, held, Keys.Status(Project), "{\"by\":\"wa\"}", TimeSpan.FromSeconds(5)));
        Assert.False(await fenced.PublishAsync(Db, Project, held, "{\"type\":\"status\",\"project\":\"lp\"}"));
        Assert.False(await fenced.DeleteAsync(Db, Project, held, Keys.Status(Project)));
        Assert.True(await fenced.SetAsync(Db, Project, taken, Keys.Status(Project), "{\"by\":\"wb\"}", TimeSpan.FromSeconds(5)));
        Assert.Equal("{\"by\":\"wb\"}", (string?)await Db.StringGetAsync(Keys.Status(Project)));

        var events = await EventsAsync(3);
        var lost = Assert.Single(_events.Of(EventTypes.Lost));
        Assert.Equal(("wa", 1L, "wb", "lease-expired"), (lost.Worker, lost.Epoch!.Value, lost.By, lost.Reason));
        Assert.Contains(events, e => e.Type == EventTypes.Claimed && e.Worker == "wb" && e.Epoch == 2 && e.Previous == "wa");
    }

    [Fact]
    public async Task An_owner_takes_its_lease_back_from_an_emptied_Redis_with_a_higher_epoch()
    {
        var a = Store("wa");
        var held = (await a.AcquireAsync(Project, 0, "claim")).Acquired!;
        await Db.KeyDeleteAsync([Keys.Lease(Project), Keys.Epoch(Project), Keys.LastLease(Project)]); // what a restart without persistence does
        Assert.Equal(RenewOutcome.Missing, (await a.RenewAsync(Project, held)).Outcome);
        var retake = await a.AcquireAsync(Project, held.Epoch + 4, "reacquired");
        var again = retake.Acquired!;
        Assert.Equal(6, again.Epoch);
        Assert.Equal("", retake.Previous); // Redis lost the record too: nobody can have held it meanwhile
        Assert.Contains(await EventsAsync(2), e => e.Type == EventTypes.Claimed && e.Reason == "reacquired" && e.Epoch == 6);
    }

    [Fact]
    public async Task A_hand_over_goes_to_exactly_one_successor_which_takes_the_lease_at_the_next_epoch()
    {
        var a = Store("wa");
        var b = Store("wb");
        var c = Store("wc");
        var held = (await a.AcquireAsync(Project, 0, "claim")).Acquired!;
        Assert.Null(await b.ClaimSuccessionAsync(Project, TimeSpan.FromSeconds(5))); // nothing offered yet
        Assert.True(await a.OfferHandOverAsync(Project, held, TimeSpan.FromSeconds(10)));
        var successor = await b.ClaimSuccessionAsync(Project, TimeSpan.FromSeconds(5));
        Assert.NotNull(successor);
        Assert.Null(await c.ClaimSuccessionAsync(Project, TimeSpan.FromSeconds(5)));
        Assert.Equal("not the successor", (await c.TakeOverAsync(Project, "wc:forged")).Why);
        Assert.Equal(RenewOutcome.Renewed, (await a.RenewAsync(Project, held)).Outcome); // the old owner stays on air meanwhile

        var (token, why) = await b.TakeOverAsync(Project, successor!);
        Assert.Null(why);
        Assert.Equal(("wb", 2L), (token!.Worker, token.Epoch));
        Assert.Equal(RenewOutcome.Taken, (await a.RenewAsync(Project, held)).Outcome);
        Assert.False(await Db.KeyExistsAsync(Keys.HandOver(Project)));
        Assert.False(await Db.KeyExistsAsync(Keys.Successor(Project)));

        var events = await EventsAsync(4);
        Assert.Equal([EventTypes.Claimed, EventTypes.HandOver, EventTypes.Released, EventTypes.Claimed], events.Select(e => e.Type));
        Assert.Equal(("wa", "handover", "wb"), (events[2].Worker, events[2].Reason, events[2].By));
        Assert.Equal(("wb", "handover", "wa"), (events[3].Worker, events[3].Reason, events[3].Previous));
    }

    [Fact]
    public async Task A_claim_whose_answer_is_lost_is_settled_by_reading_the_owner()
    {
        await using var proxy = new TcpProxy(_redis.Port);
        var a = Store("wa", ttlMs: 1500, configuration: $"127.0.0.1:{proxy.Port},password={_redis.Password}");
        Assert.Equal(RenewOutcome.Missing, (await a.RenewAsync(Project, new LeaseToken(1, "x", "wa"))).Outcome); // connected
        proxy.CutReplies(); // the script reaches Redis, its answer does not come back
        var clock = Stopwatch.StartNew();
        var result = await a.AcquireAsync(Project, 0, "claim");
        Assert.Null(result.Acquired);
        Assert.NotNull(result.Error);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(2), $"the claim took {clock.ElapsedMilliseconds} ms to give up");
        // It did take the lease; reading the owner tells.
        var holder = LeaseToken.Parse(await Db.StringGetAsync(Keys.Lease(Project)))!;
        Assert.Equal("wa", holder.Worker);
        Assert.False(a.TryAdopt(Project, holder with { Nonce = "other" }, out _));
        Assert.True(a.TryAdopt(Project, holder, out var sentAt));
        Assert.True(sentAt > 0);
        proxy.Heal();
    }

    public async Task DisposeAsync()
    {
        foreach (var d in _owned) await d.DisposeAsync();
        await _events.DisposeAsync();
        await _client.DisposeAsync();
        await _redis.DisposeAsync();
    }
}
