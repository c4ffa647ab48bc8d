using MixerWorker.Pipeline.Scene;

namespace MixerWorker.Tests.Fleet;

/// <summary>
/// What every fake mixer of a test did, across its in-process workers; it also plays MediaMTX's
/// overridePublisher: a project's new publisher replaces the current one.
/// </summary>
public sealed class FakeMixerLedger
{
    private readonly Lock _lock = new();
    private readonly List<FakeProjectMixer> _started = [];
    private readonly List<(string Project, string Worker, FakeProjectMixer Mixer, ShowCommand Command)> _commands = [];
    private readonly List<FakePublishSession> _sessions = [];

    /// <summary>One fake publisher's time on air.</summary>
    public sealed record FakePublishSession(string Project, string Worker, DateTimeOffset Started)
    {
        public DateTimeOffset? Ended { get; set; }
        public bool Replaced { get; set; }
    }

    /// <summary>How long every fake mixer's <c>ExecuteAsync</c> takes to return after the command took effect.</summary>
    public TimeSpan CommandDelay { get; set; }

    /// <summary>While set, every fake mixer's <c>ExecuteAsync</c> returns only once it completes (the command is on air already).</summary>
    public TaskCompletionSource? CommandHold { get; set; }

    /// <summary>While set, every fake mixer's start waits for it: a scene that takes long to build.</summary>
    public TaskCompletionSource? BuildHold { get; set; }

    /// <summary>While true, every fake mixer reports its inputs as not connected yet.</summary>
    public bool InputsDown { get; set; }

    internal void Started(FakeProjectMixer mixer) { lock (_lock) _started.Add(mixer); }

    internal void Command(FakeProjectMixer mixer, ShowCommand command) { lock (_lock) _commands.Add((mixer.Project, mixer.Worker, mixer, command)); }

    internal void Published(FakeProjectMixer mixer)
    {
        List<FakeProjectMixer> replaced;
        lock (_lock)
        {
            _sessions.Add(new FakePublishSession(mixer.Project, mixer.Worker, DateTimeOffset.UtcNow));
            replaced = [.. _started.Where(m => m != mixer && m.Project == mixer.Project && m.Published)];
        }
        foreach (var old in replaced) old.Replace();
    }

    internal void Ended(FakeProjectMixer mixer, bool replaced)
    {
        lock (_lock)
            if (_sessions.LastOrDefault(s => s.Project == mixer.Project && s.Worker == mixer.Worker && s.Ended is null) is { } session)
            {
                session.Ended = DateTimeOffset.UtcNow;
                session.Replaced = replaced;
            }
    }

    /// <summary>Every mixer ever started, in order.</summary>
    public IReadOnlyList<FakeProjectMixer> All { get { lock (_lock) return [.. _started]; } }

    /// <summary>The mixers running now.</summary>
    public IReadOnlyList<FakeProjectMixer> Running => [.. All.Where(m => !m.Disposed)];

    /// <summary>Every command carried out, by which mixer, in order.</summary>
    public IReadOnlyList<(string Project, string Worker, FakeProjectMixer Mixer, ShowCommand Command)> Commands { get { lock (_lock) return [.. _commands]; } }

    public IReadOnlyList<FakePublishSession> Sessions { get { lock (_lock) return [.. _sessions.Select(s => s with { })]; } }
}
