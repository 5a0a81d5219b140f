using System.Collections.Generic;
using System.Linq;
using Xunit;
using ConntrackTuning.Engine.Kernel;
using ConntrackTuning.Engine.Limits;

namespace ConntrackTuning.Engine.Tests;

/// <summary>
/// The paths Get-ConntrackKernel resolves for each era, and the source Get-ConntrackLimit names for each value,
/// checked against KERNEL-FACTS §2 fixture by fixture; and the cases where what the files show must win over
/// what the version number suggests.
/// </summary>
public class ResolvedPathTests
{
    /// <summary>One era's expected paths, relative to the fixture root; null where the era has no such file.</summary>
    private sealed record Expected(
        string? Max, string[] MaxAliases, string? Count, string? Buckets, string? HashSizeParameter,
        string? TimeoutDirectory, string? TimeoutPrefix, string? Statistics, string? Table,
        string? CountSource, string? HashSizeSource);

    private const string NfMax = "proc/sys/net/netfilter/nf_conntrack_max";
    private const string NfInitMax = "proc/sys/net/nf_conntrack_max";
    private const string NfCount = "proc/sys/net/netfilter/nf_conntrack_count";
    private const string NfBuckets = "proc/sys/net/netfilter/nf_conntrack_buckets";
    private const string NfParam = "sys/module/nf_conntrack/parameters/hashsize";
    private const string NfDir = "proc/sys/net/netfilter";
    private const string NfStat = "proc/net/stat/nf_conntrack";
    private const string NfTable = "proc/net/nf_conntrack";
    private const string IpMax = "proc/sys/net/ipv4/netfilter/ip_conntrack_max";
    private const string IpOldMax = "proc/sys/net/ipv4/ip_conntrack_max";
    private const string IpCount = "proc/sys/net/ipv4/netfilter/ip_conntrack_count";
    private const string IpBuckets = "proc/sys/net/ipv4/netfilter/ip_conntrack_buckets";
    private const string IpDir = "proc/sys/net/ipv4/netfilter";
    private const string IpTable = "proc/net/ip_conntrack";

    private static readonly Dictionary<string, Expected> Eras = new()
    {
        // 2.4.20: only the old max path, no count or buckets sysctl, no sysfs, timeouts compiled in, no
        // proc/net/stat; the count is the table's entries and the hash size the start-up line in the log.
        ["linux-2.4.20-early"] = new(IpOldMax, [], null, null, null, null, null, null, IpTable,
            IpTable + " (entries counted)", "var/log/messages: "),
        // 2.4.27 keeps both max paths, gains ip_conntrack_buckets and the timeout sysctls, still no count sysctl.
        ["linux-2.4.27-netfilter"] = new(IpMax, [IpOldMax], null, IpBuckets, null, IpDir, "ip_conntrack_", null, IpTable,
            IpTable + " (entries counted)", IpBuckets),
        // 2.6 ip_conntrack (RHEL 5): the count sysctl, the sysfs parameter and the statistics file arrive.
        ["rhel5-2.6.18-ip_conntrack"] = new(IpMax, [IpOldMax], IpCount, IpBuckets, "sys/module/ip_conntrack/parameters/hashsize",
            IpDir, "ip_conntrack_", "proc/net/stat/ip_conntrack", IpTable, IpCount, "sys/module/ip_conntrack/parameters/hashsize"),
        // nf_conntrack with the compatibility files (RHEL 6): the ip_conntrack_max alias is the same variable.
        ["rhel6-2.6.32-nf_conntrack"] = new(NfMax, [NfInitMax, IpMax], NfCount, NfBuckets, NfParam, NfDir, "nf_conntrack_", NfStat, NfTable,
            NfCount, NfParam),
        ["ubuntu-4.15-nf_conntrack"] = new(NfMax, [NfInitMax], NfCount, NfBuckets, NfParam, NfDir, "nf_conntrack_", NfStat, NfTable,
            NfCount, NfParam),
        // Built without CONFIG_NF_CONNTRACK_PROCFS: no statistics file and no table listing.
        ["ubuntu-5.15-module-noprocfs"] = new(NfMax, [NfInitMax], NfCount, NfBuckets, NfParam, NfDir, "nf_conntrack_", null, null,
            NfCount, NfParam),
        ["linux-6.18-builtin"] = new(NfMax, [NfInitMax], NfCount, NfBuckets, NfParam, NfDir, "nf_conntrack_", NfStat, NfTable,
            NfCount, NfParam),
        // net.nf_conntrack_max is registered for the initial namespace only.
        ["netns-6.18"] = new(NfMax, [], NfCount, NfBuckets, NfParam, NfDir, "nf_conntrack_", NfStat, NfTable, NfCount, NfParam),
        ["debian-5.10-no-conntrack"] = new(null, [], null, null, null, null, null, null, null, null, null),
    };

    public static IEnumerable<object[]> Names() => Eras.Keys.Select(k => new object[] { k });

    [Theory]
    [MemberData(nameof(Names))]
    public void Resolves_every_path_of_the_era_and_names_each_limits_source(string name)
    {
        Expected e = Eras[name];
        using var tree = new FixtureTree(name);
        ConntrackKernel k = KernelProbe.Probe(tree.Open());
        string? Full(string? relative) => relative is null ? null : tree.File(relative);

        Assert.Equal(Full(e.Max), k.Paths.Max);
        Assert.Equal(e.MaxAliases.Select(a => tree.File(a)), k.Paths.MaxAliases);
        Assert.Equal(Full(e.Count), k.Paths.Count);
        Assert.Equal(Full(e.Buckets), k.Paths.Buckets);
        Assert.Equal(Full(e.HashSizeParameter), k.Paths.HashSizeParameter);
        Assert.Equal(Full(e.TimeoutDirectory), k.Paths.TimeoutDirectory);
        Assert.Equal(e.TimeoutPrefix, k.Paths.TimeoutPrefix);
        Assert.Equal(Full(e.Statistics), k.Paths.Statistics);
        Assert.Equal(Full(e.Table), k.Paths.Table);
        if (e.Max is null)
        {
            return;
        }

        ConntrackLimit l = LimitReader.Read(k);
        Assert.Equal(tree.File(e.Max), l.MaxSource);
        Assert.Equal(Full(e.CountSource), l.CountSource);
        Assert.StartsWith(tree.File(e.HashSizeSource!), l.HashSizeSource);
        Assert.Equal(k.KernelRelease, l.KernelRelease);
        Assert.Equal(k.Tracker, l.Tracker);
    }

    [Fact]
    public void Names_the_sosreport_sysctl_capture_as_the_source()
    {
        using var tree = new FixtureTree("sosreport-rhel8-4.18");
        ConntrackKernel k = KernelProbe.Probe(tree.Open());
        ConntrackLimit l = LimitReader.Read(k);
        string capture = tree.File("sos_commands/kernel/sysctl_-a");
        Assert.Equal(capture + " (kernel.osrelease)", k.KernelReleaseSource);
        Assert.Equal(capture + " (net.netfilter.nf_conntrack_max)", l.MaxSource);
        Assert.Equal(capture + " (net.netfilter.nf_conntrack_count)", l.CountSource);
        Assert.Equal(tree.File(NfParam), l.HashSizeSource);
    }

    [Fact]
    public void Reports_the_first_max_and_warns_when_its_aliases_disagree()
    {
        // The aliases are one kernel variable: different values mean a tree captured at two moments.
        using var tree = new FixtureTree("rhel6-2.6.32-nf_conntrack");
        tree.Write(IpMax, "131072\n");
        var log = new RecordingLog();
        ConntrackLimit l = LimitReader.Read(KernelProbe.Probe(tree.Open(log)));
        Assert.Equal(65536, l.Max);
        Assert.Equal(tree.File(NfMax), l.MaxSource);
        string warning = Assert.Single(log.Warnings);
        Assert.StartsWith($"{tree.File(IpMax)} holds 131072 but {tree.File(NfMax)} holds 65536", warning, System.StringComparison.Ordinal);
    }

    [Fact]
    public void Falls_back_to_proc_version_for_the_release()
    {
        // A root captured without proc/sys (or with an empty osrelease) still has the banner line.
        using var tree = new FixtureTree("centos7-3.10-nf_conntrack");
        tree.Delete("proc/sys/kernel/osrelease");
        ConntrackKernel k = KernelProbe.Probe(tree.Open());
        Assert.Equal("3.10.0-1160.el7.x86_64", k.KernelRelease);
        Assert.Equal(tree.File("proc/version"), k.KernelReleaseSource);
        Assert.Equal("3.10.0", k.KernelVersion);
        Assert.Equal("2.6.27-nf_conntrack", k.Era);
    }

    [Fact]
    public void Finds_a_backported_netfilter_folder_on_a_kernel_older_than_2_4_23()
    {
        // A vendor 2.4.21 with the 2.4.23 sysctl layout: the version's row expects only the old path, the files
        // say otherwise, and the files win.
        using var tree = new FixtureTree("linux-2.4.20-early");
        tree.Write("proc/sys/kernel/osrelease", "2.4.21-4.EL\n");
        tree.Delete(IpOldMax);
        tree.Write(IpMax, "65536\n");
        tree.Write(IpBuckets, "8192\n");
        tree.Chmod(IpMax, "0644");
        tree.Chmod(IpBuckets, "0444");
        ConntrackKernel k = KernelProbe.Probe(tree.Open());
        Assert.Equal("2.4-jenkins", k.Era);
        Assert.Equal("net.ipv4.netfilter.ip_conntrack_max", k.MaxSysctlKey);
        Assert.True(k.CanSetMax);

        ConntrackLimit l = LimitReader.Read(k);
        Assert.Equal(65536, l.Max);
        Assert.Equal(tree.File(IpMax), l.MaxSource);
        Assert.Equal(8192, l.HashSize);
        Assert.Equal(tree.File(IpBuckets), l.HashSizeSource);
    }

    [Fact]
    public void Lets_a_writable_buckets_sysctl_resize_a_kernel_whose_version_says_it_cannot()
    {
        // 3.10 as released has a 0444 nf_conntrack_buckets (writable from 4.8); a vendor kernel that made it 0644
        // can resize through it, and the probe says so rather than trusting the version.
        using var tree = new FixtureTree("centos7-3.10-nf_conntrack");
        tree.Delete(NfParam);
        tree.Chmod(NfBuckets, "0644");
        ConntrackKernel k = KernelProbe.Probe(tree.Open());
        Assert.True(k.CanSetHashSize, k.HashSizeReadOnlyReason);
        Assert.Equal(tree.File(NfBuckets), k.HashSizeWritePath);

        tree.Chmod(NfBuckets, "0444");
        ConntrackKernel readOnly = KernelProbe.Probe(tree.Open());
        Assert.False(readOnly.CanSetHashSize);
        Assert.Contains("read-only (mode", readOnly.HashSizeReadOnlyReason, System.StringComparison.Ordinal);
    }

    [Fact]
    public void Calls_a_read_only_hashsize_parameter_read_only_even_where_the_era_resizes()
    {
        // 2.6.11 registered the parameter 0400; a kernel of the writable era with such a file cannot resize.
        using var tree = new FixtureTree("rhel5-2.6.18-ip_conntrack");
        tree.Chmod("sys/module/ip_conntrack/parameters/hashsize", "0400");
        ConntrackKernel k = KernelProbe.Probe(tree.Open());
        Assert.False(k.CanSetHashSize);
        Assert.Contains("read-only (mode", k.HashSizeReadOnlyReason, System.StringComparison.Ordinal);
    }

    [Fact]
    public void Calls_a_max_known_only_from_a_sosreports_sysctl_capture_a_captured_value_not_a_file_mode()
    {
        // The capture has no proc/sys file at all; "read-only (mode 0444)" would send the user looking for one.
        using var tree = new FixtureTree("sosreport-rhel8-4.18");
        Assert.False(System.IO.File.Exists(tree.File(NfMax)));
        ConntrackKernel k = KernelProbe.Probe(tree.Open());
        Assert.False(k.CanSetMax);
        Assert.Equal($"net.netfilter.nf_conntrack_max is only a captured value in {tree.File("sos_commands/kernel/sysctl_-a")} (a sosreport), with no kernel behind it to change.",
            k.MaxReadOnlyReason);
    }
}
