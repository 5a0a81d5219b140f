using ConntrackTuning.Engine.Expectations;
using ConntrackTuning.Engine.Netlink;
using ConntrackTuning.Engine.Statistics;

namespace ConntrackTuning.Engine.Limits;

/// <summary>The expectation table's limit and count, each with where it came from.</summary>
internal sealed record ExpectationFigures(long? Max, string? MaxSource, long? Count, string? CountSource)
{
    public double? UsagePercent => TableRatios.UsagePercent(Count, Max);
}

/// <summary>
/// Reads the expectation table's figures. The limit is the nf_conntrack_expect_max sysctl (global: read-only in
/// other namespaces). The kernel exports no count, so it is taken, in this order, from a ctnetlink dump (exact,
/// needs CAP_NET_ADMIN), the lines of proc/net/nf_conntrack_expect (root only on the live system), or the
/// per-CPU expect_create minus expect_delete columns of proc/net/stat/nf_conntrack: every insertion counts one
/// create and every removal one delete, so their difference is the count (modulo 2^32 per column).
/// </summary>
internal static class ExpectationLimits
{
    public const string MaxPath = "proc/sys/net/netfilter/nf_conntrack_expect_max";

    public static ExpectationFigures Read(ConntrackKernel kernel)
    {
        ArgumentNullException.ThrowIfNull(kernel);
        SystemRoot root = kernel.SystemRoot;
        long? max = root.FileExists(MaxPath) ? root.TryReadInt64(MaxPath) : null;
        string? maxSource = max is null ? null : root.Full(MaxPath);
        (long? count, string? countSource) = ReadCount(kernel);
        return new ExpectationFigures(max, maxSource, count, countSource);
    }

    private static (long?, string?) ReadCount(ConntrackKernel kernel)
    {
        SystemRoot root = kernel.SystemRoot;
        if (root.IsLive && kernel.IsLoaded)
        {
            try
            {
                using var client = new CtnetlinkClient(NetlinkTransports.Open(root.Cancellation));
                return (ExpectationReader.Count(client), "ctnetlink");
            }
            catch (NetlinkErrnoException e)
            {
                root.Log.Verbose($"Counting expectations over ctnetlink failed ({Errno.Describe(e.Number)}); trying the procfs files.");
            }
            catch (NetlinkProtocolException e)
            {
                root.Log.Verbose($"Counting expectations over ctnetlink failed ({e.Message}); trying the procfs files.");
            }
        }

        if (ExpectationReader.FindProcFile(root) is { } file && root.TryOpenRead(file, out _) is { } stream)
        {
            using (stream)
            using (var reader = new System.IO.StreamReader(stream))
            {
                long n = 0;
                while (reader.ReadLine() is { } line)
                {
                    if (line.Length > 0)
                    {
                        n++;
                    }
                }

                return (n, root.Full(file));
            }
        }

        if (ExpectationReader.FindTable(kernel) is { } table)
        {
            return (root.ReadLines(table).LongCount(l => l.StartsWith("EXPECTING:", StringComparison.Ordinal)), root.Full(table) + " (EXPECTING lines)");
        }

        try
        {
            if (ProcStatisticsSource.Instance.TryRead(kernel, out _) is { } stats
                && stats.Cpus.Count > 0 && stats.Cpus.All(c => c.Values.ContainsKey("expect_create") && c.Values.ContainsKey("expect_delete")))
            {
                long created = stats.Cpus.Sum(c => c.Values["expect_create"]);
                long deleted = stats.Cpus.Sum(c => c.Values["expect_delete"]);
                long count = (created - deleted) & 0xFFFFFFFF;
                return (count, stats.Source + " (expect_create - expect_delete)");
            }
        }
        catch (ConntrackException e)
        {
            root.Log.Verbose("The statistics file gives no expectation count: " + e.Message);
        }

        return (null, null);
    }
}
