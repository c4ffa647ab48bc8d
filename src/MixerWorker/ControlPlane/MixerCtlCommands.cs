using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using MixerWorker.Pipeline.Scene;
using StackExchange.Redis;

namespace MixerWorker.ControlPlane;

/// <summary>mixerctl's operator commands: built from the arguments, added to the stream, answered by the worker.</summary>
internal static partial class MixerCtl
{
    /// <summary>XADD ... MAXLEN ~ this: the stream keeps about the last thousand commands.</summary>
    internal const int StreamMaxLength = 1000;

    private static readonly HashSet<string> CommandVerbs = ["cut", "auto", "ftb", "preview", "layout", "graphics", "audio", "bus-audio"];

    private static ShowCommand BuildCommand(string verb, string[] rest, CtlArgs a) => (verb, rest) switch
    {
        ("cut", [var bus]) => new CutCommand { Bus = bus },
        ("auto", [var bus]) => new AutoCommand { Bus = bus, Transition = Transition(a) },
        ("ftb", [var bus]) => new FadeToBlackCommand { Bus = bus, DurationMs = a.Int("ms", 1000) },
        ("preview", [var bus, .. var shot]) => new SetPreviewCommand { Bus = bus, Shot = Shot(shot, a) },
        ("layout", [var bus, .. var shot]) => new SetLayoutCommand { Bus = bus, Shot = Shot(shot, a), Transition = Transition(a) },
        ("graphics", [var bus, var layer, var onOff]) => new GraphicsCommand
        {
            Bus = bus,
            Layer = int.TryParse(layer, CultureInfo.InvariantCulture, out var l) ? l : throw new UsageException($"layer '{layer}' is not a number (0-3)"),
            Visible = onOff switch { "on" => true, "off" => false, _ => throw new UsageException($"say on or off, not '{onOff}'") },
        },
        ("audio", [var input]) => new InputAudioCommand
        {
            Input = input,
            GainDb = a.Double("gain"),
            Muted = a.Has("mute") ? true : a.Has("unmute") ? false : null,
            DelayMs = a.Has("delay") ? a.Int("delay", 0) : null,
        },
        ("bus-audio", [var bus]) => new BusAudioCommand
        {
            Bus = bus,
            Mode = a.Has("follow") ? AudioMode.FollowVideo : a.Has("fixed") ? AudioMode.Fixed : null,
            MasterGainDb = a.Double("master"),
        },
        _ => throw new UsageException($"wrong arguments for 'ctl {verb}'; run 'MixerWorker ctl help'"),
    };

    private static TransitionSpec? Transition(CtlArgs a)
    {
        if (!a.Has("kind") && !a.Has("ms") && !a.Has("direction") && !a.Has("color")) return null; // the bus's own transition
        var t = new TransitionSpec();
        return t with
        {
            Kind = a.Enum("kind", t.Kind),
            DurationMs = a.Int("ms", t.DurationMs),
            Direction = a.Enum("direction", t.Direction),
            Color = a.Enum("color", t.Color),
        };
    }

    private static Shot Shot(string[] positional, CtlArgs a)
    {
        if (positional is [var file])
        {
            if (a.Has("preset")) throw new UsageException("give a shot file or --preset, not both");
            try { return JsonSerializer.Deserialize(ReadText(file), CommandJson.Options.Info<Shot>()) ?? throw new UsageException("the shot file holds null"); }
            catch (JsonException e) { throw new UsageException($"shot file {file}: {e.Message}"); }
        }
        if (positional.Length > 0 || !a.Has("preset")) throw new UsageException("give a shot file, or --preset KIND --sources a,b");
        var preset = new LayoutPreset { Kind = a.Enum("preset", PresetKind.Single) };
        return new Shot
        {
            Preset = preset with
            {
                Sources = (a.Value("sources") ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries),
                Corner = a.Enum("corner", preset.Corner),
                Size = a.Double("size") ?? preset.Size,
                Margin = a.Int("margin", preset.Margin),
                Fit = a.Enum("fit", preset.Fit),
            },
        };
    }

    private static Func<IConnectionMultiplexer, RedisKeys, Task<int>> Send(string project, ShowCommand command, CtlArgs a) =>
        (r, k) => SendAsync(r, k, project, CommandJson.Write(command with { Id = a.Value("id") ?? NewId() }), a);

    /// <summary>Any JSON, sent as it is; an object without an "id" gets one, so that the answer can be matched.</summary>
    private static Task<int> SendRawAsync(IConnectionMultiplexer redis, RedisKeys keys, string project, string json, CtlArgs a)
    {
        try
        {
            if (JsonNode.Parse(json) is JsonObject o)
            {
                if (a.Value("id") is { } id) o["id"] = id;
                else if (!o.ContainsKey("id")) o["id"] = NewId();
                json = o.ToJsonString();
            }
        }
        catch (JsonException) { /* the worker says what is wrong with it */ }
        return SendAsync(redis, keys, project, json, a);
    }

    private static string NewId() => "ctl-" + Guid.NewGuid().ToString("N")[..12];

    /// <summary>
    /// XADD the command (MAXLEN ~ 1000) and PUBLISH a <c>command</c> wake-up in one MULTI, then wait for the
    /// worker's commandApplied or error with this command's id (or entry id). Exit 0 applied, 1 refused or no answer.
    /// </summary>
    private static async Task<int> SendAsync(IConnectionMultiplexer redis, RedisKeys keys, string project, string json, CtlArgs a)
    {
        string? id = null;
        try { id = JsonNode.Parse(json)?["id"]?.GetValue<string>(); }
        catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException) { }
        var timeout = a.Seconds("timeout", 10);
        await using var events = await EventQueue.SubscribeAsync(redis, keys.Events(project)); // before sending: the answer can be quick
        var db = redis.GetDatabase();
        var tx = db.CreateTransaction();
        var added = tx.StreamAddAsync(keys.Commands(project), CommandExecutor.CommandField, json, maxLength: StreamMaxLength, useApproximateMaxLength: true);
        _ = ProjectEvents.PublishAsync(tx, keys, ProjectEvents.CommandQueued(project, id));
        await tx.ExecuteAsync();
        var entry = (await added).ToString();
        if (a.Has("no-wait"))
        {
            Console.WriteLine($"{project}: command {id ?? entry} added as {entry}");
            return 0;
        }
        var answer = await events.NextAsync(e => e.Type is EventTypes.CommandApplied or EventTypes.Error
            && (e.Entry == entry || (id is not null && e.Command == id)), timeout);
        if (answer is null)
        {
            Console.Error.WriteLine($"{project}: no answer to command {id ?? entry} ({entry}) within {timeout.TotalSeconds:F0} s; is a worker running the project? (it stays in the stream)");
            return 1;
        }
        Console.WriteLine(ControlPlaneJson.Write(answer));
        if (answer.Type == EventTypes.CommandApplied) return 0;
        foreach (var error in answer.Errors ?? []) Console.Error.WriteLine($"{answer.Reason}: {error}");
        return 1;
    }

    /// <summary>A project's events, collected from the moment of subscribing.</summary>
    private sealed class EventQueue : IAsyncDisposable
    {
        private readonly ChannelMessageQueue _queue;
        private readonly Channel<ProjectEvent> _events = Channel.CreateUnbounded<ProjectEvent>();

        private EventQueue(ChannelMessageQueue queue)
        {
            _queue = queue;
            _queue.OnMessage(m =>
            {
                try
                {
                    if (JsonSerializer.Deserialize(m.Message.ToString(), ControlPlaneJson.Options.Info<ProjectEvent>()) is { } e) _events.Writer.TryWrite(e);
                }
                catch (JsonException) { }
            });
        }

        public static async Task<EventQueue> SubscribeAsync(IConnectionMultiplexer redis, RedisChannel channel) =>
            new(await redis.GetSubscriber().SubscribeAsync(channel));

        public async Task<ProjectEvent?> NextAsync(Func<ProjectEvent, bool> match, TimeSpan timeout)
        {
            using var cts = new CancellationTokenSource(timeout);
            try
            {
                while (true)
                {
                    var e = await _events.Reader.ReadAsync(cts.Token);
                    if (match(e)) return e;
                }
            }
            catch (OperationCanceledException) { return null; }
        }

        public async ValueTask DisposeAsync() => await _queue.UnsubscribeAsync();
    }
}

internal sealed class UsageException(string message) : Exception(message);

/// <summary>Positional arguments and --options (a known set takes a value; the rest are switches).</summary>
internal sealed class CtlArgs
{
    private static readonly HashSet<string> WithValue =
        ["kind", "ms", "direction", "color", "preset", "sources", "corner", "size", "margin", "fit", "gain", "delay", "master", "id", "timeout", "port", "host"];
    private static readonly HashSet<string> Switches = ["mute", "unmute", "follow", "fixed", "no-wait", "json", "meters"];
    private readonly Dictionary<string, string?> _options = [];

    public string[] Positional { get; private set; } = [];

    public static CtlArgs Parse(string[] args)
    {
        var positional = new List<string>();
        var result = new CtlArgs();
        for (var i = 0; i < args.Length; i++)
        {
            if (!args[i].StartsWith("--", StringComparison.Ordinal) || args[i] == "--") { positional.Add(args[i]); continue; }
            var name = args[i][2..];
            if (WithValue.Contains(name))
            {
                if (i + 1 >= args.Length) throw new UsageException($"--{name} needs a value");
                result._options[name] = args[++i];
            }
            else if (Switches.Contains(name)) result._options[name] = null;
            else throw new UsageException($"unknown option --{name}");
        }
        result.Positional = [.. positional];
        return result;
    }

    public bool Has(string name) => _options.ContainsKey(name);
    public string? Value(string name) => _options.GetValueOrDefault(name);

    public int Int(string name, int fallback) => Value(name) is not { } v ? fallback
        : int.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out var i) ? i : throw new UsageException($"--{name} must be a whole number, not '{v}'");

    public double? Double(string name) => Value(name) is not { } v ? null
        : double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) ? d : throw new UsageException($"--{name} must be a number, not '{v}'");

    public TimeSpan Seconds(string name, double fallback) => TimeSpan.FromSeconds(Double(name) ?? fallback);

    public T Enum<T>(string name, T fallback) where T : struct, System.Enum => Value(name) is not { } v ? fallback
        : !int.TryParse(v, out _) && System.Enum.TryParse<T>(v, ignoreCase: true, out var e) && System.Enum.IsDefined(e)
            ? e
            : throw new UsageException($"--{name} must be one of {string.Join("|", System.Enum.GetNames<T>().Select(n => char.ToLowerInvariant(n[0]) + n[1..]))}, not '{v}'");
}
