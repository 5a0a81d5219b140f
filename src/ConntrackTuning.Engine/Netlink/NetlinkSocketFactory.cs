using System.Runtime.InteropServices;

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
    public static NetlinkSocket Open(TimeSpan receiveTimeout, string? networkNamespace = null, CancellationToken cancellation = default) =>
        Create(() => NetlinkSocket.Open(receiveTimeout, cancellation), networkNamespace);

    /// <summary>
    /// An event subscriber (the ctnetlink multicast groups in <paramref name="groups"/>), created in the current
    /// namespace of the invocation (<see cref="Namespaces.NamespaceContext.Current"/>), in
    /// <paramref name="networkNamespace"/> when given, or else in this process's.
    /// </summary>
    /// <remarks>The BPF <paramref name="program"/>, when given, is attached before the groups are joined (see <see cref="NetlinkSocket.OpenSubscriber"/>).</remarks>
    public static NetlinkSocket OpenSubscriber(uint groups, int bufferBytes, TimeSpan wake, Native.SockFilter[]? program,
        out EventBufferSize size, out int filterInstructions, out string? filterFailure, string? networkNamespace = null)
    {
        EventBufferSize granted = default!;
        int instructions = 0;
        string? failure = null;
        NetlinkSocket socket = Create(() => NetlinkSocket.OpenSubscriber(groups, bufferBytes, wake, program, out granted, out instructions, out failure), networkNamespace);
        size = granted;
        filterInstructions = instructions;
        filterFailure = failure;
        return socket;
    }

    private static NetlinkSocket Create(Func<NetlinkSocket> open, string? networkNamespace)
    {
        if (string.IsNullOrEmpty(networkNamespace))
        {
            return Namespaces.NamespaceContext.Current is { } current ? current.Invoke(open) : open();
        }

        NetlinkSocket? socket = null;
        Exception? failure = null;
        var thread = new Thread(() =>
        {
            try
            {
                socket = Inside(networkNamespace, open);
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

    // On a thread of its own that ends afterwards: setns(2) into the namespace, then create the socket there.
    private static NetlinkSocket Inside(string networkNamespace, Func<NetlinkSocket> open)
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

            return open();
        }
        finally
        {
            _ = Native.Close(fd);
        }
    }
}
