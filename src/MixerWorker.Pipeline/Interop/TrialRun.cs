namespace MixerWorker.Pipeline.Interop;

/// <summary>
/// Runs a few frames through a chain on a pipeline of its own, to learn whether it works before it is
/// put on air: a hardware encoder that refuses to open (no session left, a driver without the preset
/// or entry point) fails here, not inside a live bus whose compositor would stop with it.
/// </summary>
internal static class TrialRun
{
    /// <summary>
    /// Plays <paramref name="chain"/> (made by the caller, in link order, owned from then on) to its end;
    /// null when it ran, otherwise what went wrong. A chain that neither ends nor fails within
    /// <paramref name="timeout"/> counts as working: a slow device is not a refusal.
    /// </summary>
    internal static string? Run(IReadOnlyList<Element> chain, TimeSpan timeout)
    {
        using var pipeline = Element.NewPipeline();
        var bus = pipeline.GetBus();
        try
        {
            foreach (var e in chain) pipeline.Add(e);
            Element.LinkMany([.. chain]);
            if (pipeline.SetState(State.Playing) == StateChange.Failure) return Drain(bus) ?? "it refused to start";
            var deadline = Environment.TickCount64 + (long)timeout.TotalMilliseconds;
            while (Environment.TickCount64 < deadline)
            {
                var msg = Native.gst_bus_timed_pop_filtered(bus, 50_000_000, (int)(MessageType.Error | MessageType.Eos));
                if (msg == 0) continue;
                try { return ErrorText(msg); }
                finally { Native.gst_message_unref(msg); }
            }
            return null;
        }
        catch (GstException e) { return e.Message; }
        finally
        {
            pipeline.SetState(State.Null);
            Native.gst_object_unref(bus);
            foreach (var e in chain) e.Dispose();
        }
    }

    private static string? Drain(nint bus)
    {
        var msg = Native.gst_bus_timed_pop_filtered(bus, 0, (int)MessageType.Error);
        if (msg == 0) return null;
        try { return ErrorText(msg); }
        finally { Native.gst_message_unref(msg); }
    }

    private static string? ErrorText(nint msg)
    {
        if ((MessageType)Abi.Read<int>(msg, Abi.MessageTypeOffset) != MessageType.Error) return null;
        Native.gst_message_parse_error(msg, out var err, out var dbg);
        var debug = NativeString.Owned(dbg);
        var text = NativeString.TakeError(err) ?? "error";
        return debug is null ? text : $"{text}: {debug}";
    }
}
