using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using Xunit;
using ConntrackTuning.Engine.Health;
using ConntrackTuning.Engine.Kernel;
using ConntrackTuning.Engine.KernelLog;
using ConntrackTuning.Engine.Sizing;
using ConntrackTuning.Engine.Statistics;

namespace ConntrackTuning.Engine.Tests;

/// <summary>The diagnose engines over every era fixture: each era's statistics header, log layout and wording.</summary>
public class EraDiagnoseTests
{
    /// <summary>fixture, columns, CPU rows, entries, drop, early_drop, insert_failed, invalid, icmp_error, search_restart (null: no such column).</summary>
    public static TheoryData<string, int, int, long, long, long, long, long, long, long?> Statistics => new()
    {
        { "rhel5-2.6.18-ip_conntrack", 16, 2, 49302, 0, 0, 0, 4111, 2378, null },
        { "rhel6-2.6.32-nf_conntrack", 16, 2, 62811, 8318, 17917, 0, 35703, 7601, null },
        { "centos7-3.10-nf_conntrack", 17, 2, 1872, 0, 0, 0, 3913, 21, 4 },
        { "ubuntu-4.15-nf_conntrack", 17, 2, 251904, 178228, 152212, 601, 43913, 351, 61 },
        { "sosreport-rhel8-4.18", 17, 2, 239811, 65618, 0, 39, 17891, 77, 119 },
        { "ubuntu-5.4-stale-buckets", 17, 4, 10233, 0, 0, 7, 1187, 6, 35 },
        { "linux-6.18-builtin", 17, 2, 0, 0, 0, 0, 0, 0, 0 },
        { "netns-6.18", 17, 2, 3, 0, 0, 0, 0, 0, 0 },
    };

    [Theory]
    [MemberData(nameof(Statistics))]
    public void Reads_each_eras_statistics_header(string fixture, int columns, int cpus, long entries, long drop, long earlyDrop, long insertFailed, long invalid, long icmpError, long? searchRestart)
    {
        using var tree = new FixtureTree(fixture);
        ConntrackKernel kernel = KernelProbe.Probe(tree.Open());
        CpuStatistics s = StatisticsReader.Read(kernel);
        Assert.Equal(cpus, s.Cpus.Count);
        Assert.All(s.Cpus, c => Assert.Equal(columns, c.Values.Count));
        ConntrackStatistic sum = ConntrackStatistic.Sum(s, kernel);
        Assert.Equal(entries, sum.Entries);
        Assert.Equal(drop, sum.Drop);
        Assert.Equal(earlyDrop, sum.EarlyDrop);
        Assert.Equal(insertFailed, sum.InsertFailed);
        Assert.Equal(invalid, sum.Invalid);
        Assert.Equal(icmpError, sum.IcmpError);
        Assert.Equal(searchRestart, sum.SearchRestart);
        Assert.Empty(sum.Other);
    }

    [Theory]
    [InlineData("linux-2.4.20-early")]
    [InlineData("linux-2.4.27-netfilter")]
    [InlineData("ubuntu-5.15-module-noprocfs")]
    public void Eras_and_builds_without_the_file_say_so(string fixture)
    {
        using var tree = new FixtureTree(fixture);
        ConntrackException e = Assert.Throws<ConntrackException>(() => StatisticsReader.Read(KernelProbe.Probe(tree.Open())));
        Assert.Equal(ErrorIds.StatisticsUnavailable, e.ErrorId);
    }

    [Theory]
    [InlineData("linux-2.4.20-early", 2, 38, "ip_conntrack", "Syslog")]
    [InlineData("linux-2.4.27-netfilter", 0, 0, null, null)]
    [InlineData("rhel5-2.6.18-ip_conntrack", 2, 15, "ip_conntrack", "Syslog")]
    [InlineData("rhel6-2.6.32-nf_conntrack", 3, 61, "nf_conntrack", "Syslog")]
    [InlineData("centos7-3.10-nf_conntrack", 1, 15, "nf_conntrack", "Syslog")]
    [InlineData("ubuntu-4.15-nf_conntrack", 2, 42, "nf_conntrack", "Syslog")]
    [InlineData("sosreport-rhel8-4.18", 2, 731, "nf_conntrack", "Syslog")]
    [InlineData("ubuntu-5.15-module-noprocfs", 1, 97, "nf_conntrack", "IsoSyslog")]
    [InlineData("linux-6.18-builtin", 3, 219, "nf_conntrack", "IsoSyslog")]
    public void Reads_each_eras_log_under_its_root(string fixture, long events, long suppressed, string? tracker, string? format)
    {
        using var tree = new FixtureTree(fixture);
        var scanner = new DropEventScanner(TimeWindow.All);
        List<ConntrackDropEvent> found = DropEventReader.Read(DropEventReader.DefaultInputs(tree.Open(), TimeWindow.All), scanner).ToList();
        Assert.Equal(events, found.Count);
        ConntrackDropSummary summary = scanner.Summary();
        Assert.Equal(events, summary.AtLeast);
        Assert.Equal(events + suppressed, summary.AtMost);
        if (found.Count > 0)
        {
            Assert.All(found, e => Assert.Equal(tracker, e.Tracker));
            Assert.All(found, e => Assert.Equal(format, e.Format));
            Assert.All(found, e => Assert.NotNull(e.TimeStamp));
            Assert.All(found, e => Assert.NotNull(e.Host));
        }
    }

    [Fact]
    public void The_sosreport_log_across_a_leap_day_keeps_its_year()
    {
        using var tree = new FixtureTree("sosreport-rhel8-4.18");
        // Taken out of the archive today: the file's date no longer says 2024.
        File.SetLastWriteTime(tree.File("var/log/messages"), new DateTime(2026, 11, 25, 9, 0, 0));
        List<ConntrackDropEvent> found = DropEventReader.Read(DropEventReader.DefaultInputs(tree.Open(), TimeWindow.All), new DropEventScanner(TimeWindow.All)).ToList();
        Assert.Equal([new DateTime(2024, 2, 29, 23, 59, 58), new DateTime(2024, 3, 1, 0, 0, 3)], found.Select(e => e.TimeStamp!.Value));
        Assert.Equal([320L, 411], found.Select(e => e.SuppressedBefore));
    }

    [Fact]
    public void The_6_18_log_names_the_namespace_of_each_full_table()
    {
        using var tree = new FixtureTree("linux-6.18-builtin");
        List<ConntrackDropEvent> found = DropEventReader.Read(DropEventReader.DefaultInputs(tree.Open(), TimeWindow.All), new DropEventScanner(TimeWindow.All)).ToList();
        Assert.Equal(["4026532177", "4026532177", null], found.Select(e => e.NetworkNamespace));
        Assert.Equal(new DateTimeOffset(2026, 11, 20, 3, 12, 44, TimeSpan.Zero).AddTicks(5123090).LocalDateTime, found[0].TimeStamp);
        Assert.Equal([15L, 0, 204], found.Select(e => e.SuppressedBefore));
    }

    [Fact]
    public void Before_2_4_21_the_suggested_hash_size_is_prime()
    {
        using var tree = new FixtureTree("linux-2.4.20-early");
        List<ConntrackHealthFinding> findings = HealthChecks.Run(new HealthContext(KernelProbe.Probe(tree.Open()), new HealthOptions())).ToList();
        // -PersistOnly: 2.4 fixes the hash when the module loads, and Set-ConntrackHashSize -Persist refuses it there.
        Assert.Equal("Set-ConntrackLimit -Max 65536 -Persist; Set-ConntrackHashSize -HashSize 65537 -PersistOnly",
            Assert.Single(findings, f => f.Check == "TableFullEvents").Recommendation);
        Assert.Contains("keeps no per-CPU statistics; they arrived with 2.6", Assert.Single(findings, f => f.Check == "Statistics").Message, StringComparison.Ordinal);
        Assert.Equal(1_000_003, HashSizeMath.ShapeUp(1_000_000, HashShape.Prime));
        Assert.Equal(2, HashSizeMath.ShapeUp(0, HashShape.Prime));
    }

    /// <summary>fixture, worst severity, Usage severity.</summary>
    [Theory]
    [InlineData("linux-2.4.20-early", "Critical", "Ok")]
    [InlineData("rhel5-2.6.18-ip_conntrack", "Critical", "Warning")]
    [InlineData("rhel6-2.6.32-nf_conntrack", "Critical", "Critical")]
    [InlineData("centos7-3.10-nf_conntrack", "Critical", "Ok")]
    [InlineData("ubuntu-4.15-nf_conntrack", "Critical", "Critical")]
    [InlineData("ubuntu-5.4-stale-buckets", "Warning", "Ok")] // its sysctl.d max is lost at boot: nothing loads the module first
    [InlineData("ubuntu-5.15-module-noprocfs", "Critical", "Critical")]
    [InlineData("sosreport-rhel8-4.18", "Critical", "Critical")]
    [InlineData("netns-6.18", "Info", "Ok")]
    [InlineData("debian-5.10-no-conntrack", "Info", null)]
    public void Judges_each_era(string fixture, string worst, string? usage)
    {
        using var tree = new FixtureTree(fixture);
        List<ConntrackHealthFinding> findings = HealthChecks.Run(new HealthContext(KernelProbe.Probe(tree.Open()), new HealthOptions())).ToList();
        Assert.Equal(worst, findings.MaxBy(f => f.SeverityLevel)!.Severity);
        ConntrackHealthFinding? u = findings.SingleOrDefault(f => f.Check == "Usage");
        Assert.Equal(usage, u?.Severity);
        if (u is { SeverityLevel: >= 2 })
        {
            Assert.StartsWith("Set-ConntrackLimit -Max ", u.Recommendation, StringComparison.Ordinal);
        }

        Assert.All(findings.Where(f => f.SeverityLevel >= 2), f => Assert.False(string.IsNullOrEmpty(f.Recommendation), f.ToString()));
    }
}
