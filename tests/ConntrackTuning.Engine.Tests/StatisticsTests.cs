using System;
using System.Collections.Generic;
using System.Linq;
using Xunit;
using ConntrackTuning.Engine.Kernel;
using ConntrackTuning.Engine.Statistics;

namespace ConntrackTuning.Engine.Tests;

public class StatisticsTests
{
    // The exact bytes of each era's header, with the two-space gaps after "entries" and "icmp_error" that the
    // kernel's format string leaves, and the trailing space of 2.6.11 and 2.6.32 rows.
    private const string Header618 = "entries  clashres found new invalid ignore delete chainlength insert insert_failed drop early_drop icmp_error  expect_new expect_create expect_delete search_restart";
    private const string Header510 = "entries  clashres found new invalid ignore delete delete_list insert insert_failed drop early_drop icmp_error  expect_new expect_create expect_delete search_restart";
    private const string Header4 = "entries  searched found new invalid ignore delete delete_list insert insert_failed drop early_drop icmp_error  expect_new expect_create expect_delete search_restart";
    private const string Header2632 = "entries  searched found new invalid ignore delete delete_list insert insert_failed drop early_drop icmp_error  expect_new expect_create expect_delete ";

    private static IReadOnlyList<CpuCounters> Parse(string text, RecordingLog? log = null, IReadOnlyList<int>? cpus = null) =>
        ProcStatParser.Parse(text.Split('\n'), "/proc/net/stat/nf_conntrack", log ?? new RecordingLog(), cpus);

    [Fact]
    public void Reads_the_6_18_file_by_column_name()
    {
        IReadOnlyList<CpuCounters> cpus = Parse(Header618 + "\n"
            + "00000078  00000001 00000002 00000000 0000000a 00000000 00000000 00000003 00000000 00000004 00000010 00000005 00000006  00000000 00000000 00000000 00000007\n"
            + "00000078  00000000 00000000 00000000 00000001 00000000 00000000 00000000 00000000 00000000 00000011 00000000 00000000  00000000 00000000 00000000 00000000\n");
        Assert.Equal(2, cpus.Count);
        Assert.Equal([0, 1], cpus.Select(c => c.Cpu));
        Assert.Equal(17, cpus[0].Values.Count);
        Assert.Equal(0x78, cpus[0].Values["entries"]);
        Assert.Equal(1, cpus[0].Values["clashres"]);
        Assert.Equal(3, cpus[0].Values["chainlength"]);
        Assert.Equal(0x10, cpus[0].Values["drop"]);
        Assert.Equal(5, cpus[0].Values["early_drop"]);
        Assert.Equal(7, cpus[0].Values["search_restart"]);
        Assert.Equal(0x11, cpus[1].Values["drop"]);
    }

    [Fact]
    public void Reads_the_16_column_2_6_32_file_with_trailing_spaces()
    {
        IReadOnlyList<CpuCounters> cpus = Parse(Header2632 + "\n"
            + "00000010  000001f4 00000064 00000008 00000002 00000000 00000007 00000007 00000008 00000000 00000003 00000001 00000000  00000000 00000000 00000000 \n");
        CpuCounters cpu = Assert.Single(cpus);
        Assert.Equal(16, cpu.Values.Count);
        Assert.Equal(500, cpu.Values["searched"]);
        Assert.Equal(3, cpu.Values["drop"]);
        Assert.False(cpu.Values.ContainsKey("search_restart"));
    }

    [Fact]
    public void The_sum_maps_each_era_to_the_same_properties_and_leaves_missing_columns_null()
    {
        using var tree = new FixtureTree("linux-6.18-builtin");
        ConntrackKernel kernel = KernelProbe.Probe(tree.Open());

        ConntrackStatistic old = ConntrackStatistic.Sum(new CpuStatistics(Parse(Header2632 + "\n"
            + "00000010  000001f4 00000064 00000008 00000002 00000000 00000007 00000007 00000008 00000000 00000003 00000001 00000000  00000000 00000000 00000000 \n"), "x"), kernel);
        Assert.Equal(500, old.Searched);
        Assert.Equal(7, old.DeleteList);
        Assert.Equal(3, old.Drop);
        Assert.Null(old.SearchRestart);
        Assert.Null(old.ClashResolve);
        Assert.Null(old.ChainTooLong);

        ConntrackStatistic v4 = ConntrackStatistic.Sum(new CpuStatistics(Parse(Header4 + "\n"
            + "00000010  00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000  00000000 00000000 00000000 00000009\n"), "x"), kernel);
        Assert.Equal(9, v4.SearchRestart);
        Assert.Null(v4.ClashResolve);

        ConntrackStatistic v510 = ConntrackStatistic.Sum(new CpuStatistics(Parse(Header510 + "\n"
            + "00000010  00000005 00000000 00000000 00000000 00000000 00000000 00000002 00000000 00000000 00000000 00000000 00000000  00000000 00000000 00000000 00000000\n"), "x"), kernel);
        Assert.Equal(5, v510.ClashResolve);
        Assert.Equal(2, v510.DeleteList);
        Assert.Null(v510.ChainTooLong);
        Assert.Null(v510.Searched);
    }

    [Fact]
    public void Sums_every_counter_but_entries_which_each_row_repeats()
    {
        using var tree = new FixtureTree("linux-6.18-overflow");
        ConntrackKernel kernel = KernelProbe.Probe(tree.Open());
        CpuStatistics statistics = StatisticsReader.Read(kernel);
        ConntrackStatistic sum = ConntrackStatistic.Sum(statistics, kernel);
        Assert.Null(sum.Cpu);
        Assert.Equal(2, sum.CpuCount);
        Assert.Equal(64000, sum.Entries);
        Assert.Equal(0x10 + 0x07, sum.Drop);
        Assert.Equal(5, sum.EarlyDrop);
        Assert.Equal(1, sum.InsertFailed);
        Assert.Equal(0x2a + 0x11, sum.Invalid);
        Assert.Equal(3, sum.ClashResolve);
        Assert.Equal(5, sum.SearchRestart);
        Assert.Equal(0, sum.ChainTooLong);
        Assert.Equal(tree.File("proc/net/stat/nf_conntrack"), sum.Source);
        Assert.Empty(sum.Other);

        ConntrackStatistic[] perCpu = ConntrackStatistic.PerCpu(statistics, kernel).ToArray();
        Assert.Equal([0, 1], perCpu.Select(c => c.Cpu!.Value));
        Assert.Equal([0x10L, 0x07L], perCpu.Select(c => c.Drop!.Value));
        Assert.All(perCpu, c => Assert.Equal(64000, c.Entries));
    }

    [Fact]
    public void Carries_unknown_columns_through_and_names_values_past_the_header()
    {
        var log = new RecordingLog();
        IReadOnlyList<CpuCounters> cpus = Parse("entries drop future_counter\n00000001 00000002 00000003 00000004\n00000001 00000002 00000003\n", log);
        using var tree = new FixtureTree("linux-6.18-builtin");
        ConntrackStatistic sum = ConntrackStatistic.Sum(new CpuStatistics(cpus, "x"), KernelProbe.Probe(tree.Open()));
        Assert.Equal(6, sum.Other["future_counter"]);
        Assert.Equal(4, sum.Other["column4"]);
        Assert.Equal(4, sum.Drop);
        Assert.Equal(1, sum.Entries);
        Assert.Null(sum.Found);
    }

    [Fact]
    public void Maps_rows_to_the_possible_cpus()
    {
        IReadOnlyList<int>? ids = ProcStatParser.ParseCpuList("0,2-3\n");
        Assert.Equal([0, 2, 3], ids!);
        IReadOnlyList<CpuCounters> cpus = Parse("entries drop\n1 1\n1 2\n1 3\n", cpus: ids);
        Assert.Equal([0, 2, 3], cpus.Select(c => c.Cpu));
        Assert.Null(ProcStatParser.ParseCpuList("garbage"));
        Assert.Null(ProcStatParser.ParseCpuList("3-1"));
        Assert.Null(ProcStatParser.ParseCpuList(""));
    }

    [Theory]
    [InlineData("00000078  00000001 0000", "truncated row")]
    [InlineData("00000078  0000zz01 00000002 00000000 0000000a 00000000 00000000 00000003 00000000 00000004 00000010 00000005 00000006  00000000 00000000 00000000 00000007", "not hexadecimal")]
    [InlineData("-0000078  00000001 00000002 00000000 0000000a 00000000 00000000 00000003 00000000 00000004 00000010 00000005 00000006  00000000 00000000 00000000 00000007", "negative")]
    [InlineData("00000000000000000078  00000001 00000002 00000000 0000000a 00000000 00000000 00000003 00000000 00000004 00000010 00000005 00000006  00000000 00000000 00000000 00000007", "overlong")]
    public void Skips_a_damaged_row_with_a_warning_and_keeps_the_others(string damaged, string why)
    {
        var log = new RecordingLog();
        IReadOnlyList<CpuCounters> cpus = Parse(Header618 + "\n" + damaged + "\n"
            + "00000078  00000000 00000000 00000000 00000001 00000000 00000000 00000000 00000000 00000000 00000011 00000000 00000000  00000000 00000000 00000000 00000000\n", log);
        CpuCounters cpu = Assert.Single(cpus);
        Assert.Equal(0x11, cpu.Values["drop"]);
        Assert.Single(log.Warnings);
        Assert.Contains("line 2", log.Warnings[0], StringComparison.Ordinal);
        _ = why;
    }

    [Fact]
    public void Skips_a_huge_line_without_holding_it()
    {
        var log = new RecordingLog();
        IReadOnlyList<CpuCounters> cpus = Parse(Header618 + "\n" + new string('0', 100_000) + "\n"
            + "00000078  00000000 00000000 00000000 00000001 00000000 00000000 00000000 00000000 00000000 00000011 00000000 00000000  00000000 00000000 00000000 00000000\n", log);
        Assert.Single(cpus);
        Assert.Contains("100000 characters", Assert.Single(log.Warnings), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("", "it is empty")]
    [InlineData("00000001 00000002\n", "not a header")]
    [InlineData("\0\u0001binary\u00ff\n", "not a header")]
    [InlineData(Header618 + "\n", "no readable CPU row")]
    [InlineData(Header618 + "\nzz\n", "no readable CPU row")]
    public void A_file_without_header_or_rows_is_StatisticsMalformed(string text, string why)
    {
        ConntrackException e = Assert.Throws<ConntrackException>(() => Parse(text));
        Assert.Equal(ErrorIds.StatisticsMalformed, e.ErrorId);
        Assert.Equal(ErrorKind.InvalidData, e.Kind);
        Assert.Equal("/proc/net/stat/nf_conntrack", e.Target);
        Assert.Contains(why, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_kernel_without_the_file_is_StatisticsUnavailable_naming_the_file()
    {
        using var tree = new FixtureTree("linux-6.18-builtin");
        tree.Delete("proc/net/stat/nf_conntrack");
        ConntrackKernel kernel = KernelProbe.Probe(tree.Open());
        ConntrackException e = Assert.Throws<ConntrackException>(() => StatisticsReader.Read(kernel));
        Assert.Equal(ErrorIds.StatisticsUnavailable, e.ErrorId);
        Assert.Equal(ErrorKind.ObjectNotFound, e.Kind);
        Assert.Equal(tree.File("proc/net/stat/nf_conntrack"), e.Target);
        Assert.Contains("CONFIG_NF_CONNTRACK_PROCFS", e.Message, StringComparison.Ordinal);
        Assert.Contains("conntrack -S", e.RecommendedAction, StringComparison.Ordinal);
    }

    [Fact]
    public void A_kernel_without_conntrack_is_ConntrackNotLoaded()
    {
        using var tree = new FixtureTree("linux-6.18-builtin");
        tree.Delete("proc/sys/net/netfilter");
        tree.Delete("proc/sys/net/nf_conntrack_max");
        tree.Delete("sys/module/nf_conntrack");
        ConntrackException e = Assert.Throws<ConntrackException>(() => StatisticsReader.Read(KernelProbe.Probe(tree.Open())));
        Assert.Equal(ErrorIds.ConntrackNotLoaded, e.ErrorId);
    }

    [Fact]
    public void The_ip_conntrack_file_is_read_when_the_nf_conntrack_one_is_missing()
    {
        using var tree = new FixtureTree("linux-6.18-builtin");
        tree.Delete("proc/net/stat/nf_conntrack");
        tree.Write("proc/net/stat/ip_conntrack", Header2632 + "\n00000001  00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000009 00000000 00000000  00000000 00000000 00000000 \n");
        CpuStatistics s = StatisticsReader.Read(KernelProbe.Probe(tree.Open()));
        Assert.Equal(tree.File("proc/net/stat/ip_conntrack"), s.Source);
        Assert.Equal(9, Assert.Single(s.Cpus).Values["drop"]);
    }

    /// <summary>The seam for the netlink source: a second source answers when the file is missing, and the output is the same shape.</summary>
    [Fact]
    public void A_later_source_stands_in_when_the_procfs_file_is_missing()
    {
        using var tree = new FixtureTree("linux-6.18-builtin");
        tree.Delete("proc/net/stat/nf_conntrack");
        ConntrackKernel kernel = KernelProbe.Probe(tree.Open());
        var netlink = new FixedSource(new CpuStatistics(
        [
            new CpuCounters(0, new Dictionary<string, long> { ["drop"] = 4, ["clashres"] = 1, ["chainlength"] = 2, ["icmp_error"] = 3 }),
            new CpuCounters(1, new Dictionary<string, long> { ["drop"] = 6 }),
        ], "netlink"));
        CpuStatistics s = StatisticsReader.Read(kernel, [ProcStatisticsSource.Instance, netlink]);
        ConntrackStatistic sum = ConntrackStatistic.Sum(s, kernel);
        Assert.Equal("netlink", sum.Source);
        Assert.Equal(10, sum.Drop);
        Assert.Equal(1, sum.ClashResolve);
        Assert.Equal(2, sum.ChainTooLong);
        Assert.Equal(3, sum.IcmpError);
        Assert.Null(sum.Entries);
    }

    private sealed class FixedSource(CpuStatistics statistics) : ICpuStatisticsSource
    {
        public CpuStatistics? TryRead(ConntrackKernel kernel, out string? unavailableReason)
        {
            unavailableReason = null;
            return statistics;
        }
    }
}
