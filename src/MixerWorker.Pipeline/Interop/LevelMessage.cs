namespace MixerWorker.Pipeline.Interop;

/// <summary>One interval of a `level` element: the loudest channel's peak and RMS, in dBFS.</summary>
internal readonly record struct LevelReading(double PeakDb, double RmsDb)
{
    /// <summary>What silence reads as: level reports -inf (or a huge negative number) for digital zero.</summary>
    internal const double FloorDb = -120;

    internal static double Floor(double db) => double.IsNaN(db) || db < FloorDb ? FloorDb : db;
}

/// <summary>Reads the `level` element's message structure ("level", with GValueArray fields peak, rms, decay).</summary>
internal static class LevelMessage
{
    internal const string StructureName = "level";

    private static readonly Lazy<nint> ValueArrayType = new(Native.g_value_array_get_type);

    /// <summary>The reading of a level structure, or null when it lacks the fields (another element's "level").</summary>
    internal static LevelReading? Read(nint structure)
    {
        var peak = LoudestChannel(structure, "peak");
        var rms = LoudestChannel(structure, "rms");
        return peak is null || rms is null ? null : new LevelReading(peak.Value, rms.Value);
    }

    // Every pointer here is borrowed from the message (transfer none), so nothing is freed; the caller
    // holds the message until this returns.
    private static double? LoudestChannel(nint structure, string field)
    {
        var value = Native.gst_structure_get_value(structure, field);
        if (value == 0 || Abi.Read<nint>(value, Abi.GValueTypeOffset) != ValueArrayType.Value) return null;
        var array = Native.g_value_get_boxed(value);
        if (array == 0) return null;
        var count = Abi.Read<uint>(array, Abi.ValueArrayCountOffset);
        var values = Abi.Read<nint>(array, Abi.ValueArrayValuesOffset);
        double? loudest = null;
        for (var i = 0; i < count; i++)
        {
            var item = values + i * Abi.GValueSize;
            if (Abi.Read<nint>(item, Abi.GValueTypeOffset) != Abi.GTypeDouble) continue;
            var db = LevelReading.Floor(Native.g_value_get_double(item));
            loudest = loudest is { } l ? Math.Max(l, db) : db;
        }
        return loudest;
    }
}
