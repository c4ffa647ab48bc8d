using Microsoft.Extensions.Logging;
using MixerWorker.Pipeline.Builders;
using MixerWorker.Pipeline.Interop;

namespace MixerWorker.Pipeline.Engine;

/// <summary>
/// Where a message from the pipeline's bus goes, on the control thread. Errors of one connection
/// are scoped to it by the element identity they come from (<see cref="ElementName.OwnerOf"/>) and
/// end only that connection when they are about its current generation; meters go to the meter
/// board; everything else is logged, reported on the bus it belongs to, and never stops the pipeline.
/// </summary>
internal sealed class BusMessageRouter(ProjectGraph project, AudioMeterBoard meters, SecretRedactor redactor, ILogger log)
{
    internal void Route(BusMessage m)
    {
        switch (m.Type)
        {
            case MessageType.Latency:
                project.RecalculateLatency();
                return;
            case MessageType.Element when m.Level is { } level:
                meters.Record(m.SourcePath, level, (kind, name) => kind == ElementKind.Input ? project.Input(name) is not null : project.Bus(name) is not null);
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
            if (m.Type == MessageType.Error && input.Supervisor?.Current is { } s && s.Generation == src.Generation)
                s.Fail($"input '{src.Owner}': {SrtErrorText.Explain(text, "INGEST_SRT_PASSPHRASE")}");
            return;
        }
        if (owner is { Kind: ElementKind.Output } output && project.Bus(output.Owner) is { } bus)
        {
            if (m.Type == MessageType.Error && bus.Supervisor?.Current is { } s && s.Generation == output.Generation)
                s.Fail($"bus '{output.Owner}' output: {SrtErrorText.Explain(text, "OUTPUT_SRT_PASSPHRASE")}");
            return;
        }
        if (m.Type == MessageType.Error)
        {
            log.LogError("pipeline error in {Source}: {Text}", m.SourcePath, text);
            if (owner?.BusName is { } busName && project.Bus(busName) is { } affected) affected.Report(affected.State, text);
        }
        else log.LogDebug("pipeline warning in {Source}: {Text}", m.SourcePath, text);
    }
}
