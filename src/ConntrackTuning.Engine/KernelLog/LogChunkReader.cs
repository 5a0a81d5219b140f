using System.IO.Compression;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace ConntrackTuning.Engine.KernelLog;

/// <summary>
/// Finds the lines of a log stream that can matter (those holding "conntrack" or "suppressed") without
/// decoding the rest: the bytes are searched a megabyte at a time with vectorised searches, and only the
/// matching lines become strings. Memory stays at one block however large the log; a line longer than
/// <see cref="MaxLineLength"/> is skipped (no kernel message is that long).
/// </summary>
internal static partial class LogChunkReader
{
    internal const int BlockSize = 1 << 20;

    /// <summary>The kernel caps a record near 1 KiB and a journal JSON line stays within a few KiB.</summary>
    internal const int MaxLineLength = 64 * 1024;

    /// <summary>The lines that hold one of the needles, in order. <paramref name="skipped"/> counts lines too long to be log lines.</summary>
    public static IEnumerable<string> MatchingLines(Stream stream, Action? skipped = null)
    {
        foreach (IReadOnlyList<string> block in MatchingBlocks(stream, skipped))
        {
            foreach (string line in block)
            {
                yield return line;
            }
        }
    }

    /// <summary>
    /// The same lines a block at a time, so the caller's per-line loop can run in one optimised method. The list
    /// is reused: consume it before asking for the next.
    /// </summary>
    public static IEnumerable<IReadOnlyList<string>> MatchingBlocks(Stream stream, Action? skipped = null) =>
        MatchingBlocks(stream, skipped, BlockSize, MaxLineLength);

    /// <summary>The scan with other sizes, so tests can put block boundaries anywhere in short inputs.</summary>
    internal static IEnumerable<IReadOnlyList<string>> MatchingBlocks(Stream stream, Action? skipped, int blockSize, int maxLineLength)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentOutOfRangeException.ThrowIfLessThan(blockSize, 8);
        byte[] buffer = new byte[blockSize];
        var lines = new List<string>();
        int length = 0;
        bool skippingLongLine = false;
        while (true)
        {
            // Fill most of the block before searching: gzip and pipes hand out a few kilobytes per read.
            int wanted = Math.Min(buffer.Length - length, blockSize / 4);
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

            Collect(buffer.AsSpan(start, usable - start), lines, skipped, maxLineLength);
            if (lines.Count > 0)
            {
                yield return lines;
                lines.Clear();
            }

            if (end)
            {
                yield break;
            }

            Buffer.BlockCopy(buffer, usable, buffer, 0, length - usable);
            length -= usable;
        }
    }

    // The scan runs once per invocation, usually in a fresh pwsh: left to tiered compilation it would spend most
    // of a gigabyte in unoptimised code (the vector helpers are slowest there), so it is compiled optimised at once.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Collect(ReadOnlySpan<byte> block, List<string> into, Action? skipped, int maxLineLength)
    {
        int position = 0;
        while (position < block.Length)
        {
            int found = IndexOfNeedle(block[position..]);
            if (found < 0)
            {
                return;
            }

            int hit = position + found;
            int lineStart = block[..hit].LastIndexOf((byte)'\n') + 1;
            int afterHit = block[hit..].IndexOf((byte)'\n');
            int lineEnd = afterHit < 0 ? block.Length : hit + afterHit;
            int contentEnd = lineEnd > lineStart && block[lineEnd - 1] == (byte)'\r' ? lineEnd - 1 : lineEnd;
            if (contentEnd - lineStart > maxLineLength)
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

    /// <summary>
    /// Where the first of the needles starts: "conntrack", "suppressed", or journald's "MESSAGE":[ (a message
    /// that is not valid UTF-8 comes as an array of byte values, in which "conntrack" cannot be seen as text).
    /// Each needle is spotted by its first byte and one byte further on, a vector's width of positions at a time
    /// (32 with AVX2, 16 with SSE2 or Arm's AdvSimd), and each candidate is then compared whole: one pass over the
    /// block for all three.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static int IndexOfNeedle(ReadOnlySpan<byte> text)
    {
        int i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            ref byte start = ref MemoryMarshal.GetReference(text);
            Vector<byte> c = new((byte)'c'), k = new((byte)'k');
            Vector<byte> s = new((byte)'s'), d = new((byte)'d');
            Vector<byte> q = new((byte)'"'), b = new((byte)'[');
            for (; i <= text.Length - Vector<byte>.Count - 10; i += Vector<byte>.Count)
            {
                Vector<byte> at0 = Vector.LoadUnsafe(ref start, (nuint)i);
                Vector<byte> candidates =
                    (Vector.Equals(at0, c) & Vector.Equals(Vector.LoadUnsafe(ref start, (nuint)(i + 8)), k))
                    | (Vector.Equals(at0, s) & Vector.Equals(Vector.LoadUnsafe(ref start, (nuint)(i + 9)), d))
                    | (Vector.Equals(at0, q) & Vector.Equals(Vector.LoadUnsafe(ref start, (nuint)(i + 10)), b));
                if (candidates != Vector<byte>.Zero && FirstNeedle(text, i, MostSignificantBits(candidates)) is int hit and >= 0)
                {
                    return hit;
                }
            }
        }

        for (; i < text.Length; i++)
        {
            if (IsNeedleAt(text, i))
            {
                return i;
            }
        }

        return -1;
    }

    // Vector<T> has no ExtractMostSignificantBits on net8; its width is a constant to the JIT, so one arm remains.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong MostSignificantBits(Vector<byte> v) => Vector<byte>.Count switch
    {
        16 => Vector128.AsVector128(v).ExtractMostSignificantBits(),
        32 => Vector256.AsVector256(v).ExtractMostSignificantBits(),
        _ => Vector512.AsVector512(v).ExtractMostSignificantBits(),
    };

    private static int FirstNeedle(ReadOnlySpan<byte> text, int offset, ulong candidates)
    {
        while (candidates != 0)
        {
            int at = offset + BitOperations.TrailingZeroCount(candidates);
            if (IsNeedleAt(text, at))
            {
                return at;
            }

            candidates &= candidates - 1;
        }

        return -1;
    }

    private static bool IsNeedleAt(ReadOnlySpan<byte> text, int at)
    {
        ReadOnlySpan<byte> rest = text[at..];
        return rest.StartsWith("conntrack"u8) || rest.StartsWith("suppressed"u8) || rest.StartsWith("\"MESSAGE\":["u8);
    }
}
