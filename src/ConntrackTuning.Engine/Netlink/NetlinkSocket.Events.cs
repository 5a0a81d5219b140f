using System;
using System.Runtime.InteropServices;
using ConntrackTuning.Engine.Platform;

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
    public static NetlinkSocket OpenSubscriber(uint groups, int bufferBytes, TimeSpan wake, out EventBufferSize size)
    {
        var socket = new NetlinkSocket(CreateDescriptor(), wake, default);
        try
        {
            var tv = new Native.Timeval { Seconds = (long)wake.TotalSeconds, Microseconds = wake.Milliseconds * 1000L };
            if (Native.SetSockOpt(socket._fd, SolSocket, SoRcvtimeo, ref tv, Marshal.SizeOf<Native.Timeval>()) != 0)
            {
                throw new NetlinkErrnoException("setsockopt(SO_RCVTIMEO)", Marshal.GetLastPInvokeError());
            }

            size = socket.Resize(bufferBytes);
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

    /// <summary>One recv: a datagram (its full length, larger than the buffer when truncated), a timeout or an overrun.</summary>
    public unsafe EventReceiveStatus ReceiveEvents(Span<byte> buffer, out int length)
    {
        ObjectDisposedException.ThrowIf(_fd < 0, this);
        fixed (byte* p = buffer)
        {
            while (true)
            {
                nint n = Native.Recv(_fd, p, buffer.Length, MsgTrunc);
                if (n >= 0)
                {
                    length = (int)n;
                    return EventReceiveStatus.Data;
                }

                int errno = Marshal.GetLastPInvokeError();
                length = 0;
                switch (errno)
                {
                    case Errno.EINTR:
                        continue;
                    case Errno.EAGAIN:
                        return EventReceiveStatus.Timeout;
                    case Errno.ENOBUFS:
                        return EventReceiveStatus.Overrun;
                    default:
                        throw new NetlinkErrnoException("recv", errno);
                }
            }
        }
    }
}
