namespace MixerWorker.Pipeline.Interop;

/// <summary>One interval of a meter (<c>SoundMeter</c>): the loudest channel's peak and RMS, in dBFS, as a `level` element reads them.</summary>
internal readonly record struct LevelReading(double PeakDb, double RmsDb)
{
    /// <summary>What silence reads as: the decibels of digital zero are -inf.</summary>
    internal const double FloorDb = -120;

    internal static double Floor(double db) => double.IsNaN(db) || db < FloorDb ? FloorDb : db;
}
