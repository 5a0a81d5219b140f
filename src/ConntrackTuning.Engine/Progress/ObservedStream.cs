namespace ConntrackTuning.Engine.Progress;

/// <summary>
/// A read-only view of a stream that observes the stop signal before every read and tells how far into the
/// stream the reads have got. Scanners read a block (a quarter of a megabyte at most, 8 KiB under gzip) per call,
/// so a stop is seen within a block's work. Seeking passes through, so the view can stand where the stream
/// did (gzip sniffing seeks back to the start).
/// </summary>
internal sealed class ObservedStream(Stream inner, CancellationToken cancellation, Action<long>? advanced = null) : Stream
{
    private long _read;

    public override bool CanRead => true;

    public override bool CanSeek => inner.CanSeek;

    public override bool CanWrite => false;

    public override long Length => inner.Length;

    public override long Position
    {
        get => inner.CanSeek ? inner.Position : _read;
        set => inner.Position = value;
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        cancellation.ThrowIfCancellationRequested();
        int n = inner.Read(buffer);
        _read += n;
        advanced?.Invoke(Position);
        return n;
    }

    public override void Flush() { }

    public override long Seek(long offset, SeekOrigin origin) => inner.Seek(offset, origin);

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            inner.Dispose();
        }

        base.Dispose(disposing);
    }
}
