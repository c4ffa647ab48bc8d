using System.Text.Json;
using Microsoft.Extensions.Configuration;
using MixerWorker.Pipeline.Scene;
using StackExchange.Redis;

namespace MixerWorker.ControlPlane;

/// <summary>
/// mixerctl: the operator's and scripts' client for the Redis protocol (docs/redis-protocol.md).
/// Reads REDIS__CONFIGURATION and REDIS__PREFIX like the worker. Exit codes: 0 done, 1 refused or
/// failed, 2 usage or configuration.
/// </summary>
internal static class MixerCtl
{
    private const string Usage = """
        usage: MixerWorker ctl set <project> <scene.json|->   validate and store a desired state (revision: the file's, or the stored one + 1)
               MixerWorker ctl status <project>               print the status the worker reports
               MixerWorker ctl watch <project>                print the project's events until interrupted
               MixerWorker ctl list                           list projects with their worker and revisions
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
        Func<IConnectionMultiplexer, RedisKeys, Task<int>>? command = args switch
        {
            ["set", var project, var file] => (r, k) => SetAsync(r.GetDatabase(), k, project, file),
            ["status", var project] => (r, k) => StatusAsync(r.GetDatabase(), k, project),
            ["watch", var project] => (r, k) => WatchAsync(r, k, project),
            ["list"] => (r, k) => ListAsync(r.GetDatabase(), k),
            _ => null,
        };
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

    private static async Task<int> SetAsync(IDatabase db, RedisKeys keys, string project, string file)
    {
        SceneDefinition scene;
        try { scene = SceneJson.Parse(file == "-" ? await Console.In.ReadToEndAsync() : await File.ReadAllTextAsync(file)); }
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
        _ = tx.PublishAsync(keys.Events(project), ControlPlaneJson.Write(new ProjectEvent { Type = EventTypes.Desired, Project = project, Revision = revision }));
        if (!await tx.ExecuteAsync())
        {
            Console.Error.WriteLine("the desired state changed meanwhile; run the command again");
            return 1;
        }
        Console.WriteLine($"{project}: revision {revision} stored");
        return 0;
    }

    private static long StoredRevision(RedisValue stored)
    {
        if (stored.IsNull) return 0;
        try
        {
            using var doc = JsonDocument.Parse(stored.ToString());
            return doc.RootElement.TryGetProperty("revision", out var r) && r.TryGetInt64(out var v) ? v : 0;
        }
        catch (JsonException) { return 0; }
    }

    private static async Task<int> StatusAsync(IDatabase db, RedisKeys keys, string project)
    {
        var status = await db.StringGetAsync(keys.Status(project));
        if (status.IsNull)
        {
            Console.Error.WriteLine($"{project}: no status (no worker runs it, or its worker stopped reporting)");
            return 1;
        }
        Console.WriteLine(status.ToString());
        return 0;
    }

    private static async Task<int> WatchAsync(IConnectionMultiplexer redis, RedisKeys keys, string project)
    {
        var done = new TaskCompletionSource();
        Console.CancelKeyPress += (_, e) => { e.Cancel = true; done.TrySetResult(); };
        var queue = await redis.GetSubscriber().SubscribeAsync(keys.Events(project));
        queue.OnMessage(m => Console.WriteLine(m.Message.ToString()));
        Console.Error.WriteLine($"watching {keys.Events(project)}; Ctrl-C to stop");
        await done.Task;
        return 0;
    }

    private static async Task<int> ListAsync(IDatabase db, RedisKeys keys)
    {
        foreach (var member in (await db.SetMembersAsync(keys.Projects)).Select(m => m.ToString()).Order())
        {
            var desired = StoredRevision(await db.StringGetAsync(keys.Desired(member)));
            var status = await db.StringGetAsync(keys.Status(member));
            var running = status.IsNull ? null : JsonSerializer.Deserialize<ProjectStatus>(status.ToString(), ControlPlaneJson.Options);
            Console.WriteLine(running is null
                ? $"{member}\tdesired {desired}\tnot running"
                : $"{member}\tdesired {desired}\tapplied {running.Revision}\ton {running.Worker}");
        }
        return 0;
    }
}
