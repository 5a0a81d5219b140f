using System.Runtime.InteropServices;

namespace ConntrackTuning.Engine.Netlink;

/// <summary>How the receive queue of an event socket was sized: asked, granted, and how.</summary>
internal sealed record EventBufferSize(int Requested, int Effective, bool Forced, string? CapReason);

/// <summary>What one recv on an event socket gave.</summary>
internal enum EventReceiveStatus
{
    /// <summary>A datagram of events.</summary>
    Data,

    /// <summary>Nothing arrived within the wake interval (SO_RCVTIMEO); the caller checks its stop signal.</summary>
    Timeout,

    /// <summary>ENOBUFS: the queue overflowed and the kernel dropped events; reading continues normally after it.</summary>
    Overrun,
}

/// <summary>
/// The ctnetlink event subscriber (CTNETLINK.md §10.3). Every netlink socket of the engine is created by
/// <see cref="CreateDescriptor"/>, the one place a network namespace switch (setns) has to wrap.
/// </summary>
internal sealed partial class NetlinkSocket
{
    private const int SoRcvbufForce = 33;
    private const int SoAttachFilter = 26; // also SO_GET_FILTER
    private const int MsgWaitForOne = 0x10000;

    /// <summary>The socket(2) call of every netlink socket here: the socket belongs for life to the namespace it is made in.</summary>
    private static int CreateDescriptor()
    {
        int fd = Native.Socket(AfNetlink, SockRaw | SockCloexec, NetlinkNetfilter);
        if (fd < 0)
        {
            throw new NetlinkErrnoException("socket(AF_NETLINK, NETLINK_NETFILTER)", Marshal.GetLastPInvokeError());
        }

        return fd;
    }

    /// <summary>
    /// Opens a socket bound to the ctnetlink multicast groups in <paramref name="groups"/> (bit n-1 for group n:
    /// NFNLGRP_CONNTRACK_NEW = 1 ... EXP_DESTROY = 6), with a receive queue of <paramref name="bufferBytes"/> and a
    /// receive timeout of <paramref name="wake"/> so a blocked read notices a stop signal.
    /// </summary>
    /// <remarks>
    /// A <paramref name="program"/> (classic BPF) is attached before the groups are joined, so no event arrives
    /// unfiltered; <paramref name="filterInstructions"/> is its length as the kernel reports it back, 0 with the
    /// reason in <paramref name="filterFailure"/> when the kernel refused it (the caller then filters alone).
    /// </remarks>
    internal static NetlinkSocket OpenSubscriber(uint groups, int bufferBytes, TimeSpan wake, Native.SockFilter[]? program,
        out EventBufferSize size, out int filterInstructions, out string? filterFailure)
    {
        filterInstructions = 0;
        filterFailure = null;
        var socket = new NetlinkSocket(CreateDescriptor(), wake, default);
        try
        {
            var tv = new Native.Timeval { Seconds = (long)wake.TotalSeconds, Microseconds = wake.Milliseconds * 1000L };
            if (Native.SetSockOpt(socket._fd, SolSocket, SoRcvtimeo, ref tv, Marshal.SizeOf<Native.Timeval>()) != 0)
            {
                throw new NetlinkErrnoException("setsockopt(SO_RCVTIMEO)", Marshal.GetLastPInvokeError());
            }

            size = socket.Resize(bufferBytes);
            if (program is not null)
            {
                try
                {
                    filterInstructions = socket.AttachFilter(program);
                }
                catch (NetlinkErrnoException e)
                {
                    filterFailure = e.Message;
                }
            }

            socket.Join(groups);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Sets the receive queue: SO_RCVBUFFORCE (CAP_NET_ADMIN in the initial user namespace, ignores
    /// net.core.rmem_max), else SO_RCVBUF (capped by rmem_max). The kernel doubles what it is given for its own
    /// bookkeeping; the size read back is what the queue holds.
    /// </summary>
    public unsafe EventBufferSize Resize(int bufferBytes)
    {
        ObjectDisposedException.ThrowIf(_fd < 0, this);
        int value = bufferBytes;
        bool forced = Native.SetSockOpt(_fd, SolSocket, SoRcvbufForce, &value, sizeof(int)) == 0;
        int forceErrno = forced ? 0 : Marshal.GetLastPInvokeError();
        if (!forced && Native.SetSockOpt(_fd, SolSocket, SoRcvbuf, &value, sizeof(int)) != 0)
        {
            throw new NetlinkErrnoException("setsockopt(SO_RCVBUF)", Marshal.GetLastPInvokeError());
        }

        int effective = 0;
        int length = sizeof(int);
        if (Native.GetSockOpt(_fd, SolSocket, SoRcvbuf, &effective, ref length) != 0)
        {
            throw new NetlinkErrnoException("getsockopt(SO_RCVBUF)", Marshal.GetLastPInvokeError());
        }

        string? cap = null;
        if (!forced && effective < 2L * bufferBytes)
        {
            cap = forceErrno == Errno.EPERM
                ? "SO_RCVBUFFORCE needs CAP_NET_ADMIN in the initial user namespace, so SO_RCVBUF was used, which net.core.rmem_max caps"
                : $"SO_RCVBUFFORCE failed ({Errno.Describe(forceErrno)}), so SO_RCVBUF was used, which net.core.rmem_max caps";
        }

        return new EventBufferSize(bufferBytes, effective, forced, cap);
    }

    private unsafe void Join(uint groups)
    {
        // struct sockaddr_nl: nl_family u16, nl_pad u16, nl_pid u32 (0: the kernel picks), nl_groups u32.
        byte* address = stackalloc byte[12];
        new Span<byte>(address, 12).Clear();
        NetlinkWire.WriteH16(new Span<byte>(address, 2), AfNetlink);
        NetlinkWire.WriteH32(new Span<byte>(address + 8, 4), groups);
        if (Native.Bind(_fd, address, 12) != 0)
        {
            throw new NetlinkErrnoException("bind(NFNLGRP_CONNTRACK_*)", Marshal.GetLastPInvokeError());
        }
    }

    /// <summary>
    /// Attaches a classic BPF program (SO_ATTACH_FILTER): the kernel runs it on every event before queuing it and
    /// drops the ones it rejects. Returns the instruction count the kernel reports back (SO_GET_FILTER), which is
    /// what proves the socket carries the program.
    /// </summary>
    public unsafe int AttachFilter(ReadOnlySpan<Native.SockFilter> program)
    {
        ObjectDisposedException.ThrowIf(_fd < 0, this);
        fixed (Native.SockFilter* p = program)
        {
            var fprog = new Native.SockFprog { Length = (ushort)program.Length, Filter = p };
            if (Native.SetSockOpt(_fd, SolSocket, SoAttachFilter, &fprog, sizeof(Native.SockFprog)) != 0)
            {
                throw new NetlinkErrnoException("setsockopt(SO_ATTACH_FILTER)", Marshal.GetLastPInvokeError());
            }
        }

        return FilterInstructions();
    }

    /// <summary>The length of the socket's BPF program as the kernel holds it (SO_GET_FILTER with no buffer); 0 when none.</summary>
    public unsafe int FilterInstructions()
    {
        ObjectDisposedException.ThrowIf(_fd < 0, this);
        // With a zero length the kernel answers the program's length, in instructions, in the length itself.
        int length = 0;
        byte none = 0;
        return Native.GetSockOpt(_fd, SolSocket, SoAttachFilter, &none, ref length) == 0
            ? length
            : throw new NetlinkErrnoException("getsockopt(SO_GET_FILTER)", Marshal.GetLastPInvokeError());
    }

    /// <summary>
    /// One recvmmsg: every datagram queued, up to the batch's slots, waiting (up to the wake interval) only for
    /// the first. <paramref name="count"/> datagrams are then in the batch's slots.
    /// </summary>
    public unsafe EventReceiveStatus ReceiveEvents(EventBatch batch, out int count)
    {
        ArgumentNullException.ThrowIfNull(batch);
        ObjectDisposedException.ThrowIf(_fd < 0, this);
        while (true)
        {
            int n = Native.RecvMmsg(_fd, batch.Headers, (uint)batch.Slots, MsgTrunc | MsgWaitForOne, null);
            if (n >= 0)
            {
                count = n;
                return EventReceiveStatus.Data;
            }

            int errno = Marshal.GetLastPInvokeError();
            count = 0;
            switch (errno)
            {
                case Errno.EINTR:
                    continue;
                case Errno.EAGAIN:
                    return EventReceiveStatus.Timeout;
                case Errno.ENOBUFS:
                    return EventReceiveStatus.Overrun;
                default:
                    throw new NetlinkErrnoException("recvmmsg", errno);
            }
        }
    }
}

/// <summary>
/// The receive slots of an event socket, allocated once outside the managed heap: <see cref="Slots"/> datagrams
/// of up to <see cref="SlotBytes"/> each (an event message is well under 2 KiB), with their iovecs and mmsghdrs.
/// </summary>
internal sealed unsafe class EventBatch : IDisposable
{
    public const int DefaultSlots = 64;
    public const int SlotBytes = 8192;

    private byte* _data;
    private Native.IoVec* _iov;

    public EventBatch(int slots = DefaultSlots)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(slots, 1);
        Slots = slots;
        _data = (byte*)NativeMemory.AllocZeroed((nuint)slots * SlotBytes);
        _iov = (Native.IoVec*)NativeMemory.AllocZeroed((nuint)slots, (nuint)sizeof(Native.IoVec));
        Headers = (Native.MMsgHdr*)NativeMemory.AllocZeroed((nuint)slots, (nuint)sizeof(Native.MMsgHdr));
        for (int i = 0; i < slots; i++)
        {
            _iov[i].Base = _data + ((long)i * SlotBytes);
            _iov[i].Length = SlotBytes;
            Headers[i].Header.Iov = _iov + i;
            Headers[i].Header.IovLength = 1;
        }
    }

    public int Slots { get; }

    internal Native.MMsgHdr* Headers { get; private set; }

    /// <summary>The full length of the datagram in slot <paramref name="i"/> (more than <see cref="SlotBytes"/> when it was cut).</summary>
    public int Length(int i) => (int)Headers[i].Length;

    /// <summary>The bytes of slot <paramref name="i"/> that were received.</summary>
    public ReadOnlySpan<byte> Datagram(int i) => new(_data + ((long)i * SlotBytes), Math.Min(SlotBytes, Length(i)));

    public void Dispose()
    {
        NativeMemory.Free(_data);
        NativeMemory.Free(_iov);
        NativeMemory.Free(Headers);
        _data = null;
        _iov = null;
        Headers = null;
    }
}
