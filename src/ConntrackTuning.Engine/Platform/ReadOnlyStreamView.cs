namespace ConntrackTuning.Engine.Platform;

/// <summary>
/// The common part of the engine's read-only views of another stream (the stop-observing view, the gzip damage
/// guard and header counter): no writing, no seeking unless a view allows it, every array read goes through the
/// span read the view overrides, and disposing the view disposes the stream it wraps.
/// </summary>
internal abstract class ReadOnlyStreamView(Stream inner) : Stream
{
    /// <summary>The stream this view reads from.</summary>
    protected Stream Inner { get; } = inner;

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => Inner.Length;

    public override long Position { get => Inner.Position; set => throw new NotSupportedException(); }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public abstract override int Read(Span<byte> buffer);

    public override void Flush() { }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            Inner.Dispose();
        }

        base.Dispose(disposing);
    }
}
