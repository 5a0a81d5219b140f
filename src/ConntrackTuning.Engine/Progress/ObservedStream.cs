namespace ConntrackTuning.Engine.Progress;

/// <summary>
/// A read-only view of a stream that observes the stop signal before every read and tells how far into the
/// stream the reads have got. Scanners read a block (a quarter of a megabyte at most, 8 KiB under gzip) per call,
/// so a stop is seen within a block's work. Seeking passes through, so the view can stand where the stream
/// did (gzip sniffing seeks back to the start).
/// </summary>
internal sealed class ObservedStream(Stream inner, CancellationToken cancellation, Action<long>? advanced = null) : ReadOnlyStreamView(inner)
{
    private long _read;

    public override bool CanSeek => Inner.CanSeek;

    public override long Position
    {
        get => Inner.CanSeek ? Inner.Position : _read;
        set => Inner.Position = value;
    }

    public override int Read(Span<byte> buffer)
    {
        cancellation.ThrowIfCancellationRequested();
        int n = Inner.Read(buffer);
        _read += n;
        advanced?.Invoke(Position);
        return n;
    }

    public override long Seek(long offset, SeekOrigin origin) => Inner.Seek(offset, origin);
}
