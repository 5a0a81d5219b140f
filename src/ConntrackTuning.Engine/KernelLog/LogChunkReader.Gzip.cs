using System.IO.Compression;

namespace ConntrackTuning.Engine.KernelLog;

/// <summary>Rotated logs compressed with gzip, and how a damaged or cut-off one is told from a whole one.</summary>
internal static partial class LogChunkReader
{
    /// <summary>
    /// Gzip-compressed streams (rotated logs) are recognised by their magic bytes, not their name. A damaged one
    /// fails, when the damage is reached, with a FileReadFailed error naming <paramref name="name"/>.
    /// </summary>
    public static Stream Decompressed(Stream stream, string name)
    {
        ArgumentNullException.ThrowIfNull(stream);
        if (!stream.CanSeek)
        {
            return stream;
        }

        Span<byte> magic = stackalloc byte[2];
        int n = stream.ReadAtLeast(magic, 2, throwOnEndOfStream: false);
        if (n < 2 || magic[0] != 0x1f || magic[1] != 0x8b)
        {
            stream.Seek(0, SeekOrigin.Begin);
            return stream;
        }

        // The trailer's ISIZE (the uncompressed length mod 2^32) is how a cut-off file is told from a whole one:
        // the decompressor itself simply stops where the bytes do.
        uint? size = null;
        if (stream.Length >= MinimumGzipLength)
        {
            Span<byte> trailer = stackalloc byte[4];
            stream.Seek(-4, SeekOrigin.End);
            stream.ReadExactly(trailer);
            size = BitConverter.ToUInt32(trailer);
        }

        stream.Seek(0, SeekOrigin.Begin);
        var headers = new HeaderCounter(stream);
        return new DamageGuard(new GZipStream(headers, CompressionMode.Decompress), headers, name, size);
    }

    /// <summary>Throws the damage a cut-off gzip stream from <see cref="Decompressed"/> showed at its end, once its lines are read.</summary>
    public static void ThrowIfCutOff(Stream stream)
    {
        if (stream is DamageGuard { Pending: { } damage })
        {
            throw damage;
        }
    }

    /// <summary>A gzip header (10 bytes), an empty deflate block (2) and the trailer (8).</summary>
    private const int MinimumGzipLength = 20;

    /// <summary>
    /// Turns the decompressor's InvalidDataException into the engine's named failure, and so does an end that comes
    /// before the whole stream was there (a file too short to be gzip, or an uncompressed length other than the
    /// trailer's). The trailer read is the last member's, so the length is compared only when the file holds one
    /// gzip header (logrotate writes one member per file); concatenated members are read as before.
    /// </summary>
    private sealed class DamageGuard(Stream inner, HeaderCounter headers, string name, uint? expectedSize) : ReadOnlyStreamView(inner)
    {
        private long _total;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(Span<byte> buffer)
        {
            int n;
            try
            {
                n = Inner.Read(buffer);
            }
            catch (InvalidDataException e)
            {
                throw Damaged(e.Message, e);
            }

            if (n > 0 || buffer.IsEmpty)
            {
                _total += n;
                return n;
            }

            // The end is reported as an end first, so the lines before it are searched and delivered; the damage is
            // thrown by the next read or by ThrowIfCutOff, whichever comes first.
            if (Pending is { } pending)
            {
                throw pending;
            }

            if (expectedSize is not { } size)
            {
                Pending = Damaged("it is too short to hold a gzip header and trailer", null);
            }
            else if ((uint)_total != size && headers.Count <= 1)
            {
                Pending = Damaged($"it ends after {_total} uncompressed bytes, where its trailer promises {size} (unexpected end of file)", null);
            }

            return 0;
        }

        /// <summary>The damage found at the end of the stream, not thrown yet.</summary>
        public ConntrackException? Pending { get; private set; }

        private ConntrackException Damaged(string why, Exception? inner) => new(ErrorIds.FileReadFailed, ErrorKind.InvalidData,
            $"The compressed log '{name}' is damaged or cut off: {why}.", name,
            "Check it with 'gzip -t'; the events before the damage were read, and the other files still are.", inner);
    }

    /// <summary>Counts the gzip member headers (1f 8b 08) in the compressed bytes as they pass, a possible one split across reads included.</summary>
    private sealed class HeaderCounter(Stream inner) : ReadOnlyStreamView(inner)
    {
        private int _tail;

        public int Count { get; private set; }

        public override int Read(Span<byte> buffer)
        {
            int n = Inner.Read(buffer);
            ReadOnlySpan<byte> read = buffer[..n];
            // _tail: how many bytes of the signature ended the previous read (0, 1 or 2).
            if (_tail == 1 && read.Length >= 2 && read[0] == 0x8b && read[1] == 0x08 || _tail == 2 && read.Length >= 1 && read[0] == 0x08)
            {
                Count++;
            }

            for (int i = read.IndexOf((byte)0x1f); i >= 0 && i < read.Length;)
            {
                if (i + 2 < read.Length && read[i + 1] == 0x8b && read[i + 2] == 0x08)
                {
                    Count++;
                }

                int next = read[(i + 1)..].IndexOf((byte)0x1f);
                i = next < 0 ? -1 : i + 1 + next;
            }

            _tail = n >= 2 && read[^2] == 0x1f && read[^1] == 0x8b ? 2 : n >= 1 && read[^1] == 0x1f ? 1 : 0;
            return n;
        }
    }
}
