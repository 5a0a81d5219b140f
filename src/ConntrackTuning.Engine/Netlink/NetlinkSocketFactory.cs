using System;
using System.Runtime.InteropServices;
using System.Threading;
using ConntrackTuning.Engine.Platform;

namespace ConntrackTuning.Engine.Netlink;

/// <summary>
/// Opens NETLINK_NETFILTER sockets, in this process's network namespace or in another one. A netlink socket
/// belongs for its whole life to the namespace it was created in (CTNETLINK.md §10.2), so for another namespace
/// the socket is created on a dedicated thread that enters the namespace with setns(2) and then ends: no
/// thread-pool thread, and no thread that runs PowerShell, is ever left in a foreign namespace.
/// </summary>
internal static class NetlinkSocketFactory
{
    /// <summary>A socket whose receives observe <paramref name="cancellation"/> (the stop signal of the invocation).</summary>
    public static NetlinkSocket Open(TimeSpan receiveTimeout, string? networkNamespace = null, CancellationToken cancellation = default)
    {
        if (string.IsNullOrEmpty(networkNamespace))
        {
            // A cmdlet's -NetworkNamespace makes a namespace current for the whole invocation.
            return Namespaces.NamespaceContext.Current is { } current
                ? current.Invoke(() => NetlinkSocket.Open(receiveTimeout, cancellation))
                : NetlinkSocket.Open(receiveTimeout, cancellation);
        }

        NetlinkSocket? socket = null;
        Exception? failure = null;
        var thread = new Thread(() =>
        {
            try
            {
                socket = OpenInside(receiveTimeout, networkNamespace, cancellation);
            }
#pragma warning disable CA1031 // handed to the calling thread, which rethrows it
            catch (Exception e)
#pragma warning restore CA1031
            {
                failure = e;
            }
        })
        {
            IsBackground = true,
            Name = "conntrack netns socket",
        };
        thread.Start();
        thread.Join();
        return failure is null ? socket! : throw failure;
    }

    private static NetlinkSocket OpenInside(TimeSpan receiveTimeout, string networkNamespace, CancellationToken cancellation)
    {
        int fd = Native.Open(networkNamespace, Native.O_RDONLY | Native.O_CLOEXEC);
        if (fd < 0)
        {
            throw new NetlinkErrnoException("open(" + networkNamespace + ")", Marshal.GetLastPInvokeError());
        }

        try
        {
            if (Native.Setns(fd, Native.CLONE_NEWNET) != 0)
            {
                throw new NetlinkErrnoException("setns(" + networkNamespace + ")", Marshal.GetLastPInvokeError());
            }

            return NetlinkSocket.Open(receiveTimeout, cancellation);
        }
        finally
        {
            _ = Native.Close(fd);
        }
    }
}
