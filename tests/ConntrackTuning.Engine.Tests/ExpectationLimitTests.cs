using System;
using System.Collections.Generic;
using System.Linq;
using ConntrackTuning.Engine.Health;
using ConntrackTuning.Engine.Kernel;
using ConntrackTuning.Engine.Limits;
using Xunit;

namespace ConntrackTuning.Engine.Tests;

/// <summary>The expectation table's count, limit and health check, from the files a captured root holds.</summary>
public class ExpectationLimitTests
{
    private static string Lines(int n) => string.Concat(Enumerable.Range(0, n).Select(i =>
        $"290 l3proto = 2 proto=6 src=127.0.0.1 dst=127.0.0.1 sport=0 dport={20000 + i} ftp\n"));

    [Fact]
    public void Counts_the_lines_of_the_expectation_file_against_nf_conntrack_expect_max()
    {
        using var tree = new FixtureTree("linux-6.18-builtin");
        tree.Write("proc/net/nf_conntrack_expect", Lines(3));
        tree.Write("proc/sys/net/netfilter/nf_conntrack_expect_max", "4\n");
        ConntrackLimit limit = LimitReader.Read(KernelProbe.Probe(tree.Open()));
        Assert.Equal(3, limit.ExpectCount);
        Assert.Equal(4, limit.ExpectMax);
        Assert.Equal(75, limit.ExpectUsagePercent);
        Assert.Equal(tree.File("proc/net/nf_conntrack_expect"), limit.ExpectCountSource);
        Assert.Equal(tree.File("proc/sys/net/netfilter/nf_conntrack_expect_max"), limit.ExpectMaxSource);
    }

    [Fact]
    public void An_ip_conntrack_kernel_s_expectations_are_read_from_ip_conntrack_expect()
    {
        // 2.6 ip_conntrack (RHEL 5) prints the file without "l3proto = 2": it only ever holds IPv4.
        using var tree = new FixtureTree("rhel5-2.6.18-ip_conntrack");
        tree.Write("proc/net/ip_conntrack_expect", "291 proto=6 src=192.0.2.7 dst=198.51.100.9 sport=0 dport=40123\n- proto=17 src=192.0.2.8 dst=198.51.100.9 sport=0 dport=5060\n");
        ConntrackKernel kernel = KernelProbe.Probe(tree.Open());
        var read = new List<ConntrackExpectation>();
        string source = ConntrackTuning.Engine.Expectations.ExpectationReader.Read(kernel, e =>
        {
            read.Add(e);
            return true;
        });

        Assert.Equal(tree.File("proc/net/ip_conntrack_expect"), source);
        Assert.Equal(2, read.Count);
        Assert.All(read, e => Assert.Equal("IPv4", e.Family));
        Assert.Equal(("tcp", "192.0.2.7", "198.51.100.9", 40123, (long?)291), (read[0].Protocol, read[0].Source, read[0].Destination, read[0].DestinationPort!.Value, read[0].Timeout));
        Assert.Equal(("udp", (long?)null), (read[1].Protocol, read[1].Timeout));
        ConntrackLimit limit = LimitReader.Read(KernelProbe.Probe(tree.Open()));
        Assert.Equal(2, limit.ExpectCount);
        Assert.Equal(tree.File("proc/net/ip_conntrack_expect"), limit.ExpectCountSource);
    }

    /// <summary>
    /// 2.4 has no expectation file: list_conntracks prints each expectation into proc/net/ip_conntrack as an
    /// "EXPECTING: &lt;seconds or -&gt; use=N proto=P" line after the entries (print_expect in ip_conntrack_standalone.c).
    /// </summary>
    [Theory]
    [InlineData("linux-2.4.20-early")]
    [InlineData("linux-2.4.27-netfilter")]
    public void A_2_4_kernel_s_expectations_are_the_expecting_lines_of_its_table(string fixture)
    {
        using var tree = new FixtureTree(fixture);
        string table = System.IO.File.ReadAllText(tree.File("proc/net/ip_conntrack")).Replace("EXPECTING: proto=6", "EXPECTING: 291 use=1 proto=6", StringComparison.Ordinal)
            + "EXPECTING: - use=2 proto=17 src=10.0.0.8 dst=192.168.1.10 sport=0 dport=5060\n";
        tree.Write("proc/net/ip_conntrack", table);
        ConntrackKernel kernel = KernelProbe.Probe(tree.Open());
        var read = new List<ConntrackExpectation>();
        string source = ConntrackTuning.Engine.Expectations.ExpectationReader.Read(kernel, e =>
        {
            read.Add(e);
            return true;
        });

        long expecting = table.Split('\n').Count(l => l.StartsWith("EXPECTING:", StringComparison.Ordinal));
        Assert.Equal(tree.File("proc/net/ip_conntrack"), source);
        Assert.Equal(expecting, read.Count);
        ConntrackExpectation udp = read[^1];
        Assert.Equal(("IPv4", "udp", "10.0.0.8", "192.168.1.10", 5060, (long?)null), (udp.Family, udp.Protocol, udp.Source, udp.Destination, udp.DestinationPort!.Value, udp.Timeout));
        ConntrackLimit limit = LimitReader.Read(KernelProbe.Probe(tree.Open()));
        Assert.Equal(expecting, limit.ExpectCount);
        Assert.Equal(tree.File("proc/net/ip_conntrack") + " (EXPECTING lines)", limit.ExpectCountSource);
        Assert.Equal(table.Split('\n').Count(l => l.Length > 0) - expecting, limit.Count);
    }

    [Fact]
    public void A_2_4_table_s_first_expectation_keeps_its_timeout()
    {
        using var tree = new FixtureTree("linux-2.4.20-early");
        tree.Write("proc/net/ip_conntrack", "tcp      6 118 SYN_SENT src=192.168.1.10 dst=10.0.0.7 sport=1040 dport=21 [UNREPLIED] src=10.0.0.7 dst=192.168.1.10 sport=21 dport=1040 use=2\n"
            + "EXPECTING: 291 use=1 proto=6 src=10.0.0.7 dst=192.168.1.10 sport=0 dport=1041\n");
        var read = new List<ConntrackExpectation>();
        ConntrackTuning.Engine.Expectations.ExpectationReader.Read(KernelProbe.Probe(tree.Open()), e =>
        {
            read.Add(e);
            return true;
        });

        ConntrackExpectation e = Assert.Single(read);
        Assert.Equal(("tcp", "10.0.0.7", 1041, (long?)291), (e.Protocol, e.Source, e.DestinationPort!.Value, e.Timeout));
    }

    [Fact]
    public void The_nf_conntrack_file_wins_over_its_ipv4_only_compatibility_copy()
    {
        using var tree = new FixtureTree("linux-6.18-builtin");
        tree.Write("proc/net/nf_conntrack_expect", Lines(3));
        tree.Write("proc/net/ip_conntrack_expect", "291 proto=6 src=192.0.2.7 dst=198.51.100.9 sport=0 dport=40123\n");
        ConntrackLimit limit = LimitReader.Read(KernelProbe.Probe(tree.Open()));
        Assert.Equal(3, limit.ExpectCount);
        Assert.Equal(tree.File("proc/net/nf_conntrack_expect"), limit.ExpectCountSource);
    }

    [Fact]
    public void Without_the_file_the_statistics_columns_give_the_count_as_creates_minus_deletes()
    {
        using var tree = new FixtureTree("linux-6.18-builtin");
        string header = "entries  clashres found new invalid ignore delete chainlength insert insert_failed drop early_drop icmp_error  expect_new expect_create expect_delete search_restart\n";
        tree.Write("proc/net/stat/nf_conntrack", header
            + "00000000  00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000  00000000 00000006 00000003 00000000\n"
            + "00000000  00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000  00000000 00000010 00000002 00000000\n");
        ConntrackLimit limit = LimitReader.Read(KernelProbe.Probe(tree.Open()));
        Assert.Equal(6 - 3 + 16 - 2, limit.ExpectCount);
        Assert.EndsWith("(expect_create - expect_delete)", limit.ExpectCountSource, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(1, "Ok")]
    [InlineData(8, "Warning")]
    [InlineData(10, "Critical")]
    public void The_health_check_grades_the_expectation_table_like_the_connection_table(int expectations, string severity)
    {
        using var tree = new FixtureTree("linux-6.18-builtin");
        tree.Write("proc/net/nf_conntrack_expect", Lines(expectations));
        tree.Write("proc/sys/net/netfilter/nf_conntrack_expect_max", "10\n");
        List<ConntrackHealthFinding> findings = HealthChecks.Run(new HealthContext(KernelProbe.Probe(tree.Open()), new HealthOptions())).ToList();
        ConntrackHealthFinding f = Assert.Single(findings, f => f.Check == "ExpectationUsage");
        Assert.Equal(severity, f.Severity);
        Assert.Contains($"{expectations} of 10", f.Message, StringComparison.Ordinal);
        if (severity == "Ok")
        {
            Assert.Null(f.Recommendation);
        }
        else
        {
            Assert.Equal("sysctl -w net.netfilter.nf_conntrack_expect_max=20", f.Recommendation);
        }
    }

    /// <summary>Inside a container nf_conntrack_expect_max is the host's and read-only (0444): the fix runs on the host.</summary>
    [Fact]
    public void In_another_namespace_the_expectation_fix_is_for_the_host()
    {
        using var tree = new FixtureTree("netns-6.18");
        tree.Write("proc/net/nf_conntrack_expect", Lines(4));
        tree.Chmod("proc/sys/net/netfilter/nf_conntrack_expect_max", "644");
        tree.Write("proc/sys/net/netfilter/nf_conntrack_expect_max", "4\n");
        tree.Chmod("proc/sys/net/netfilter/nf_conntrack_expect_max", "444");
        List<ConntrackHealthFinding> findings = HealthChecks.Run(new HealthContext(KernelProbe.Probe(tree.Open()), new HealthOptions())).ToList();
        ConntrackHealthFinding f = Assert.Single(findings, f => f.Check == "ExpectationUsage");
        Assert.Equal("Critical", f.Severity);
        Assert.Equal("sysctl -w net.netfilter.nf_conntrack_expect_max=8", f.Recommendation);
        Assert.EndsWith(" Run it on the host (the initial network namespace): nf_conntrack_expect_max is global.", f.Message, StringComparison.Ordinal);
    }
}
