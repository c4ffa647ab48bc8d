using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Configuration;
using MixerWorker.Dashboard;
using MixerWorker.Pipeline.Scene;
using StackExchange.Redis;

namespace MixerWorker.ControlPlane;

/// <summary>
/// mixerctl: the operator's and scripts' client for the Redis protocol (docs/redis-protocol.md).
/// Reads REDIS__CONFIGURATION and REDIS__PREFIX like the worker. Exit codes: 0 done, 1 refused or
/// failed, 2 usage or configuration.
/// </summary>
internal static partial class MixerCtl
{
    private const string Usage = """
        usage: MixerWorker ctl set <project> <scene.json|->   validate and store a desired state (revision: the file's, or the stored one + 1)
               MixerWorker ctl status <project>               print the status the worker reports, with the live lease (owner, epoch)
               MixerWorker ctl workers                        list the live workers: state, capacity, load, projects
               MixerWorker ctl watch <project> [--json] [--meters]   print status, tally and command results as they happen
               MixerWorker ctl list                           list projects with their worker and revisions
               MixerWorker ctl remove <project>               stop the project and delete its desired state and commands
               MixerWorker ctl dashboard [--port N] [--host ADDRESS]   serve a live page of every project (default 127.0.0.1:8090; --host 0.0.0.0 for every interface)

        commands (sent on the project's command stream; each waits for the worker's answer):
               MixerWorker ctl cut <project> <bus>
               MixerWorker ctl auto <project> <bus> [--kind cut|mix|dip|wipe|push|move] [--ms N] [--direction left|right|up|down] [--color black|white]
               MixerWorker ctl ftb <project> <bus> [--ms N]
               MixerWorker ctl preview <project> <bus> <shot.json|-> | --preset single|pip|sideBySide|grid2x2|grid3x3 --sources a,b [--corner topLeft|topRight|bottomLeft|bottomRight] [--size F] [--margin PX] [--fit contain|fill]
               MixerWorker ctl layout <project> <bus> (as preview) [--kind ... --ms N --direction ...]
               MixerWorker ctl graphics <project> <bus> <layer> on|off
               MixerWorker ctl audio <project> <input> [--gain DB] [--mute|--unmute] [--delay MS]
               MixerWorker ctl bus-audio <project> <bus> [--follow|--fixed] [--master DB]
               MixerWorker ctl command <project> <command.json|->   any command as JSON (an "id" is added when it has none)
          options of every command: --id ID (default: a new one), --timeout SECONDS (default 10), --no-wait
        """;

    internal static async Task<int> RunAsync(string[] args, IConfiguration configuration)
    {
        var options = configuration.GetSection(RedisOptions.Section).Get<RedisOptions>() ?? new RedisOptions();
        var invalid = new RedisOptions.Validator().Validate(null, options);
        if (invalid.Failed)
        {
            Console.Error.WriteLine($"configuration is invalid: {invalid.FailureMessage}");
            return 2;
        }
        Func<IConnectionMultiplexer, RedisKeys, Task<int>>? command;
        try { command = Parse(args); }
        catch (UsageException e)
        {
            Console.Error.WriteLine(e.Message);
            return 2;
        }
        if (command is null)
        {
            Console.Error.WriteLine(Usage);
            return 2;
        }
        var client = options.ToClientOptions();
        client.AbortOnConnectFail = true; // a client should say at once that Redis is not there
        try
        {
            await using var redis = await ConnectionMultiplexer.ConnectAsync(client);
            return await command(redis, new RedisKeys(options.Prefix));
        }
        catch (RedisConnectionException)
        {
            Console.Error.WriteLine($"cannot reach Redis at {options.Describe()} (check REDIS__CONFIGURATION)");
            return 1;
        }
    }

    private static Func<IConnectionMultiplexer, RedisKeys, Task<int>>? Parse(string[] args)
    {
        var a = CtlArgs.Parse(args);
        return a.Positional switch
        {
            ["set", var project, var file] => (r, k) => SetAsync(r.GetDatabase(), k, project, file),
            ["status", var project] => (r, k) => StatusAsync(r.GetDatabase(), k, project),
            ["watch", var project] => (r, k) => WatchAsync(r, k, project, a.Has("json"), a.Has("meters")),
            ["list"] => (r, k) => ListAsync(r.GetDatabase(), k),
            ["workers"] => (r, k) => WorkersAsync(r.GetDatabase(), k, a.Has("json")),
            ["remove", var project] => (r, k) => RemoveAsync(r, k, project, a.Seconds("timeout", 10)),
            ["dashboard"] => Dashboard(a),
            ["command", var project, var file] => (r, k) => SendRawAsync(r, k, project, ReadText(file), a),
            [var verb, var project, .. var rest] when CommandVerbs.Contains(verb) => Send(project, BuildCommand(verb, rest, a), a),
            _ => null,
        };
    }

    private static Func<IConnectionMultiplexer, RedisKeys, Task<int>> Dashboard(CtlArgs a)
    {
        var port = a.Int("port", 8090);
        if (port is < 1 or > 65535) throw new UsageException($"--port must be 1-65535, not {port}");
        var host = a.Value("host") ?? "127.0.0.1";
        return (r, k) => DashboardServer.RunAsync(r, k, host, port);
    }

    private static string ReadText(string file) => file == "-" ? Console.In.ReadToEnd() : File.ReadAllText(file);

    private static async Task<int> SetAsync(IDatabase db, RedisKeys keys, string project, string file)
    {
        SceneDefinition scene;
        try { scene = SceneJson.Parse(ReadText(file)); }
        catch (SceneException e)
        {
            foreach (var error in e.Errors) Console.Error.WriteLine($"scene: {error}");
            return 1;
        }
        if (scene.Project != project)
        {
            Console.Error.WriteLine($"the scene is for project '{scene.Project}', not '{project}'");
            return 1;
        }
        // Optimistic concurrency: the revision must grow, and two writers must not both take the same one.
        var key = keys.Desired(project);
        var stored = await db.StringGetAsync(key);
        var current = StoredRevision(stored);
        var revision = scene.Revision > current ? scene.Revision : current + 1;
        var tx = db.CreateTransaction();
        tx.AddCondition(stored.IsNull ? Condition.KeyNotExists(key) : Condition.StringEqual(key, stored));
        _ = tx.StringSetAsync(key, SceneJson.Write(scene with { Revision = revision }));
        _ = tx.SetAddAsync(keys.Projects, project);
        _ = tx.KeyDeleteAsync(keys.Removed(project)); // a project created again after a removal
        _ = ProjectEvents.PublishAsync(tx, keys, ProjectEvents.Desired(project, revision));
        if (!await tx.ExecuteAsync())
        {
            Console.Error.WriteLine("the desired state changed meanwhile; run the command again");
            return 1;
        }
        Console.WriteLine($"{project}: revision {revision} stored");
        return 0;
    }

    private static long StoredRevision(RedisValue stored) => stored.IsNull ? 0 : SceneRevision.Of(stored.ToString());

    /// <summary>The status key, with the live lease added as "lease" (owner, epoch, ms left), which may be newer than the status.</summary>
    private static async Task<int> StatusAsync(IDatabase db, RedisKeys keys, string project)
    {
        var status = await db.StringGetAsync(keys.Status(project));
        var lease = await db.StringGetWithExpiryAsync(keys.Lease(project));
        var holder = Fleet.LeaseToken.Parse(lease.Value);
        if (status.IsNull && holder is null)
        {
            Console.Error.WriteLine($"{project}: no status and no owner (no worker runs it, or its worker stopped reporting)");
            return 1;
        }
        var node = status.IsNull ? new JsonObject { ["project"] = project } : JsonNode.Parse(status.ToString())!.AsObject();
        node["lease"] = holder is null ? null : new JsonObject
        {
            ["owner"] = holder.Worker,
            ["epoch"] = holder.Epoch,
            ["expiresInMs"] = (long?)lease.Expiry?.TotalMilliseconds,
        };
        Console.WriteLine(node.ToJsonString());
        return 0;
    }

    private static async Task<int> WorkersAsync(IDatabase db, RedisKeys keys, bool json)
    {
        var ids = await db.SortedSetRangeByScoreAsync(keys.Workers, DateTimeOffset.UtcNow.Add(-Fleet.FleetView.Forget).ToUnixTimeMilliseconds());
        var live = new List<Fleet.WorkerHeartbeat>();
        foreach (var id in ids.Select(i => i.ToString()).Order(StringComparer.Ordinal))
            if (await db.StringGetAsync(keys.Worker(id)) is { IsNull: false } value && JsonSerializer.Deserialize(value.ToString(), ControlPlaneJson.Options.Info<Fleet.WorkerHeartbeat>()) is { } w)
                live.Add(w);
        if (json)
        {
            Console.WriteLine(ControlPlaneJson.Write(live));
            return 0;
        }
        if (live.Count == 0) Console.Error.WriteLine("no live worker");
        foreach (var w in live)
        {
            var projects = w.Projects.Count == 0 ? "-" : string.Join(",", w.Projects.Select(p => $"{p.Project}@{p.Epoch?.ToString() ?? p.Role}"));
            Console.WriteLine(FormattableString.Invariant(
                $"{w.Id}	{w.State}	load {w.LoadCpus:0.00}/{w.CapacityCpus:0.00} CPUs (estimated {w.EstimatedCpus:0.00}, measured {w.MeasuredCpus:0.00})	{w.Cpus:0.##} CPUs from {w.CpusSource}	{w.EncoderBackend}	{w.Host}	v{w.Version}	projects {projects}"));
        }
        return 0;
    }

    private static async Task<int> ListAsync(IDatabase db, RedisKeys keys)
    {
        foreach (var member in (await db.SetMembersAsync(keys.Projects)).Select(m => m.ToString()).Order())
        {
            var desired = StoredRevision(await db.StringGetAsync(keys.Desired(member)));
            var status = await db.StringGetAsync(keys.Status(member));
            var running = status.IsNull ? null : JsonSerializer.Deserialize(status.ToString(), ControlPlaneJson.Options.Info<ProjectStatus>());
            Console.WriteLine(running switch
            {
                null => $"{member}\tdesired {desired}\tnot running",
                { State: ProjectStates.Waiting } => $"{member}\tdesired {desired}\twaiting ({running.Reason}: needs {running.Waiting?.CostCpus:0.###} CPUs, {running.Waiting?.LargestFreeCpus:0.###} free at most)",
                _ => $"{member}\tdesired {desired}\tapplied {running.Revision}\ton {running.Worker} (epoch {running.Epoch})",
            });
        }
        return 0;
    }

    /// <summary>
    /// Deletes the project's desired state and commands and leaves a tombstone (a day) that tells the
    /// worker to stop it; waits for the worker's <c>stopped</c> when a worker runs it.
    /// </summary>
    private static async Task<int> RemoveAsync(IConnectionMultiplexer redis, RedisKeys keys, string project, TimeSpan timeout)
    {
        var db = redis.GetDatabase();
        var running = await db.KeyExistsAsync(keys.Status(project));
        await using var events = await EventQueue.SubscribeAsync(redis, keys.Events(project));
        var tx = db.CreateTransaction();
        _ = tx.SetRemoveAsync(keys.Projects, project);
        var deleted = tx.KeyDeleteAsync([keys.Desired(project), keys.Commands(project), keys.CommandCursor(project), keys.CommandIds(project)]);
        _ = tx.StringSetAsync(keys.Removed(project), DateTimeOffset.UtcNow.ToString("O"), RemovedTombstoneTtl);
        _ = ProjectEvents.PublishAsync(tx, keys, ProjectEvents.Removed(project));
        await tx.ExecuteAsync();
        if (!running)
        {
            Console.WriteLine($"{project}: removed ({await deleted} key(s) deleted; no worker was running it)");
            return 0;
        }
        var stopped = await events.NextAsync(e => e.Type == EventTypes.Stopped, timeout);
        if (stopped is null)
        {
            Console.Error.WriteLine($"{project}: removed, but no worker said it stopped within {timeout.TotalSeconds:F0} s");
            return 1;
        }
        Console.WriteLine($"{project}: removed; stopped by {stopped.Worker}");
        return 0;
    }

    /// <summary>How long a removal tombstone lasts: longer than any worker stays away, shorter than forever.</summary>
    internal static readonly TimeSpan RemovedTombstoneTtl = TimeSpan.FromDays(1);

    private static async Task<int> WatchAsync(IConnectionMultiplexer redis, RedisKeys keys, string project, bool json, bool meters)
    {
        var done = new TaskCompletionSource();
        Console.CancelKeyPress += (_, e) => { e.Cancel = true; done.TrySetResult(); };
        var queue = await redis.GetSubscriber().SubscribeAsync(keys.Events(project));
        queue.OnMessage(m =>
        {
            var text = m.Message.ToString();
            ProjectEvent? e = null;
            try { e = JsonSerializer.Deserialize(text, ControlPlaneJson.Options.Info<ProjectEvent>()); }
            catch (JsonException) { }
            if (e?.Type == EventTypes.Meters && !meters) return;
            Console.WriteLine(json || e is null ? text : $"{DateTime.Now:HH:mm:ss.fff} {Describe(e, text)}");
        });
        Console.Error.WriteLine($"watching {keys.Events(project)}; Ctrl-C to stop");
        var status = await redis.GetDatabase().StringGetAsync(keys.Status(project));
        if (!status.IsNull && !json && JsonSerializer.Deserialize(status.ToString(), ControlPlaneJson.Options.Info<ProjectStatus>()) is { } s)
        {
            Console.WriteLine($"{DateTime.Now:HH:mm:ss.fff} now: {Describe(s)}");
            if (s.Tally is { } t) Console.WriteLine($"{DateTime.Now:HH:mm:ss.fff} now: {Describe(t)}");
        }
        await done.Task;
        return 0;
    }

    /// <summary>One readable line per event.</summary>
    internal static string Describe(ProjectEvent e, string raw) => e.Type switch
    {
        EventTypes.Status when e.Status is { } s => Describe(s),
        EventTypes.Tally when e.Tally is { } t => Describe(t),
        EventTypes.CommandApplied => $"commandApplied {e.Command} ({e.Entry}) revision {e.Revision}{(e.Duplicate == true ? " (already applied before; nothing done)" : "")}",
        EventTypes.Error => $"error {e.Reason}{(e.Command is null ? "" : $" [{e.Command}]")}{(e.Revision is null ? "" : $" revision {e.Revision}")}: {string.Join("; ", e.Errors ?? [])}",
        EventTypes.Applied => $"applied revision {e.Revision} on {e.Worker}",
        EventTypes.Claimed => $"claimed by {e.Worker} at epoch {e.Epoch} ({e.Reason}{(e.Previous is null ? "" : $", after {e.Previous}")})",
        EventTypes.Released => $"released by {e.Worker} (epoch {e.Epoch}, {e.Reason}{(e.By is null ? "" : $", to {e.By}")})",
        EventTypes.Lost => $"lost by {e.Worker} (epoch {e.Epoch}: {e.Reason}), taken by {e.By}",
        EventTypes.HandOver => $"handover offered by draining {e.Worker} (epoch {e.Epoch})",
        EventTypes.Meters when e.Meters is { } m => "meters " + string.Join("  ", m.Inputs.Select(i => $"{i.Key} {i.Value.PeakDb:F1}/{i.Value.RmsDb:F1}")
            .Concat(m.Buses.Select(b => $"[{b.Key}] {b.Value.PeakDb:F1}/{b.Value.RmsDb:F1}"))) + " dB peak/rms",
        _ => raw,
    };

    private static string Describe(ProjectStatus s) => s.State == ProjectStates.Waiting
        ? $"status waiting ({s.Reason}): needs {s.Waiting?.CostCpus:0.###} CPUs, the most any of {s.Waiting?.Workers} worker(s) has free is {s.Waiting?.LargestFreeCpus:0.###}"
        : $"status revision {s.Revision} on {s.Worker} (epoch {s.Epoch}{(s.State == ProjectStates.HandingOver ? ", handing over" : "")}): inputs " +
        string.Join(", ", s.Inputs.OrderBy(i => i.Key).Select(i => $"{i.Key}={i.Value.State.ToString().ToLowerInvariant()}{(i.Value.Ingest is { } g ? $" ({g})" : "")}")) +
        "; buses " + string.Join(", ", s.Buses.OrderBy(b => b.Key).Select(b =>
            $"{b.Key}={b.Value.Output.ToString().ToLowerInvariant()}{(b.Value.Published is { } p ? p ? " (published)" : " (not published)" : "")}"));

    private static string Describe(IReadOnlyDictionary<string, BusTally> tally) =>
        "tally " + string.Join("; ", tally.OrderBy(b => b.Key).Select(b =>
            $"{b.Key}: on air {(b.Value.OnAir.Count == 0 ? "-" : string.Join(",", b.Value.OnAir))} | preview {(b.Value.Preview.Count == 0 ? "-" : string.Join(",", b.Value.Preview))}"));
}
