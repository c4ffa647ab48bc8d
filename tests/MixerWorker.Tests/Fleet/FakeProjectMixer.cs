using MixerWorker.Pipeline.Engine;
using MixerWorker.Pipeline.Scene;

namespace MixerWorker.Tests.Fleet;

/// <summary>
/// A stand-in engine for placement and hand-over tests with many projects: it keeps the scene, reduces
/// commands with the real <see cref="ShowReducer"/>, reports every input live, and "publishes" its outputs
/// the way the real one does: only through an open <see cref="PublishGate"/>, replacing whoever published
/// the project before (the <see cref="FakeMixerLedger"/> plays MediaMTX), and reconnecting after being
/// replaced whenever its gate is open, so a fight between two workers would show.
/// </summary>
public sealed class FakeProjectMixer : IProjectMixer
{
    private static readonly TimeSpan ReconnectDelay = TimeSpan.FromMilliseconds(200);
    private readonly Lock _lock = new();
    private readonly PublishGate _publish;
    private readonly FakeMixerLedger _ledger;
    private readonly CancellationTokenSource _stop = new();
    private SceneDefinition _scene;
    private bool _disposed;
    private bool _published;

    public FakeProjectMixer(SceneDefinition scene, PublishGate publish, FakeMixerLedger ledger, string worker)
    {
        (_scene, _publish, _ledger, Worker) = (scene, publish, ledger, worker);
        ConnectWhenAllowed(TimeSpan.Zero);
    }

    public string Project => Scene.Project;
    public string Worker { get; }
    public SceneDefinition Scene { get { lock (_lock) return _scene; } }
    public bool Disposed { get { lock (_lock) return _disposed; } }
    public bool Published { get { lock (_lock) return _published; } }

    public Task ApplyAsync(SceneDefinition scene)
    {
        if (SceneValidator.Validate(scene) is { Count: > 0 } errors) throw new SceneException(errors);
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            _scene = scene;
        }
        TallyChanged?.Invoke(Tally.Compute(scene, new Dictionary<string, BusAnimation>()));
        return Task.CompletedTask;
    }

    public async Task<SceneDefinition> ExecuteAsync(ShowCommand command)
    {
        SceneDefinition next;
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            next = ShowReducer.Apply(_scene, command).Next;
            _scene = next;
        }
        _ledger.Command(this, command);
        TallyChanged?.Invoke(Tally.Compute(next, new Dictionary<string, BusAnimation>()));
        // On air already, but the call returns late: a real engine waiting for its graph thread on a busy machine.
        if (_ledger.CommandDelay > TimeSpan.Zero) await Task.Delay(_ledger.CommandDelay);
        if (_ledger.CommandHold is { } hold) await hold.Task;
        return next;
    }

    public Task<TallyState> GetTallyAsync() => Task.FromResult(Tally.Compute(Scene, new Dictionary<string, BusAnimation>()));

    public event Action<TallyState>? TallyChanged;

    public AudioMeters GetMeters() => new(new Dictionary<string, AudioLevel>(), new Dictionary<string, AudioLevel>());

    public void ConnectInputNow(string input) { }

    public void SetInputExpected(string input, bool expected) { }

    public Task<MixerStatus> GetStatusAsync()
    {
        ConnectionState output;
        SceneDefinition scene;
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            scene = _scene;
            output = _published ? ConnectionState.Connected : _publish.IsOpen ? ConnectionState.Retrying : ConnectionState.Held;
        }
        return Task.FromResult(new MixerStatus(scene.Project, scene.Revision,
            scene.Inputs.ToDictionary(i => i.Name, _ => new InputStatus(_ledger.InputsDown ? ConnectionState.Retrying : ConnectionState.Connected, null, 1, DateTimeOffset.UtcNow)),
            scene.Buses.Where(b => b.Enabled).ToDictionary(b => b.Name, _ => new BusStatus(output, null, 0, "software"))));
    }

    /// <summary>Another publisher of the project replaced this one: closed, and reconnecting only through an open gate.</summary>
    internal void Replace()
    {
        lock (_lock)
        {
            if (!_published) return;
            _published = false;
        }
        _ledger.Ended(this, replaced: true);
        ConnectWhenAllowed(ReconnectDelay);
    }

    private void ConnectWhenAllowed(TimeSpan delay) => _ = Task.Run(async () =>
    {
        try
        {
            await Task.Delay(delay, _stop.Token);
            await _publish.WaitOpenAsync(_stop.Token);
        }
        catch (OperationCanceledException) { return; }
        lock (_lock)
        {
            if (_disposed || _published) return;
            _published = true;
        }
        _ledger.Published(this);
    });

    public ValueTask DisposeAsync()
    {
        bool published;
        lock (_lock)
        {
            if (_disposed) return ValueTask.CompletedTask;
            _disposed = true;
            published = _published;
            _published = false;
        }
        _stop.Cancel();
        if (published) _ledger.Ended(this, replaced: false);
        return ValueTask.CompletedTask;
    }
}
