using System.Globalization;
using MixerWorker.Pipeline.Interop;

namespace MixerWorker.Testbed.Feeds;

/// <summary>A test camera: a solid colour with its name on it and a sine tone of its own.</summary>
public sealed record FeedSpec(string Input, uint Argb, double ToneHz)
{
    public int Width { get; init; } = 320;
    public int Height { get; init; } = 180;
    public int Fps { get; init; } = 30;
    /// <summary>Interlaced video (top field first) at <see cref="Fps"/> frames, 2x fields, like a 1080i camera.</summary>
    public bool Interlaced { get; init; }
    /// <summary>h264, h265, or mpeg4 (MPEG-4 Part 2, which MediaMTX carries but the engine does not decode).</summary>
    public string VideoCodec { get; init; } = "h264";
    /// <summary>aac, opus, mp2 or none.</summary>
    public string AudioCodec { get; init; } = "aac";
    /// <summary>Peak amplitude of the tone, 0–1 of full scale (0.3 is -10.5 dBFS peak, -13.5 dBFS RMS).</summary>
    public double ToneVolume { get; init; } = 0.3;
    /// <summary>1 publishes mono; the engine must spread it to both channels.</summary>
    public int AudioChannels { get; init; } = 2;
    /// <summary>E.g. 44100, which the engine must resample to 48 kHz (aac and mp2 take it; Opus does not).</summary>
    public int AudioRate { get; init; } = 48000;

    /// <summary>The tone's level as a meter shows it, in dBFS.</summary>
    public double TonePeakDb => 20 * Math.Log10(ToneVolume);
    public double ToneRmsDb => TonePeakDb - 10 * Math.Log10(2);

    public (byte R, byte G, byte B) Rgb => ((byte)(Argb >> 16), (byte)(Argb >> 8), (byte)Argb);

    /// <summary>Distinct, saturated colours that survive chroma subsampling and compression.</summary>
    public static readonly uint[] Palette = [0xFFE02020, 0xFF20C020, 0xFF2040E0, 0xFFE0E020, 0xFFE020E0, 0xFF20E0E0, 0xFFF0F0F0, 0xFF808080];

    public static FeedSpec Numbered(int index, string? name = null) =>
        new(name ?? $"cam-{(char)('a' + index)}", Palette[index % Palette.Length], 330 + 110 * index);
}

/// <summary>Publishes a <see cref="FeedSpec"/> over SRT the way a contributor publishes into MediaMTX.</summary>
public sealed class SyntheticFeed : IDisposable
{
    private readonly StandalonePipeline _p;

    public FeedSpec Spec { get; }

    private SyntheticFeed(FeedSpec spec, StandalonePipeline p) { Spec = spec; _p = p; }

    public bool Failed => _p.Failed;
    public IReadOnlyList<string> Errors => _p.Errors;

    public static SyntheticFeed Start(FeedSpec spec, string project, string host, int port, string? passphrase, string? token = null)
    {
        var p = new StandalonePipeline($"feed:{spec.Input}");
        try
        {
            var video = p.Add("videotestsrc", null, ("is-live", true), ("pattern", "solid-color"), ("foreground-color", spec.Argb));
            // Interlaced: pictures at the field rate woven two by two into interlaced frames.
            var caps = p.Add("capsfilter", null, ("caps", $"video/x-raw,format=I420,width={spec.Width},height={spec.Height},framerate={(spec.Interlaced ? 2 : 1) * spec.Fps}/1"));
            var label = p.Add("textoverlay", null, ("text", spec.Input), ("valignment", "top"), ("halignment", "left"), ("font-desc", "Sans 8"));
            Element[] weave = spec.Interlaced ? [p.Add("interlace", null, ("field-pattern", "1:1"), ("top-field-first", true))] : [];
            Element encoder, parser;
            if (spec.VideoCodec == "mpeg4")
            {
                encoder = p.Add("avenc_mpeg4", null, ("gop-size", spec.Fps), ("bitrate", 400_000));
                parser = p.Add("mpeg4videoparse");
            }
            else if (spec.VideoCodec == "h265")
            {
                encoder = p.Add("x265enc", null, ("tune", "zerolatency"), ("speed-preset", "ultrafast"), ("key-int-max", spec.Fps), ("bitrate", 400));
                parser = p.Add("h265parse");
            }
            else
            {
                encoder = p.Add("x264enc", null, ("tune", "zerolatency"), ("speed-preset", "ultrafast"), ("key-int-max", spec.Fps), ("bitrate", 400), ("interlaced", spec.Interlaced));
                parser = p.Add("h264parse");
            }
            var mux = p.Add("mpegtsmux", null, ("alignment", 7));
            p.AddChain([video, caps, label, .. weave, encoder, parser, mux]);
            if (spec.AudioCodec != "none")
            {
                var tone = p.Add("audiotestsrc", null, ("is-live", true), ("freq", spec.ToneHz.ToString(CultureInfo.InvariantCulture)), ("volume", spec.ToneVolume), ("samplesperbuffer", 960));
                var aconv = p.Add("audioconvert");
                var acaps = p.Add("capsfilter", null, ("caps", $"audio/x-raw,rate={spec.AudioRate},channels={spec.AudioChannels}"));
                Element[] aenc = spec.AudioCodec switch
                {
                    "opus" => [p.Add("opusenc")],
                    "mp2" => [p.Add("avenc_mp2")],
                    _ => [p.Add("voaacenc"), p.Add("aacparse")], // mpegtsmux refuses voaacenc's output without the parser
                };
                p.AddChain([tone, aconv, acaps, .. aenc, mux]);
            }
            var sink = p.Add("srtsink", null, ("uri", $"srt://{host}:{port}"),
                ("streamid", $"publish:ingest/{project}/{spec.Input}{(token is null ? "" : $":token={token}")}"),
                ("latency", 80), ("auto-reconnect", false), ("wait-for-connection", false), ("sync", false));
            if (passphrase is not null) { sink.Set("passphrase", passphrase); sink.Set("pbkeylen", 16); }
            mux.Link(sink);
            p.Play();
            return new SyntheticFeed(spec, p);
        }
        catch
        {
            p.Dispose();
            throw;
        }
    }

    public void Dispose() => _p.Dispose();
}
