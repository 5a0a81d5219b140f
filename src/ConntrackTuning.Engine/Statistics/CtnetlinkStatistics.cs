using ConntrackTuning.Engine.Netlink;

namespace ConntrackTuning.Engine.Statistics;

/// <summary>The kernel's entry count and, when it sends one, its global CONNTRACK_MAX (what conntrack -C reads).</summary>
internal sealed record ConntrackNetlinkCount(long Entries, long? Max);

/// <summary>
/// The statistics conntrack -S and conntrack -C read, over ctnetlink, for kernels whose procfs statistics file is
/// missing (CONFIG_NF_CONNTRACK_PROCFS off). They describe the network namespace of this process. Needs
/// CAP_NET_ADMIN; failures are ConntrackExceptions (NetlinkPermissionDenied, NetlinkUnavailable, NetlinkFailed).
/// </summary>
internal static class CtnetlinkStatistics
{
    /// <summary>
    /// One row per possible CPU (IPCTNL_MSG_CT_GET_STATS_CPU), keyed by the procfs column names of a current
    /// kernel: found, invalid, insert, insert_failed, drop, early_drop, icmp_error (netlink "error"),
    /// search_restart, clashres (clash_resolve), chainlength (chaintoolong); old kernels add searched, new,
    /// ignore, delete and delete_list. There is no "entries" column: <see cref="ReadCount"/> gives it.
    /// </summary>
    public static IReadOnlyList<CpuCounters> ReadPerCpu(IEngineLog? log = null, CancellationToken cancellation = default) =>
        Run(log, "per-CPU statistics", client => client.ReadCpuStatistics(), cancellation);

    /// <summary>The entries of this namespace and the global max (IPCTNL_MSG_CT_GET_STATS).</summary>
    public static ConntrackNetlinkCount ReadCount(IEngineLog? log = null, CancellationToken cancellation = default) =>
        Run(log, "entry count", client =>
        {
            CtnetlinkCount count = client.ReadCount();
            return new ConntrackNetlinkCount(count.Entries, count.Max);
        }, cancellation);

    private static T Run<T>(IEngineLog? log, string what, Func<CtnetlinkClient, T> work, CancellationToken cancellation)
    {
        (log ?? NullEngineLog.Instance).Verbose($"Reading the conntrack {what} over ctnetlink.");
        try
        {
            using CtnetlinkClient client = CtnetlinkClient.Open(cancellation);
            return work(client);
        }
        catch (NetlinkErrnoException e) when (e.Number == Errno.EPERM)
        {
            throw new ConntrackException(ErrorIds.NetlinkPermissionDenied, ErrorKind.PermissionDenied,
                $"Cannot read the conntrack {what}: ctnetlink requires CAP_NET_ADMIN ({Errno.Describe(e.Number)}).", "ctnetlink",
                "Run pwsh as root (sudo), or grant it CAP_NET_ADMIN.", e);
        }
        catch (NetlinkErrnoException e) when (e.Number is Errno.EAFNOSUPPORT or Errno.EPROTONOSUPPORT or Errno.EINVAL or Errno.EOPNOTSUPP)
        {
            throw new ConntrackException(ErrorIds.NetlinkUnavailable, ErrorKind.ResourceUnavailable,
                $"Cannot read the conntrack {what}: this kernel does not answer the ctnetlink request ({Errno.Describe(e.Number)}); statistics messages exist from Linux 3.6 and need nf_conntrack_netlink.", "ctnetlink",
                "Load nf_conntrack_netlink (modprobe nf_conntrack_netlink), or read the procfs statistics file where the kernel has one.", e);
        }
        catch (Exception e) when (e is NetlinkErrnoException or NetlinkProtocolException)
        {
            throw new ConntrackException(ErrorIds.NetlinkFailed, ErrorKind.ProtocolError,
                $"Reading the conntrack {what} over ctnetlink failed: {e.Message}", "ctnetlink",
                "Run the command again; compare with 'conntrack -S' or 'conntrack -C'.", e);
        }
    }
}
