using System;
using System.Collections.Generic;
using System.IO;
using System.IO.Compression;
using System.Text;

namespace ConntrackTuning.Engine;

/// <summary>
/// Finds the lines of a log stream that can matter (those holding "conntrack" or "suppressed") without
/// decoding the rest: the bytes are searched a megabyte at a time with vectorised searches, and only the
/// matching lines become strings. Memory stays at one block however large the log; a line longer than
/// <see cref="MaxLineLength"/> is skipped (no kernel message is that long).
/// </summary>
internal static class LogChunkReader
{
    internal const int BlockSize = 1 << 20;

    /// <summary>The kernel caps a record near 1 KiB and a journal JSON line stays within a few KiB.</summary>
    internal const int MaxLineLength = 64 * 1024;

    /// <summary>Gzip-compressed streams (rotated logs) are recognised by their magic bytes, not their name.</summary>
    public static Stream Decompressed(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        if (!stream.CanSeek)
        {
            return stream;
        }

        Span<byte> magic = stackalloc byte[2];
        int n = stream.ReadAtLeast(magic, 2, throwOnEndOfStream: false);
        stream.Seek(0, SeekOrigin.Begin);
        return n == 2 && magic[0] == 0x1f && magic[1] == 0x8b ? new GZipStream(stream, CompressionMode.Decompress) : stream;
    }

    /// <summary>The lines that hold one of the needles, in order. <paramref name="skipped"/> counts lines too long to be log lines.</summary>
    public static IEnumerable<string> MatchingLines(Stream stream, Action? skipped = null)
    {
        ArgumentNullException.ThrowIfNull(stream);
        byte[] buffer = new byte[BlockSize];
        var lines = new List<string>();
        int length = 0;
        bool skippingLongLine = false;
        while (true)
        {
            // Fill most of the block before searching: gzip and pipes hand out a few kilobytes per read.
            int wanted = Math.Min(buffer.Length - length, BlockSize / 4);
            int read = stream.ReadAtLeast(buffer.AsSpan(length), wanted, throwOnEndOfStream: false);
            bool end = read < wanted;
            length += read;

            int usable;
            if (end)
            {
                usable = length;
            }
            else
            {
                int lastNewline = buffer.AsSpan(0, length).LastIndexOf((byte)'\n');
                if (lastNewline < 0)
                {
                    if (length == buffer.Length)
                    {
                        // A whole block without a line break: a binary blob or a runaway line; drop it up to the next break.
                        if (!skippingLongLine)
                        {
                            skipped?.Invoke();
                        }

                        skippingLongLine = true;
                        length = 0;
                    }

                    continue;
                }

                usable = lastNewline + 1;
            }

            int start = 0;
            if (skippingLongLine)
            {
                int firstNewline = buffer.AsSpan(0, usable).IndexOf((byte)'\n');
                start = firstNewline < 0 ? usable : firstNewline + 1;
                skippingLongLine = firstNewline < 0 && !end;
            }

            Collect(buffer.AsSpan(start, usable - start), lines, skipped);
            foreach (string line in lines)
            {
                yield return line;
            }

            lines.Clear();
            if (end)
            {
                yield break;
            }

            Buffer.BlockCopy(buffer, usable, buffer, 0, length - usable);
            length -= usable;
        }
    }

    private static void Collect(ReadOnlySpan<byte> block, List<string> into, Action? skipped)
    {
        // The third needle is journald's form of a message that is not valid UTF-8: an array of byte values,
        // in which "conntrack" cannot be seen as text.
        Span<int> next = [-1, -1, -1];
        int position = 0;
        while (position < block.Length)
        {
            // Each needle's next hit is remembered, so a needle missing from the block is searched for once.
            int hit = int.MaxValue;
            for (int n = 0; n < next.Length; n++)
            {
                if (next[n] != int.MaxValue && next[n] < position)
                {
                    int i = block[position..].IndexOf(Needle(n));
                    next[n] = i < 0 ? int.MaxValue : position + i;
                }

                hit = Math.Min(hit, next[n]);
            }

            if (hit == int.MaxValue)
            {
                return;
            }

            int lineStart = block[..hit].LastIndexOf((byte)'\n') + 1;
            int afterHit = block[hit..].IndexOf((byte)'\n');
            int lineEnd = afterHit < 0 ? block.Length : hit + afterHit;
            int contentEnd = lineEnd > lineStart && block[lineEnd - 1] == (byte)'\r' ? lineEnd - 1 : lineEnd;
            if (contentEnd - lineStart > MaxLineLength)
            {
                skipped?.Invoke();
            }
            else
            {
                into.Add(Encoding.UTF8.GetString(block[lineStart..contentEnd]));
            }

            position = lineEnd + 1;
        }
    }

    private static ReadOnlySpan<byte> Needle(int n) => n switch
    {
        0 => "conntrack"u8,
        1 => "suppressed"u8,
        _ => "\"MESSAGE\":["u8,
    };
}
