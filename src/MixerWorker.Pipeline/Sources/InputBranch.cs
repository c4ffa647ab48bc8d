using MixerWorker.Pipeline.Builders;
using MixerWorker.Pipeline.Interop;

namespace MixerWorker.Pipeline.Sources;

/// <summary>
/// The part of an input that lives as long as the input is in the scene: the decoded video and audio
/// are normalised once (I420; 48 kHz stereo float) and fanned out by tees to every bus showing it.
/// SRT connections come and go upstream of it (<see cref="SrtSource"/>) while the buses stay linked.
/// </summary>
internal sealed class InputBranch : IDisposable
{
    internal const string AudioCaps = "audio/x-raw,format=F32LE,rate=48000,channels=2,layout=interleaved";

    private readonly Element _pipeline;
    private readonly Element[] _video;
    private readonly Element[] _audio;

    internal string Name { get; }
    internal Element VideoTee => _video[^1];
    internal Element AudioTee => _audio[^1];
    internal Pad VideoEntry { get; }
    internal Pad AudioEntry { get; }

    internal InputBranch(Element pipeline, string name)
    {
        _pipeline = pipeline;
        Name = name;
        // deinterlace passes progressive video through untouched and only works on interlaced feeds.
        _video = [Element.Make("deinterlace", $"in.{name}.deinterlace"), Element.Make("videoconvert", $"in.{name}.vconvert"), Tee($"in.{name}.vtee")];
        _audio =
        [
            Element.Make("audioconvert", $"in.{name}.aconvert"), Element.Make("audioresample", $"in.{name}.aresample"),
            ElementFactory.CapsFilter($"in.{name}.acaps", AudioCaps), Tee($"in.{name}.atee"),
        ];
        ElementFactory.AddChain(pipeline, _video);
        ElementFactory.AddChain(pipeline, _audio);
        foreach (var e in _video.Concat(_audio)) e.SyncStateWithParent();
        VideoEntry = _video[0].StaticPad("sink");
        AudioEntry = _audio[0].StaticPad("sink");
    }

    // allow-not-linked: a tee with no bus attached, or with one branch being swapped, must not
    // turn into a not-linked error that would stop the decoder.
    private static Element Tee(string name)
    {
        var t = Element.Make("tee", name);
        t.Set("allow-not-linked", true);
        return t;
    }

    public void Dispose()
    {
        VideoEntry.Dispose();
        AudioEntry.Dispose();
        foreach (var e in _video.Concat(_audio))
        {
            e.SetState(State.Null);
            _pipeline.Remove(e);
            e.Dispose();
        }
    }
}
