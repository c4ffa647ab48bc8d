using Microsoft.Extensions.Logging;
using MixerWorker.Pipeline.Builders;
using MixerWorker.Pipeline.Interop;

namespace MixerWorker.Pipeline.Engine;

/// <summary>
/// Where a message from the pipeline's bus goes, on the control thread. Errors of one connection
/// are scoped to it by the element identity they come from (<see cref="ElementName.OwnerOf"/>) and
/// end only that connection when they are about its current generation; everything else is logged, reported on the bus it belongs to, and never stops the pipeline.
/// Once the mixer stops (<see cref="Stopping"/>), what its elements say is teardown, logged at debug.
/// </summary>
internal sealed class BusMessageRouter(ProjectGraph project, SecretRedactor redactor, ILogger log)
{
    private const long StaleAfterRebuildMs = 2000;
    private volatile bool _stopping;

    /// <summary>
    /// The mixer is being disposed: its outputs and inputs go first, and the sources still running
    /// (silence, background, fade-to-black) then stop with "Internal data stream error" (not-linked).
    /// That is no fault of the show: from here on such errors are logged at debug (connections and
    /// encoders are still told of theirs, so that their own stopping ends as it always did).
    /// </summary>
    internal void Stopping() => _stopping = true;

    internal void Route(BusMessage m)
    {
        switch (m.Type)
        {
            case MessageType.Latency:
                project.RecalculateLatency();
                return;
            case MessageType.Qos when m.Dropped is { } dropped:
                project.SoundDroppedLate(m.SourcePath, dropped.RunningTimeNs, dropped.DurationNs);
                return;
            case MessageType.Error or MessageType.Warning:
                break;
            default:
                return;
        }
        var text = redactor.Redact(m.Debug is null ? m.Text : $"{m.Text}: {m.Debug}");
        var owner = ElementName.OwnerOf(m.SourcePath);
        if (owner is { Kind: ElementKind.Source } src && project.Input(src.Owner) is { } input)
        {
            input.DecodeErrors++;
            if (m.Type == MessageType.Error && src.Generation is { } generation)
                input.Supervisor?.Fail(generation, $"input '{src.Owner}': {SrtErrorText.Explain(text, "INGEST_SRT_PASSPHRASE")}");
            return;
        }
        if (owner is { Kind: ElementKind.Output } output && project.Bus(output.Owner) is { } bus)
        {
            if (m.Type == MessageType.Error && output.Generation is { } generation)
                bus.Supervisor?.Fail(generation, $"bus '{output.Owner}' output: {SrtErrorText.Explain(text, "OUTPUT_SRT_PASSPHRASE")}");
            return;
        }
        // An encoder that refuses to open or fails mid-show: the bus moves to the next backend. Some
        // say so themselves; others (libav's, VA's) only refuse the caps, and what feeds them stops
        // with "not-negotiated" instead (the compositor, or the background source behind it).
        if (m.Type == MessageType.Error && owner is { Kind: ElementKind.Bus } && ElementName.SourceOf(m.SourcePath) is { Part: { } part })
        {
            if (part.Split('.') is [BusBranch.EncoderPart, var backend, ..])
            {
                project.EncoderFailed(owner.Value.Owner, backend, text);
                return;
            }
            if (BusBranch.FeedsEncoder(part) && text.Contains("not-negotiated", StringComparison.Ordinal))
            {
                project.EncoderFailed(owner.Value.Owner, null, "it refused the bus's video format");
                return;
            }
        }
        // What the old chain's other elements say right after the encoder failed (the compositor's
        // flow error, mostly) is about the bus that was replaced, not the one on air now.
        if (owner?.BusName is { } replacedBus && project.Bus(replacedBus) is { ReplacedAt: not 0 } rebuilt
            && Environment.TickCount64 - rebuilt.ReplacedAt < StaleAfterRebuildMs)
        {
            log.LogDebug("after bus {Bus}'s encoder was replaced, from the old chain: {Text}", replacedBus, text);
            return;
        }
        if (m.Type == MessageType.Error && _stopping)
            log.LogDebug("while the mixer stops, pipeline error in {Source}: {Text}", m.SourcePath, text);
        else if (m.Type == MessageType.Error)
        {
            log.LogError("pipeline error in {Source}: {Text}", m.SourcePath, text);
            if (owner?.BusName is { } busName && project.Bus(busName) is { } affected) affected.Report(affected.State, text);
        }
        else log.LogDebug("pipeline warning in {Source}: {Text}", m.SourcePath, text);
    }
}
