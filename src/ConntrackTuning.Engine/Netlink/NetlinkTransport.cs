using System.Runtime.InteropServices;

namespace ConntrackTuning.Engine.Netlink;

/// <summary>A failed socket call, with the errno the kernel gave.</summary>
internal sealed class NetlinkErrnoException : Exception
{
    public NetlinkErrnoException(string call, int errno)
        : base($"{call} failed: {Errno.Describe(errno)}")
    {
        Call = call;
        Number = errno;
    }

    public NetlinkErrnoException() : this("netlink", 0) { }

    public NetlinkErrnoException(string message) : base(message) { Call = "netlink"; }

    public NetlinkErrnoException(string message, Exception inner) : base(message, inner) { Call = "netlink"; }

    public string Call { get; } = "netlink";

    public int Number { get; }
}

/// <summary>
/// Sends netlink requests and receives datagrams. The socket implementation talks to the kernel; tests replay
/// captured datagrams through the same interface.
/// </summary>
internal interface INetlinkTransport : IDisposable
{
    void Send(ReadOnlySpan<byte> request);

    /// <summary>
    /// Receives one datagram into the buffer and returns its full length, which is larger than the buffer when
    /// the datagram was truncated. Throws <see cref="NetlinkErrnoException"/> on a failed call.
    /// </summary>
    int Receive(Span<byte> buffer);
}

/// <summary>
/// A NETLINK_NETFILTER socket. .NET has no AddressFamily for netlink, so the socket is opened and used through
/// libc: socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER), send and recv. The kernel binds it on
/// the first send. recv passes MSG_TRUNC so a datagram larger than the buffer is detected instead of silently cut.
/// </summary>
internal sealed partial class NetlinkSocket : INetlinkTransport
{
    private const int AfNetlink = 16;
    private const int SockRaw = 3;
    private const int SockCloexec = 0x80000;
    private const int NetlinkNetfilter = 12;
    private const int SolSocket = 1;
    private const int SoRcvtimeo = 20;
    private const int SoRcvbuf = 8;
    private const int MsgTrunc = 0x20;

    /// <summary>
    /// How long one recv may block: the stop signal is checked between receives, so this bounds how late a stop
    /// is seen while the kernel is silent (well inside the 200 ms a command has to stop).
    /// </summary>
    internal static readonly TimeSpan StopSlice = TimeSpan.FromMilliseconds(100);

    private readonly TimeSpan _receiveTimeout;
    private readonly CancellationToken _cancellation;
    private int _fd;

    private NetlinkSocket(int fd, TimeSpan receiveTimeout, CancellationToken cancellation)
    {
        _fd = fd;
        _receiveTimeout = receiveTimeout;
        _cancellation = cancellation;
    }

    /// <summary>
    /// Opens a socket in this process's network namespace. A receive waits at most <paramref name="receiveTimeout"/>
    /// for the kernel (then fails with EAGAIN, so a silent kernel cannot hang us) and ends at once, with
    /// OperationCanceledException, when <paramref name="cancellation"/> is cancelled.
    /// </summary>
    public static NetlinkSocket Open(TimeSpan receiveTimeout, CancellationToken cancellation = default)
    {
        int fd = CreateDescriptor();
        var socket = new NetlinkSocket(fd, receiveTimeout, cancellation);
        TimeSpan slice = receiveTimeout < StopSlice ? receiveTimeout : StopSlice;
        var tv = new Native.Timeval { Seconds = (long)slice.TotalSeconds, Microseconds = slice.Milliseconds * 1000L };
        if (Native.SetSockOpt(fd, SolSocket, SoRcvtimeo, ref tv, Marshal.SizeOf<Native.Timeval>()) != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            socket.Dispose();
            throw new NetlinkErrnoException("setsockopt(SO_RCVTIMEO)", errno);
        }

        return socket;
    }

    /// <summary>
    /// Asks for a larger kernel-side receive queue (SO_RCVBUF, capped by net.core.rmem_max): a batch of deletes
    /// is answered with one ACK datagram each, and an ACK that does not fit is dropped. False when refused.
    /// </summary>
    public bool TrySetReceiveBuffer(int bytes)
    {
        ObjectDisposedException.ThrowIf(_fd < 0, this);
        return Native.SetSockOptInt(_fd, SolSocket, SoRcvbuf, ref bytes, sizeof(int)) == 0;
    }

    /// <summary>Sets an integer socket option; false when refused (an older kernel without it).</summary>
    public bool TrySetOption(int level, int name, int value)
    {
        ObjectDisposedException.ThrowIf(_fd < 0, this);
        return Native.SetSockOptInt(_fd, level, name, ref value, sizeof(int)) == 0;
    }

    public unsafe void Send(ReadOnlySpan<byte> request)
    {
        ObjectDisposedException.ThrowIf(_fd < 0, this);
        fixed (byte* p = request)
        {
            while (true)
            {
                nint sent = Native.Send(_fd, p, request.Length, 0);
                if (sent >= 0)
                {
                    return;
                }

                int errno = Marshal.GetLastPInvokeError();
                if (errno != Errno.EINTR)
                {
                    throw new NetlinkErrnoException("send", errno);
                }
            }
        }
    }

    public unsafe int Receive(Span<byte> buffer)
    {
        ObjectDisposedException.ThrowIf(_fd < 0, this);
        long deadline = Environment.TickCount64 + (long)_receiveTimeout.TotalMilliseconds;
        fixed (byte* p = buffer)
        {
            while (true)
            {
                // Between datagrams of a dump as well as while the kernel is silent: a stop ends the dump here.
                _cancellation.ThrowIfCancellationRequested();
                nint n = Native.Recv(_fd, p, buffer.Length, MsgTrunc);
                if (n >= 0)
                {
                    return (int)n;
                }

                int errno = Marshal.GetLastPInvokeError();
                if (errno == Errno.EAGAIN && Environment.TickCount64 < deadline)
                {
                    continue;
                }

                if (errno != Errno.EINTR)
                {
                    _cancellation.ThrowIfCancellationRequested();
                    throw new NetlinkErrnoException("recv", errno);
                }
            }
        }
    }

    public void Dispose()
    {
        if (_fd >= 0)
        {
            _ = Native.Close(_fd);
            _fd = -1;
        }
    }
}

/// <summary>
/// Datagrams saved as text: one datagram per line in hex, "#" lines are comments, and "errno N" stands for a recv
/// that failed with that errno. Captures of real dumps are committed in this form as test data, and
/// <see cref="TestHooks.NetlinkReplayPath"/> lets the whole module run against one.
/// </summary>
internal sealed class ReplayTransport : INetlinkTransport
{
    private readonly Queue<string> _lines;
    private readonly CancellationToken _cancellation;

    public ReplayTransport(IEnumerable<string> lines, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(lines);
        _cancellation = cancellation;
        _lines = new Queue<string>();
        foreach (string line in lines)
        {
            string t = line.Trim();
            if (t.Length > 0 && t[0] != '#')
            {
                _lines.Enqueue(t);
            }
        }
    }

    public static ReplayTransport FromFile(string path, CancellationToken cancellation = default) => new(File.ReadLines(path), cancellation);

    /// <summary>The requests sent, so tests can check what was asked of the kernel.</summary>
    public List<byte[]> Sent { get; } = [];

    /// <summary>Records the request; replies are rewritten to carry its sequence number, so captures replay under any seq.</summary>
    public void Send(ReadOnlySpan<byte> request) => Sent.Add(request.ToArray());

    public int Receive(Span<byte> buffer)
    {
        // As the socket does: a replayed dump can be stopped between datagrams.
        _cancellation.ThrowIfCancellationRequested();
        if (!_lines.TryDequeue(out string? line))
        {
            throw new NetlinkErrnoException("recv", Errno.EAGAIN);
        }

        if (line.StartsWith("errno ", StringComparison.Ordinal))
        {
            throw new NetlinkErrnoException("recv", int.Parse(line.AsSpan(6), NumberStyles.None, CultureInfo.InvariantCulture));
        }

        byte[] datagram = Convert.FromHexString(line);
        datagram.AsSpan(0, Math.Min(datagram.Length, buffer.Length)).CopyTo(buffer);
        RewriteSequence(buffer[..Math.Min(datagram.Length, buffer.Length)]);
        return datagram.Length;
    }

    // Captured replies carry the seq of the capture run; answer with the seq of the request just sent.
    private void RewriteSequence(Span<byte> datagram)
    {
        if (Sent.Count == 0 || Sent[^1].Length < 16)
        {
            return;
        }

        ReadOnlySpan<byte> seq = Sent[^1].AsSpan(8, 4);
        for (int off = 0; off + 16 <= datagram.Length;)
        {
            int len = (int)NetlinkWire.H32(datagram[off..]);
            seq.CopyTo(datagram.Slice(off + 8, 4));
            if (len < 16)
            {
                break;
            }

            off += NetlinkWire.Align4(len);
        }
    }

    public void Dispose() { }
}

/// <summary>Writes every datagram a real socket receives to a capture file in the <see cref="ReplayTransport"/> form.</summary>
internal sealed class RecordingTransport : INetlinkTransport
{
    private readonly INetlinkTransport _inner;
    private readonly StreamWriter _writer;

    public RecordingTransport(INetlinkTransport inner, string path)
    {
        _inner = inner;
        _writer = new StreamWriter(path, append: true);
    }

    public void Send(ReadOnlySpan<byte> request)
    {
        _writer.WriteLine("# request " + Convert.ToHexString(request));
        _inner.Send(request);
    }

    public int Receive(Span<byte> buffer)
    {
        try
        {
            int n = _inner.Receive(buffer);
            _writer.WriteLine(Convert.ToHexString(buffer[..Math.Min(n, buffer.Length)]));
            return n;
        }
        catch (NetlinkErrnoException e)
        {
            _writer.WriteLine("errno " + e.Number.ToString(CultureInfo.InvariantCulture));
            throw;
        }
    }

    public void Dispose()
    {
        _writer.Dispose();
        _inner.Dispose();
    }
}

/// <summary>
/// Opens the transport every ctnetlink conversation uses: a socket, or under the test seam (<see cref="TestHooks"/>)
/// a replayed capture or a socket whose replies are recorded.
/// </summary>
internal static class NetlinkTransports
{
    internal static INetlinkTransport Open() => Open(null);

    /// <summary>A transport whose receives end with OperationCanceledException once <paramref name="cancellation"/> is cancelled.</summary>
    internal static INetlinkTransport Open(CancellationToken cancellation) => Open(null, cancellation);

    /// <summary>
    /// A transport in this process's network namespace, or (with a path such as /run/netns/x or /proc/PID/ns/net)
    /// in that one; its receives observe <paramref name="cancellation"/>.
    /// </summary>
    internal static INetlinkTransport Open(string? networkNamespace, CancellationToken cancellation = default)
    {
        if (TestHooks.NetlinkReplayPath is { } replay)
        {
            return ReplayTransport.FromFile(replay, cancellation);
        }

        INetlinkTransport socket = NetlinkSocketFactory.Open(TimeSpan.FromSeconds(10), networkNamespace, cancellation);
        return TestHooks.NetlinkRecordPath is { } record ? new RecordingTransport(socket, record) : socket;
    }
}
