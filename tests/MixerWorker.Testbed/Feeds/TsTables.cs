namespace MixerWorker.Testbed.Feeds;

/// <summary>The MPEG-TS tables the test tools read: a PSI section in one packet, the PAT's PMT, the PMT's streams.</summary>
internal static class TsTables
{
    internal const byte PatTableId = 0x00, PmtTableId = 0x02;
    private const byte StreamTypeH264 = 0x1B, StreamTypeH265 = 0x24;

    /// <summary>A PSI section of <paramref name="tableId"/> that begins and ends in this packet and whose CRC holds; null otherwise.</summary>
    internal static byte[]? Section(ReadOnlySpan<byte> p, byte tableId)
    {
        var at = TsPacket.PayloadStart(p);
        if (at >= TsPacket.Size) return null;
        at += 1 + p[at]; // pointer field
        if (at + 3 > TsPacket.Size || p[at] != tableId) return null;
        var length = 3 + (((p[at + 1] & 0x0F) << 8) | p[at + 2]);
        if (length < 12 || at + length > TsPacket.Size) return null;
        var section = p.Slice(at, length);
        return Crc32Mpeg(section) == 0 ? section.ToArray() : null;
    }

    /// <summary>The PMT PID of a PAT section's first program; program 0 names the network PID, not a PMT.</summary>
    internal static int? PmtPid(ReadOnlySpan<byte> pat)
    {
        // Program loop: 4 bytes each from byte 8 to the CRC.
        for (var i = 8; i + 4 <= pat.Length - 4; i += 4)
            if (((pat[i] << 8) | pat[i + 1]) != 0) return ((pat[i + 2] & 0x1F) << 8) | pat[i + 3];
        return null;
    }

    /// <summary>A PMT section's first H.264 or H.265 stream.</summary>
    internal static (int Pid, bool H265)? VideoStream(ReadOnlySpan<byte> pmt) =>
        Streams(pmt).FirstOrDefault(s => s.Type is StreamTypeH264 or StreamTypeH265) is { Pid: > 0 } v ? (v.Pid, v.Type == StreamTypeH265) : null;

    /// <summary>The stream types a PMT section lists, in its order.</summary>
    internal static IReadOnlyList<int> StreamTypes(ReadOnlySpan<byte> pmt) => [.. Streams(pmt).Select(s => s.Type)];

    /// <summary>The elementary streams a PMT section lists, in its order: stream type and PID.</summary>
    internal static IReadOnlyList<(int Type, int Pid)> Streams(ReadOnlySpan<byte> pmt)
    {
        var streams = new List<(int, int)>();
        if (pmt.Length < 16) return streams;
        for (var i = 12 + (((pmt[10] & 0x0F) << 8) | pmt[11]); i + 5 <= pmt.Length - 4; i += 5 + (((pmt[i + 3] & 0x0F) << 8) | pmt[i + 4]))
            streams.Add((pmt[i], ((pmt[i + 1] & 0x1F) << 8) | pmt[i + 2]));
        return streams;
    }

    /// <summary>Writes the CRC of a section whose bytes were changed into its last four bytes.</summary>
    internal static void WriteCrc(Span<byte> section)
    {
        var crc = Crc32Mpeg(section[..^4]);
        for (var i = 0; i < 4; i++) section[section.Length - 4 + i] = (byte)(crc >> (24 - 8 * i));
    }

    // CRC-32/MPEG-2 (ISO/IEC 13818-1 annex A): over a section with its CRC it is zero.
    private static uint Crc32Mpeg(ReadOnlySpan<byte> data)
    {
        var crc = 0xFFFFFFFFu;
        foreach (var b in data)
        {
            crc ^= (uint)b << 24;
            for (var k = 0; k < 8; k++) crc = (crc & 0x80000000) != 0 ? (crc << 1) ^ 0x04C11DB7 : crc << 1;
        }
        return crc;
    }
}
