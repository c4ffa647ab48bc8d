using System.Diagnostics;
using Microsoft.Win32.SafeHandles;

namespace MixerWorker.Pipeline.Interop;

/// <summary>
/// How long the calling thread waited for a CPU while it could have run: the kernel's run-queue wait
/// (/proc/thread-self/schedstat, second field), noted as time goes on. It tells a thread that was
/// late because the machine had no CPU for it (it waited on the run queue, throttled by a CPU quota
/// included) from one held by what it waited on (a lock, a pad, a muxer that does not take more), which
/// sleeps meanwhile and waits on no run queue. Each thread has notes of its own; every member works on
/// the calling thread's. Where the kernel keeps no such figure, nothing is known (null).
/// </summary>
internal static class RunQueueWait
{
    // At one note a block of sound (20 ms), over a second back: longer than sound may be late before it is dropped.
    private const int Kept = 64;

    [ThreadStatic] private static Notes? t_notes;

    private sealed class Notes
    {
        // Open for the thread's life, read again from the start each time (the file is made anew on each read at offset 0).
        internal SafeFileHandle? File;
        internal bool Unknown;
        internal readonly long[] AtNs = new long[Kept], WaitedNs = new long[Kept];
        internal int Next, Count;
    }

    /// <summary>Notes where the calling thread's run-queue wait stands now (a streaming thread: once a block).</summary>
    internal static void Note()
    {
        var notes = t_notes ??= new Notes();
        if (Read(notes) is not { } waited) return;
        notes.AtNs[notes.Next] = NowNs();
        notes.WaitedNs[notes.Next] = waited;
        notes.Next = (notes.Next + 1) % Kept;
        notes.Count = Math.Min(notes.Count + 1, Kept);
    }

    /// <summary>
    /// How long the calling thread waited on the run queue in the last <paramref name="spanNs"/>: since
    /// its latest note from then or before (its earliest note where none is that old, which tells less,
    /// never more). Null where nothing is known: no note, or no figure from the kernel.
    /// </summary>
    internal static long? WaitedInLastNs(long spanNs)
    {
        if (t_notes is not { Count: > 0 } notes || Read(notes) is not { } waited) return null;
        var since = NowNs() - spanNs;
        var from = (notes.Next - notes.Count + Kept) % Kept;
        for (var i = 0; i < notes.Count; i++)
        {
            var at = (notes.Next - 1 - i + Kept) % Kept;
            if (notes.AtNs[at] <= since) { from = at; break; }
        }
        return waited - notes.WaitedNs[from];
    }

    private static long NowNs() => (long)(Stopwatch.GetTimestamp() * (1e9 / Stopwatch.Frequency));

    private static long? Read(Notes notes)
    {
        if (notes.Unknown) return null;
        try
        {
            notes.File ??= System.IO.File.OpenHandle("/proc/thread-self/schedstat");
            Span<byte> text = stackalloc byte[96];
            return SecondField(text[..RandomAccess.Read(notes.File, text, 0)]);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or PlatformNotSupportedException)
        {
            notes.Unknown = true;
            return null;
        }
    }

    /// <summary>The second of the space-separated decimal fields in <paramref name="text"/> ("on CPU, waited, runs"); null if there is none.</summary>
    internal static long? SecondField(ReadOnlySpan<byte> text)
    {
        var field = 0;
        long value = 0;
        var digits = false;
        foreach (var c in text)
        {
            if (c is >= (byte)'0' and <= (byte)'9')
            {
                value = value * 10 + (c - '0');
                digits = true;
                continue;
            }
            if (!digits) continue;
            if (field == 1) return value;
            (field, value, digits) = (field + 1, 0, false);
        }
        return field == 1 && digits ? value : null;
    }
}
