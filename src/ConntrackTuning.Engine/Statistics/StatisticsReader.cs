using ConntrackTuning.Engine.Limits;

namespace ConntrackTuning.Engine.Statistics;

/// <summary>The per-CPU counters of one network namespace and where they were read.</summary>
internal sealed record CpuStatistics(IReadOnlyList<CpuCounters> Cpus, string Source);

/// <summary>
/// A place the per-CPU counters can come from. Sources are tried in order; the first that has the counters
/// wins. A source that does not apply to a kernel (no such file, no netlink under a -Root tree) returns null
/// and says why, so the error for "no source at all" can list every reason.
/// </summary>
internal interface ICpuStatisticsSource
{
    CpuStatistics? TryRead(ConntrackKernel kernel, out string? unavailableReason);
}

/// <summary>proc/net/stat/nf_conntrack or proc/net/stat/ip_conntrack under the root.</summary>
internal sealed class ProcStatisticsSource : ICpuStatisticsSource
{
    public static readonly ProcStatisticsSource Instance = new();

    /// <summary>Both names, whatever the era says: vendors backported files across the boundary.</summary>
    internal static readonly string[] Candidates = ["proc/net/stat/nf_conntrack", "proc/net/stat/ip_conntrack"];

    public CpuStatistics? TryRead(ConntrackKernel kernel, out string? unavailableReason)
    {
        ArgumentNullException.ThrowIfNull(kernel);
        SystemRoot root = kernel.SystemRoot;
        IEnumerable<string> order = kernel.StatisticsPathFound is { } found ? Candidates.Prepend(found).Distinct() : Candidates;
        string? path = order.FirstOrDefault(root.FileExists);
        if (path is null)
        {
            unavailableReason = kernel.EraRow.StatisticsPath is null
                ? $"kernel {kernel.KernelRelease ?? "of this era"} ({kernel.EraRow.Description}) keeps no per-CPU statistics; they arrived with 2.6"
                : $"{root.Full(kernel.EraRow.StatisticsPath)} does not exist (the kernel was built without CONFIG_NF_CONNTRACK_PROCFS, or the tree was captured without it)";
            return null;
        }

        IReadOnlyList<int>? cpuIds = ProcStatParser.ParseCpuList(root.TryReadText("sys/devices/system/cpu/possible"));
        // A file that is there but cannot be read (mode 000, a FIFO in a hostile tree) is said to be so, never taken as empty.
        Stream stream = root.TryOpenRead(path, out ReadStatus status, out string? why) ?? throw new ConntrackException(ErrorIds.FileReadFailed,
            status == ReadStatus.AccessDenied ? ErrorKind.PermissionDenied : ErrorKind.ReadError,
            $"Cannot read '{root.Full(path)}': {why}.", root.Full(path),
            status == ReadStatus.AccessDenied ? (root.IsLive ? "Run pwsh as root (sudo pwsh), or check the security policy." : $"Check the mode of '{root.Full(path)}'; reading another user's capture may need root.")
                : $"Check what '{root.Full(path)}' is: the kernel's statistics file is a regular file.");
        IReadOnlyList<CpuCounters> cpus;
        using (var reader = new StreamReader(stream))
        {
            cpus = ProcStatParser.Parse(Lines(reader), root.Full(path), root.Log, cpuIds);
        }

        unavailableReason = null;
        return new CpuStatistics(cpus, root.Full(path));
    }

    private static IEnumerable<string> Lines(StreamReader reader)
    {
        while (reader.ReadLine() is { } line)
        {
            yield return line;
        }
    }
}

/// <summary>
/// ctnetlink (IPCTNL_MSG_CT_GET_STATS_CPU), as conntrack -S reads it: the running kernel only, the network
/// namespace of this process, and CAP_NET_ADMIN. It stands in for kernels built without the procfs file.
/// </summary>
internal sealed class NetlinkStatisticsSource : ICpuStatisticsSource
{
    public static readonly NetlinkStatisticsSource Instance = new();

    public CpuStatistics? TryRead(ConntrackKernel kernel, out string? unavailableReason)
    {
        ArgumentNullException.ThrowIfNull(kernel);
        SystemRoot root = kernel.SystemRoot;
        if (!root.IsLive)
        {
            unavailableReason = "ctnetlink reaches only the running kernel, not a tree under -Root";
            return null;
        }

        IReadOnlyList<CpuCounters> rows;
        try
        {
            rows = CtnetlinkStatistics.ReadPerCpu(root.Log, root.Cancellation);
        }
        catch (ConntrackException e)
        {
            unavailableReason = "ctnetlink: " + e.Message;
            return null;
        }

        // Netlink has no entries column; the count sysctl is the same per-namespace number every procfs row repeats.
        // Where /proc/sys cannot be read either (a masked or pid-only /proc), ask ctnetlink for it as conntrack -C does.
        if (EntryCount(kernel) is { } count)
        {
            rows = rows.Select(r => r with { Values = new Dictionary<string, long>(r.Values, StringComparer.Ordinal) { ["entries"] = count } }).ToArray();
        }

        unavailableReason = null;
        return new CpuStatistics(rows, "ctnetlink");
    }

    private static long? EntryCount(ConntrackKernel kernel)
    {
        SystemRoot root = kernel.SystemRoot;
        if (kernel.CountPathFound is { } countPath && root.TryReadInt64(countPath) is { } count)
        {
            return count;
        }

        try
        {
            return CtnetlinkStatistics.ReadCount(root.Log, root.Cancellation).Entries;
        }
        catch (ConntrackException e)
        {
            root.Log.Verbose($"The entry count is unknown: no count sysctl, and {e.Message}");
            return null;
        }
    }
}

/// <summary>Reads the per-CPU counters from the first source that has them.</summary>
internal static class StatisticsReader
{
    /// <summary>
    /// The sources in the order they are tried: the procfs file (any root, no privilege), then ctnetlink for the
    /// running kernels built without it.
    /// </summary>
    internal static IReadOnlyList<ICpuStatisticsSource> DefaultSources { get; } = [ProcStatisticsSource.Instance, NetlinkStatisticsSource.Instance];

    public static CpuStatistics Read(ConntrackKernel kernel, IReadOnlyList<ICpuStatisticsSource>? sources = null)
    {
        ArgumentNullException.ThrowIfNull(kernel);
        if (!kernel.IsLoaded)
        {
            throw LimitReader.NotLoaded(kernel);
        }

        var reasons = new List<string>();
        ConntrackException? damaged = null;
        foreach (ICpuStatisticsSource source in sources ?? DefaultSources)
        {
            CpuStatistics? statistics;
            string? reason;
            try
            {
                statistics = source.TryRead(kernel, out reason);
            }
            catch (ConntrackException e) when (e.ErrorId == ErrorIds.StatisticsMalformed)
            {
                // A damaged or empty procfs file on a live machine still leaves ctnetlink, which has the same counters;
                // under a -Root tree nothing else has them, and the file's own error says best what is wrong.
                damaged ??= e;
                continue;
            }

            if (statistics is not null)
            {
                if (damaged is not null)
                {
                    kernel.SystemRoot.Log.Warning($"{damaged.Message} The counters were read from {statistics.Source} instead.");
                }

                return statistics;
            }

            if (reason is not null)
            {
                reasons.Add(reason);
            }
        }

        if (damaged is not null)
        {
            throw damaged;
        }

        string target = kernel.SystemRoot.Full(kernel.EraRow.StatisticsPath ?? ProcStatisticsSource.Candidates[0]);
        throw new ConntrackException(ErrorIds.StatisticsUnavailable, ErrorKind.ObjectNotFound,
            $"The conntrack statistics cannot be read: {string.Join("; ", reasons)}.", target,
            kernel.SystemRoot.IsLive
                ? "Run pwsh as root: the counters are then read over ctnetlink (it needs CAP_NET_ADMIN), as 'conntrack -S' does."
                : "Capture proc/net/stat/nf_conntrack with the tree (sosreport collects it), or run Get-ConntrackStatistic or 'conntrack -S' on the host itself.");
    }
}
