using System.Buffers;

namespace ConntrackTuning.Engine.Entries;

/// <summary>Receives each entry as it is parsed; returns false to stop reading.</summary>
internal delegate bool EntryVisitor(ref EntryRecord entry);

/// <summary>What reading a table file met: how many lines, entries and damaged lines, and where the first ones were.</summary>
internal sealed class TextReadResult
{
    public long Lines { get; set; }

    public long Entries { get; set; }

    public long Malformed { get; set; }

    /// <summary>Line numbers of the first few damaged lines, for the warning.</summary>
    public List<long> MalformedLines { get; } = [];

    /// <summary>True when the visitor stopped the read early.</summary>
    public bool Stopped { get; set; }
}

/// <summary>
/// Streams a table file (the kernel's procfs table or saved conntrack -L output) line by line through
/// <see cref="EntryTextParser"/>. The file is read in 1 MiB blocks of bytes; nothing is kept once its entry has
/// been handed on.
/// </summary>
internal static class EntryFileReader
{
    private const int BlockSize = 1 << 20;

    public static TextReadResult Read(Stream stream, EntryVisitor visitor) => Read(stream, visitor, BlockSize);

    /// <summary>The read with another block size, so tests can put block boundaries anywhere in short inputs.</summary>
    internal static TextReadResult Read(Stream stream, EntryVisitor visitor, int blockSize)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(visitor);
        ArgumentOutOfRangeException.ThrowIfLessThan(blockSize, 1);
        var result = new TextReadResult();
        // The pool may hand out a larger array; only blockSize bytes of it are used, so the size is the same everywhere.
        byte[] buffer = ArrayPool<byte>.Shared.Rent(blockSize);
        var record = default(EntryRecord);
        try
        {
            int filled = 0;
            bool skippingLongLine = false;
            while (true)
            {
                int read = stream.Read(buffer, filled, blockSize - filled);
                bool end = read == 0;
                filled += read;
                int start = 0;
                while (true)
                {
                    int nl = buffer.AsSpan(start, filled - start).IndexOf((byte)'\n');
                    if (nl < 0)
                    {
                        break;
                    }

                    if (skippingLongLine)
                    {
                        skippingLongLine = false;
                    }
                    else if (!Line(buffer.AsSpan(start, nl), ref record, result, visitor))
                    {
                        return result;
                    }

                    start += nl + 1;
                }

                if (end)
                {
                    // A last line without a newline: a file cut off mid-line is caught by the parser's checks.
                    if (start < filled && !skippingLongLine)
                    {
                        Line(buffer.AsSpan(start, filled - start), ref record, result, visitor);
                    }

                    return result;
                }

                int rest = filled - start;
                if (rest == blockSize)
                {
                    // One "line" filling the whole block is not an entry (they are a few hundred bytes): skip it,
                    // counted once however many blocks it runs on for.
                    if (!skippingLongLine)
                    {
                        result.Lines++;
                        Damaged(result);
                    }

                    skippingLongLine = true;
                    rest = 0;
                }
                else if (start > 0)
                {
                    Buffer.BlockCopy(buffer, start, buffer, 0, rest);
                }

                filled = rest;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static bool Line(ReadOnlySpan<byte> line, ref EntryRecord record, TextReadResult result, EntryVisitor visitor)
    {
        result.Lines++;
        switch (EntryTextParser.Parse(line, ref record))
        {
            case LineKind.Entry:
                result.Entries++;
                if (!visitor(ref record))
                {
                    result.Stopped = true;
                    return false;
                }

                return true;
            case LineKind.Malformed:
                Damaged(result);
                return true;
            default:
                return true;
        }
    }

    private static void Damaged(TextReadResult result)
    {
        result.Malformed++;
        if (result.MalformedLines.Count < 5)
        {
            result.MalformedLines.Add(result.Lines);
        }
    }
}
