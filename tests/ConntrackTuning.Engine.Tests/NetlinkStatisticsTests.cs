using System;
using System.IO;
using System.Linq;
using ConntrackTuning.Engine.Netlink;
using Xunit;
using ConntrackTuning.Engine.Kernel;
using ConntrackTuning.Engine.Platform;
using ConntrackTuning.Engine.Statistics;

namespace ConntrackTuning.Engine.Tests;

/// <summary>
/// The statistics of a kernel without the procfs file, over ctnetlink. The replies are a capture from this
/// kernel (Data/stats-cpu.hex, with the conntrack -S output beside it), replayed through the process-wide
/// <see cref="TestHooks"/>; hence the serial collection.
/// </summary>
[Collection(nameof(TestHooks))]
public sealed class NetlinkStatisticsTests : IDisposable
{
    public void Dispose() => TestHooks.NetlinkReplayPath = null;

    private static ConntrackKernel Live() => KernelProbe.Probe(SystemRoot.Open("/"));

    [LiveConntrackFact]
    public void Ctnetlink_stands_in_for_the_missing_file_with_the_same_properties()
    {
        TestHooks.NetlinkReplayPath = EntryTestData.File("stats-cpu.hex");
        ConntrackKernel kernel = Live();
        // The host's count may move while the test runs (an entry expiring); the reading must fall between two reads.
        long before = LiveCount();
        CpuStatistics s = StatisticsReader.Read(kernel, [new MissingFile(), NetlinkStatisticsSource.Instance]);
        long after = LiveCount();
        Assert.Equal("ctnetlink", s.Source);
        Assert.Equal([0, 1], s.Cpus.Select(c => c.Cpu));

        // What conntrack -S printed from the same replies: insert=1 and insert=5, everything else 0.
        ConntrackStatistic sum = ConntrackStatistic.Sum(s, kernel);
        Assert.Equal(6, sum.Insert);
        Assert.Equal(0, sum.Drop);
        Assert.Equal(0, sum.IcmpError);
        Assert.Equal(0, sum.ClashResolve);
        Assert.Equal(0, sum.ChainTooLong);
        Assert.Equal(0, sum.SearchRestart);
        Assert.Empty(sum.Other);
        Assert.InRange(sum.Entries!.Value, Math.Min(before, after), Math.Max(before, after));
    }

    private static long LiveCount() =>
        long.Parse(File.ReadAllText("/proc/sys/net/netfilter/nf_conntrack_count").Trim(), System.Globalization.CultureInfo.InvariantCulture);

    [LiveConntrackFact]
    public void Without_the_file_and_without_netlink_both_reasons_are_given()
    {
        // EPERM: what an unprivileged reader gets from ctnetlink.
        string path = Path.Combine(Path.GetTempPath(), "ctt-replay-" + Guid.NewGuid().ToString("n") + ".hex");
        byte[] error = Convert.FromHexString("28000000020000000b000000c6430000eaffffff14000000010101000b0000000000000002000000");
        NetlinkWire.WriteH32(error.AsSpan(16), unchecked((uint)-Errno.EPERM));
        File.WriteAllText(path, Convert.ToHexString(error) + "\n");
        try
        {
            TestHooks.NetlinkReplayPath = path;
            ConntrackException e = Assert.Throws<ConntrackException>(() => StatisticsReader.Read(Live(), [new MissingFile(), NetlinkStatisticsSource.Instance]));
            Assert.Equal(ErrorIds.StatisticsUnavailable, e.ErrorId);
            Assert.Contains("the procfs file is hidden", e.Message, StringComparison.Ordinal);
            Assert.Contains("ctnetlink: ", e.Message, StringComparison.Ordinal);
            Assert.Contains("CAP_NET_ADMIN", e.Message, StringComparison.Ordinal);
            Assert.Contains("root", e.RecommendedAction, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [LiveConntrackFact]
    public void A_tree_under_a_root_is_never_read_over_netlink()
    {
        using var tree = new FixtureTree("ubuntu-5.15-module-noprocfs");
        ConntrackException e = Assert.Throws<ConntrackException>(() => StatisticsReader.Read(KernelProbe.Probe(tree.Open())));
        Assert.Contains("ctnetlink reaches only the running kernel", e.Message, StringComparison.Ordinal);
    }

    [LiveConntrackFact]
    public void A_damaged_procfs_file_on_the_running_kernel_gives_way_to_ctnetlink_with_a_warning()
    {
        TestHooks.NetlinkReplayPath = EntryTestData.File("stats-cpu.hex");
        var log = new RecordingLog();
        ConntrackKernel kernel = KernelProbe.Probe(SystemRoot.Open("/", log));
        CpuStatistics s = StatisticsReader.Read(kernel, [new DamagedFile(), NetlinkStatisticsSource.Instance]);
        Assert.Equal("ctnetlink", s.Source);
        Assert.Equal(6, ConntrackStatistic.Sum(s, kernel).Insert);
        string warning = Assert.Single(log.Warnings);
        Assert.StartsWith("The statistics file '/proc/net/stat/nf_conntrack' cannot be read: it is empty.", warning, StringComparison.Ordinal);
        Assert.EndsWith("The counters were read from ctnetlink instead.", warning, StringComparison.Ordinal);
    }

    [LiveConntrackFact]
    public void A_damaged_procfs_file_with_nothing_after_it_is_the_error_of_the_file()
    {
        var log = new RecordingLog();
        ConntrackKernel kernel = KernelProbe.Probe(SystemRoot.Open("/", log));
        ConntrackException e = Assert.Throws<ConntrackException>(() => StatisticsReader.Read(kernel, [new DamagedFile(), new MissingFile()]));
        Assert.Equal(ErrorIds.StatisticsMalformed, e.ErrorId);
        Assert.Equal("/proc/net/stat/nf_conntrack", e.Target);
        Assert.Empty(log.Warnings);
    }

    /// <summary>The procfs source of a machine whose file reads empty (a bind mount of /dev/null over it, say).</summary>
    private sealed class DamagedFile : ICpuStatisticsSource
    {
        public CpuStatistics? TryRead(ConntrackKernel kernel, out string? unavailableReason) =>
            throw new ConntrackException(ErrorIds.StatisticsMalformed, ErrorKind.InvalidData,
                "The statistics file '/proc/net/stat/nf_conntrack' cannot be read: it is empty.", "/proc/net/stat/nf_conntrack", "Check the file.");
    }

    /// <summary>The procfs source of a kernel built without the file.</summary>
    private sealed class MissingFile : ICpuStatisticsSource
    {
        public CpuStatistics? TryRead(ConntrackKernel kernel, out string? unavailableReason)
        {
            unavailableReason = "the procfs file is hidden in this test";
            return null;
        }
    }
}
