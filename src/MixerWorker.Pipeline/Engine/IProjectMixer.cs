using MixerWorker.Pipeline.Scene;

namespace MixerWorker.Pipeline.Engine;

/// <summary>
/// One running project as the control plane sees it: what it may ask of the engine. The host never
/// holds a <see cref="ProjectMixer"/> itself, so placement, leases and hand-over can be tested with
/// many projects and a fake engine. Members may be called from any thread.
/// </summary>
public interface IProjectMixer : IAsyncDisposable
{
    string Project { get; }

    /// <summary>Moves the running pipeline to <paramref name="scene"/>; an invalid scene throws <see cref="SceneException"/> and nothing changes.</summary>
    Task ApplyAsync(SceneDefinition scene);

    /// <summary>Carries out an operator command and returns the scene now in force; a command that cannot apply throws <see cref="SceneException"/>.</summary>
    Task<SceneDefinition> ExecuteAsync(ShowCommand command);

    /// <summary>Which inputs are on air and in preview on every bus.</summary>
    Task<TallyState> GetTallyAsync();

    /// <summary>Raised (on the engine's thread) whenever the tally changes; handlers must be quick.</summary>
    event Action<TallyState>? TallyChanged;

    /// <summary>Latest audio levels of every input and bus.</summary>
    AudioMeters GetMeters();

    /// <summary>Connects an input at once instead of at the end of its reconnect backoff.</summary>
    void ConnectInputNow(string input);

    /// <summary>Not expected: stop retrying the input (each <see cref="ConnectInputNow"/> tries once). Expected again: connect at once.</summary>
    void SetInputExpected(string input, bool expected);

    Task<MixerStatus> GetStatusAsync();

    /// <summary>The latest thumbnail (small JPEG of the mixed picture) of every bus that has one.</summary>
    Task<IReadOnlyDictionary<string, Thumbnail>> GetThumbnailsAsync() => Task.FromResult<IReadOnlyDictionary<string, Thumbnail>>(new Dictionary<string, Thumbnail>());
}
