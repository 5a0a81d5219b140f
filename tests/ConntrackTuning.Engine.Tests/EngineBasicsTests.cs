using System.Linq;
using Xunit;
using ConntrackTuning.Engine.Kernel;
using ConntrackTuning.Engine.Limits;
using ConntrackTuning.Engine.Platform;
using ConntrackTuning.Engine.Sizing;

namespace ConntrackTuning.Engine.Tests;

public class EraTableTests
{
    [Fact]
    public void Rows_of_each_tracker_are_ordered_and_leave_no_gap()
    {
        foreach (Tracker tracker in new[] { Tracker.IpConntrack, Tracker.NfConntrack })
        {
            KernelEra[] rows = EraTable.Eras.Where(e => e.Tracker == tracker).ToArray();
            for (int i = 1; i < rows.Length; i++)
            {
                Assert.Equal(rows[i - 1].Until, rows[i].From);
            }

        }

        // ip_conntrack ended with 2.6.21; nf_conntrack's last era is open-ended.
        Assert.NotNull(EraTable.Eras.Last(e => e.Tracker == Tracker.IpConntrack).Until);
        Assert.Null(EraTable.Eras.Last(e => e.Tracker == Tracker.NfConntrack).Until);
    }

    [Fact]
    public void Every_row_has_its_max_key_among_its_paths()
    {
        foreach (KernelEra era in EraTable.Eras)
        {
            Assert.Contains(EraTable.SysctlPath(era.MaxSysctlKey), era.MaxPaths);
        }
    }

    [Theory]
    [InlineData(Tracker.NfConntrack, "6.18.44", "5.15-nf_conntrack")]
    [InlineData(Tracker.NfConntrack, "5.14.21", "4.9-nf_conntrack")]
    [InlineData(Tracker.NfConntrack, "4.8.17", "4.8-nf_conntrack")]
    [InlineData(Tracker.NfConntrack, "2.6.23", "2.6-nf_conntrack")]
    [InlineData(Tracker.NfConntrack, "2.6.24", "2.6.24-nf_conntrack")]
    [InlineData(Tracker.NfConntrack, "2.6.10", "2.6-nf_conntrack")]
    [InlineData(Tracker.IpConntrack, "2.4.0", "2.4.0")]
    [InlineData(Tracker.IpConntrack, "2.4.20", "2.4-additive")]
    [InlineData(Tracker.IpConntrack, "2.4.21", "2.4-jenkins")]
    [InlineData(Tracker.IpConntrack, "2.6.13", "2.6-ip_conntrack")]
    [InlineData(Tracker.IpConntrack, "2.6.18", "2.6.14-ip_conntrack")]
    [InlineData(Tracker.IpConntrack, "3.10.0", "2.6.14-ip_conntrack")]
    [InlineData(Tracker.IpConntrack, "2.2.26", "2.4.0")]
    // Tracker is internal: a public test method takes it as object (xunit passes the enum value boxed).
    public void Finds_the_era_of_a_version_or_the_nearest(object tracker, string version, string era) =>
        Assert.Equal(era, EraTable.Find((Tracker)tracker, KernelVersion.Parse(version)).Id);

    [Theory]
    [InlineData("proc/sys/net/netfilter/nf_conntrack_max", "net.netfilter.nf_conntrack_max")]
    [InlineData("proc/sys/net/ipv4/ip_conntrack_max", "net.ipv4.ip_conntrack_max")]
    public void Sysctl_keys_and_paths_map_both_ways(string path, string key)
    {
        Assert.Equal(key, EraTable.SysctlKey(path));
        Assert.Equal(path, EraTable.SysctlPath(key));
    }

    [Fact]
    public void A_path_outside_proc_sys_has_no_key() => Assert.Null(EraTable.SysctlKey("sys/module/nf_conntrack/parameters/hashsize"));
}

public class StartupLineTests
{
    [Theory]
    [InlineData("ip_conntrack version 2.1 (8192 buckets, 65536 max) - 304 bytes per conntrack", "ip_conntrack", 8192, 65536, 304)]
    [InlineData("Mar  1 10:00:00 fw kernel: ip_conntrack version 2.4 (131072 buckets, 1048576 max) \u2013 228 bytes per conntrack", "ip_conntrack", 131072, 1048576, 228)]
    [InlineData("[    1.234567] nf_conntrack version 0.5.0 (16384 buckets, 65536 max)", "nf_conntrack", 16384, 65536, null)]
    public void Reads_buckets_max_and_entry_size(string line, string tracker, long buckets, long max, int? bytes)
    {
        StartupLine? parsed = StartupLine.TryParse(line, "test");
        Assert.NotNull(parsed);
        Assert.Equal(tracker, parsed.Tracker);
        Assert.Equal(buckets, parsed.Buckets);
        Assert.Equal(max, parsed.Max);
        Assert.Equal(bytes, parsed.BytesPerEntry);
    }

    [Theory]
    [InlineData("nf_conntrack version 0.5.0 (lots of buckets, 65536 max)")]
    [InlineData("ip_conntrack version 2.1 (99999999999 buckets, 1 max)")]
    [InlineData("nf_conntrack: table full, dropping packet")]
    [InlineData("")]
    public void Ignores_other_lines(string line) => Assert.Null(StartupLine.TryParse(line, "test"));

    [Fact]
    public void Takes_the_most_recent_line_from_the_root_logs()
    {
        using var tree = new FixtureTree("rhel5-2.6.18-ip_conntrack");
        tree.Write("var/log/dmesg", "ip_conntrack version 2.4 (4096 buckets, 32768 max) - 304 bytes per conntrack\nip_conntrack version 2.4 (8192 buckets, 65536 max) - 304 bytes per conntrack\n");
        StartupLine? line = StartupLine.Find(tree.Open(), "ip_conntrack");
        Assert.Equal(8192, line!.Buckets);
        Assert.Equal(tree.File("var/log/dmesg"), line.Source);
    }
}

public class SystemRootTests
{
    [Theory]
    [InlineData("262144\n", 262144)]
    [InlineData("  -1 \n", -1)]
    [InlineData("0", 0)]
    public void Reads_whole_numbers(string content, long value) => Assert.Equal(value, SystemRoot.ParseValueFile(content, "/x"));

    [Theory]
    [InlineData("", ErrorIds.ValueFileEmpty)]
    [InlineData(" \t\n", ErrorIds.ValueFileEmpty)]
    [InlineData("12 34", ErrorIds.ValueFileNotNumeric)]
    [InlineData("0x10", ErrorIds.ValueFileNotNumeric)]
    [InlineData("99999999999999999999", ErrorIds.ValueFileNotNumeric)]
    public void Names_the_file_when_it_holds_no_number(string content, string id)
    {
        ConntrackException e = Assert.Throws<ConntrackException>(() => SystemRoot.ParseValueFile(content, "/root/proc/sys/x"));
        Assert.Equal(id, e.ErrorId);
        Assert.Equal("/root/proc/sys/x", e.Target);
        Assert.Contains("/root/proc/sys/x", e.Message);
    }

    [Fact]
    public void A_sosreport_sysctl_capture_stands_in_for_proc_sys_read_only()
    {
        using var tree = new FixtureTree("sosreport-rhel8-4.18");
        SystemRoot root = tree.Open();
        Assert.False(System.IO.File.Exists(tree.File("proc/sys/net/netfilter/nf_conntrack_max")));
        Assert.True(root.FileExists("proc/sys/net/netfilter/nf_conntrack_max"));
        Assert.True(root.DirectoryExists("proc/sys/net/netfilter"));
        Assert.Equal(262144, root.TryReadInt64("proc/sys/net/netfilter/nf_conntrack_max"));
        Assert.Contains("nf_conntrack_tcp_timeout_established", root.FileNames("proc/sys/net/netfilter"));
        Assert.False(root.IsWritable("proc/sys/net/netfilter/nf_conntrack_max", out string? why));
        Assert.Contains("only a captured value", why);
        Assert.Equal(tree.File("sos_commands/kernel/sysctl_-a") + " (net.netfilter.nf_conntrack_max)", root.SourceOf("proc/sys/net/netfilter/nf_conntrack_max"));
    }

    [Fact]
    public void Every_read_is_logged()
    {
        using var tree = new FixtureTree("linux-6.18-builtin");
        var log = new RecordingLog();
        _ = tree.Open(log).TryReadText("proc/meminfo");
        Assert.Equal(["Read " + tree.File("proc/meminfo")], log.Verbose);
    }
}

public class HashSizeReadingTests
{
    [Fact]
    public void A_parameter_that_holds_the_unrounded_request_is_no_stale_read()
    {
        // CentOS 7 (3.10): hashsize=100000 asked at load; each namespace allocates 100352 buckets (whole pages).
        using var tree = new FixtureTree("centos7-3.10-nf_conntrack");
        tree.Write("sys/module/nf_conntrack/parameters/hashsize", "100000\n");
        tree.Write("proc/sys/net/netfilter/nf_conntrack_buckets", "100352\n");
        var log = new RecordingLog();
        ConntrackLimit limit = LimitReader.Read(KernelProbe.Probe(tree.Open(log)));
        Assert.Equal(100352, limit.HashSize);
        Assert.Equal(tree.File("proc/sys/net/netfilter/nf_conntrack_buckets"), limit.HashSizeSource);
        Assert.Empty(log.Warnings);
    }

    [Fact]
    public void A_real_disagreement_trusts_the_parameter_and_says_so()
    {
        using var tree = new FixtureTree("ubuntu-5.4-stale-buckets");
        var log = new RecordingLog();
        ConntrackLimit limit = LimitReader.Read(KernelProbe.Probe(tree.Open(log)));
        Assert.Equal(131072, limit.HashSize);
        Assert.Contains(log.Warnings, w => w.Contains("f6351c3f1c27", System.StringComparison.Ordinal));
    }
}
