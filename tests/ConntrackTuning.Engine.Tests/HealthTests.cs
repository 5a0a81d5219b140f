using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using Xunit;
using ConntrackTuning.Engine.Health;
using ConntrackTuning.Engine.Kernel;
using ConntrackTuning.Engine.KernelLog;

namespace ConntrackTuning.Engine.Tests;

public class HealthTests
{
    /// <summary>Get-ConntrackRecommendation's Balanced size for the fixture's 23.5 GiB (1/64 of RAM at 264 bytes an entry, one entry per bucket).</summary>
    private const string RaiseToBalanced = "Set-ConntrackLimit -Max 1048576 -Persist; Set-ConntrackHashSize -HashSize 1048576 -Persist";

    private static List<ConntrackHealthFinding> Run(FixtureTree tree, HealthOptions? options = null) =>
        HealthChecks.Run(new HealthContext(KernelProbe.Probe(tree.Open()), options ?? new HealthOptions())).ToList();

    /// <summary>One check by itself, without the fixes of the checks before it that its own would build on.</summary>
    private static List<ConntrackHealthFinding> RunOnly(FixtureTree tree, string check) =>
        HealthChecks.Run(new HealthContext(KernelProbe.Probe(tree.Open()), new HealthOptions()), [.. HealthChecks.Default.Where(c => c.Name == check)]).ToList();

    private static ConntrackHealthFinding Only(List<ConntrackHealthFinding> findings, string check, string severity)
    {
        ConntrackHealthFinding f = Assert.Single(findings, f => f.Check == check && f.Severity == severity);
        Assert.Equal((int)Enum.Parse<HealthSeverity>(severity), f.SeverityLevel);
        return f;
    }

    [Fact]
    public void An_overflowing_table_is_critical_with_the_commands_that_fix_it()
    {
        using var tree = new FixtureTree("linux-6.18-overflow");
        List<ConntrackHealthFinding> findings = Run(tree);

        Only(findings, "Loaded", "Ok");
        ConntrackHealthFinding usage = Only(findings, "Usage", "Critical");
        Assert.Contains("97.66 % full (64,000 of 65,536)", usage.Message, StringComparison.Ordinal);
        Assert.Equal(RaiseToBalanced, usage.Recommendation);
        Assert.Contains(tree.File("proc/sys/net/netfilter/nf_conntrack_count"), usage.Evidence, StringComparison.Ordinal);

        ConntrackHealthFinding drop = Only(findings, "Drop", "Warning");
        Assert.StartsWith("23 packets were dropped", drop.Message, StringComparison.Ordinal);
        Assert.Equal(RaiseToBalanced, drop.Recommendation);
        Assert.Equal("drop = 23 summed over 2 CPU(s) in " + tree.File("proc/net/stat/nf_conntrack"), drop.Evidence);
        Assert.Equal(RaiseToBalanced, Only(findings, "EarlyDrop", "Warning").Recommendation);
        Assert.Null(Only(findings, "InsertFailed", "Info").Recommendation);

        ConntrackHealthFinding events = Only(findings, "TableFullEvents", "Critical");
        Assert.Contains("at least 5 and at most 162 packets were dropped (5 logged, up to 157 more in rate-limited messages)", events.Message, StringComparison.Ordinal);
        Assert.Equal(RaiseToBalanced, events.Recommendation);
        Assert.StartsWith(tree.File("var/log/kern.log.2.gz"), events.Evidence, StringComparison.Ordinal);
        ConntrackHealthFinding containers = Only(findings, "TableFullEvents", "Warning");
        Assert.Contains("4026532177", containers.Message, StringComparison.Ordinal);

        ConntrackHealthFinding buckets = Only(findings, "EntriesPerBucket", "Warning");
        Assert.Contains("16 entries per hash bucket", buckets.Message, StringComparison.Ordinal);
        // The hash size of the table the pressure checks above raise to, not of the max that runs now.
        Assert.Equal("Set-ConntrackHashSize -HashSize 1048576 -Persist", buckets.Recommendation);
        Assert.Equal("Set-ConntrackHashSize -HashSize 65536 -Persist", Assert.Single(RunOnly(tree, "EntriesPerBucket")).Recommendation);

        ConntrackHealthFinding timeout = Only(findings, "TcpEstablishedTimeout", "Warning");
        Assert.Equal("Set-ConntrackTimeout -Protocol tcp -State established -Seconds 86400 -Persist", timeout.Recommendation);

        Assert.DoesNotContain(findings, f => f.Check is "Namespace" or "Statistics" or "KernelLog");
        Assert.All(findings, f => Assert.Equal(tree.Path, f.Root));
    }

    [Fact]
    public void A_quiet_healthy_table_has_nothing_at_warning_or_worse()
    {
        using var tree = new FixtureTree("linux-6.18-builtin");
        tree.Delete("var/log");
        List<ConntrackHealthFinding> findings = Run(tree);
        Assert.All(findings, f => Assert.True(f.SeverityLevel < 2, f.ToString()));
        Assert.Equal("Ok", Only(findings, "Usage", "Ok").Severity);
        Assert.Contains("No kernel log under", Only(findings, "KernelLog", "Info").Message, StringComparison.Ordinal);
        Assert.Equal("Set-ConntrackTimeout -Protocol tcp -State established -Seconds 86400 -Persist",
            Only(findings, "TcpEstablishedTimeout", "Info").Recommendation);
        Assert.Equal(["Loaded", "Usage", "ExpectationUsage", "KernelDefault", "Drop", "EarlyDrop", "InsertFailed", "KernelLog", "EntriesPerBucket", "TcpEstablishedTimeout", "Persistence"],
            findings.Select(f => f.Check).ToArray());
    }

    [Fact]
    public void An_expectation_table_overflow_is_not_a_full_connection_table()
    {
        using var tree = new FixtureTree("linux-6.18-builtin");
        tree.Write("var/log/kern.log", string.Join('\n',
            "2026-11-20T03:12:44.512309+00:00 node7 kernel: nf_conntrack: expectation table full",
            "2026-11-20T03:12:44.513877+00:00 node7 kernel: nf_ct_sip: dropping packet: cannot add expectation for voice IN= OUT=eth0 SRC=192.0.2.1",
            ""));
        List<ConntrackHealthFinding> findings = Run(tree);
        ConntrackHealthFinding events = Only(findings, "TableFullEvents", "Ok");
        Assert.StartsWith("No table-full message", events.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(findings, f => f.Check == "TableFullEvents" && f.SeverityLevel > 0);

        // Get-ConntrackDropEvent still lists both, by kind; the table-full totals (its -Summary among them) leave them out.
        var scanner = new DropEventScanner(TimeWindow.All);
        var context = new LogContext { YearReference = new DateTime(2026, 11, 25, 12, 0, 0, DateTimeKind.Local), DefaultHost = "thishost" };
        string[] kinds = File.ReadAllLines(tree.File("var/log/kern.log")).Select(l => scanner.Feed(l, context, "test")).OfType<ConntrackDropEvent>().Select(e => e.Kind).ToArray();
        Assert.Equal(["ExpectationTableFull", "HelperDrop"], kinds);
        Assert.Empty(scanner.ByNamespace);
        Assert.Equal(0, scanner.Summary().Logged);
        Assert.Equal("No conntrack table-full message was logged.", scanner.Summary().Message);
    }

    [Theory]
    [InlineData(52429, 75, 90, "Warning")]
    [InlineData(52429, 85, 90, "Ok")]
    [InlineData(52429, 70, 80, "Critical")]
    [InlineData(65536, 75, 90, "Critical")]
    [InlineData(100, 75, 90, "Ok")]
    public void Usage_thresholds_are_parameters(long count, double warning, double critical, string expected)
    {
        using var tree = new FixtureTree("linux-6.18-overflow");
        tree.Write("proc/sys/net/netfilter/nf_conntrack_count", count + "\n");
        ConntrackHealthFinding usage = Assert.Single(Run(tree, new HealthOptions { WarningPercent = warning, CriticalPercent = critical }), f => f.Check == "Usage");
        Assert.Equal(expected, usage.Severity);
        Assert.Equal(expected == "Ok" ? null : RaiseToBalanced, usage.Recommendation);
    }

    [Fact]
    public void Without_conntrack_there_is_one_finding()
    {
        using var tree = new FixtureTree("linux-6.18-builtin");
        tree.Delete("proc/sys/net/netfilter");
        tree.Delete("proc/sys/net/nf_conntrack_max");
        tree.Delete("sys/module/nf_conntrack");
        ConntrackHealthFinding f = Assert.Single(Run(tree));
        Assert.Equal("Loaded", f.Check);
        Assert.Equal("Info", f.Severity);
        Assert.Contains("no table to overflow", f.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Inside_a_container_only_its_own_events_count_and_fixes_go_to_the_host()
    {
        using var tree = new FixtureTree("linux-6.18-overflow");
        tree.Delete("proc/sys/net/nf_conntrack_max");
        Directory.CreateDirectory(tree.File("proc/self/ns"));
        File.CreateSymbolicLink(tree.File("proc/self/ns/net"), "net:[4026532177]");
        List<ConntrackHealthFinding> findings = Run(tree);
        Assert.Contains("not the initial network namespace", Only(findings, "Namespace", "Info").Message, StringComparison.Ordinal);
        Assert.Contains("Run it on the host", Only(findings, "Usage", "Critical").Message, StringComparison.Ordinal);
        ConntrackHealthFinding events = Only(findings, "TableFullEvents", "Critical");
        Assert.Contains("in network namespace 4026532177", events.Message, StringComparison.Ordinal);
        Assert.Contains("at least 1 and at most", events.Message, StringComparison.Ordinal);
        Assert.All(findings, f => Assert.Equal("4026532177", f.NetworkNamespace));
        Assert.DoesNotContain(findings, f => f.Check == "TableFullEvents" && f.Severity == "Warning");
    }

    [Fact]
    public void Missing_counters_are_said_once_and_the_counter_checks_step_aside()
    {
        using var tree = new FixtureTree("linux-6.18-overflow");
        tree.Delete("proc/net/stat/nf_conntrack");
        List<ConntrackHealthFinding> findings = Run(tree);
        Assert.Contains("CONFIG_NF_CONNTRACK_PROCFS", Only(findings, "Statistics", "Info").Message, StringComparison.Ordinal);
        Assert.DoesNotContain(findings, f => f.Check is "Drop" or "EarlyDrop" or "InsertFailed");
        Only(findings, "Usage", "Critical");
    }

    [Fact]
    public void A_max_of_zero_means_no_limit_and_gets_one()
    {
        using var tree = new FixtureTree("linux-6.18-overflow");
        tree.Write("proc/sys/net/netfilter/nf_conntrack_max", "0\n");
        tree.Write("proc/sys/net/nf_conntrack_max", "0\n");
        ConntrackHealthFinding usage = Only(Run(tree), "Usage", "Info");
        Assert.Contains("no limit", usage.Message, StringComparison.Ordinal);
        Assert.Equal("Set-ConntrackLimit -Max 1048576 -Persist", usage.Recommendation);
    }

    [Fact]
    public void The_fix_is_the_balanced_recommendation_when_it_is_larger()
    {
        using var tree = new FixtureTree("linux-6.18-overflow");
        var context = new HealthContext(KernelProbe.Probe(tree.Open()), new HealthOptions());
        Assert.Equal(262144, context.KernelDefault!.Max);
        Assert.Equal(1048576, context.Balanced!.Max);
        Assert.Equal(1048576, Remedy.SuggestMax(context));
    }

    [Fact]
    public void Past_the_balanced_size_the_max_doubles_within_a_quarter_of_ram_or_the_timeout_is_the_fix()
    {
        using var tree = new FixtureTree("linux-6.18-overflow");
        tree.Write("proc/sys/net/netfilter/nf_conntrack_count", "100\n");

        // 64 MiB: Balanced is far below the 65,536 max, and a quarter of the RAM holds fewer entries than that.
        tree.Write("proc/meminfo", "MemTotal:          65536 kB\n");
        var context = new HealthContext(KernelProbe.Probe(tree.Open()), new HealthOptions());
        Assert.True(context.Balanced!.Max < 65536);
        Assert.Null(Remedy.SuggestMax(context));
        Assert.Equal("Set-ConntrackTimeout -Protocol tcp -State established -Seconds 86400 -Persist", Remedy.RaiseMax(context));

        // 96 MiB holds about 95,000 entries in a quarter of its RAM: a 40,000 table may grow to 65,536, not 131,072.
        tree.Write("proc/meminfo", "MemTotal:          98304 kB\n");
        tree.Write("proc/sys/net/netfilter/nf_conntrack_max", "40000\n");
        context = new HealthContext(KernelProbe.Probe(tree.Open()), new HealthOptions());
        Assert.True(context.Balanced!.Max < 40000);
        Assert.Equal(65536, Remedy.SuggestMax(context));
    }

    /// <summary>The fix names a hash size exactly when the EntriesPerBucket check, on its rounded ratio, would warn at the new max.</summary>
    [Theory]
    [InlineData(131006, false)] // 1,048,576 / 131,006 = 8.004: 8 in two decimals, not over 8
    [InlineData(130000, true)] // 8.066: 8.07
    public void The_fix_adds_a_hash_size_when_the_check_would_warn_at_the_new_max(long buckets, bool addsHashSize)
    {
        using var tree = new FixtureTree("linux-6.18-overflow");
        tree.Write("proc/sys/net/netfilter/nf_conntrack_buckets", $"{buckets}\n");
        tree.Write("sys/module/nf_conntrack/parameters/hashsize", $"{buckets}\n");
        var context = new HealthContext(KernelProbe.Probe(tree.Open()), new HealthOptions());
        Assert.Equal(1048576, Remedy.SuggestMax(context));
        Assert.Equal(addsHashSize ? RaiseToBalanced : "Set-ConntrackLimit -Max 1048576 -Persist", Remedy.RaiseMax(context));

        tree.Write("proc/sys/net/netfilter/nf_conntrack_max", "1048576\n");
        Only(Run(tree), "EntriesPerBucket", addsHashSize ? "Warning" : "Ok");
    }

    [Fact]
    public void A_max_below_the_kernels_own_default_is_a_warning()
    {
        using var tree = new FixtureTree("linux-6.18-overflow");
        ConntrackHealthFinding f = Only(Run(tree), "KernelDefault", "Warning");
        Assert.Contains("The max (65,536) is below what this kernel would choose by itself for this RAM (262,144)", f.Message, StringComparison.Ordinal);
        Assert.Equal(RaiseToBalanced, f.Recommendation);

        using var tuned = new FixtureTree("ubuntu-5.4-stale-buckets");
        Only(HealthChecks.Run(new HealthContext(KernelProbe.Probe(tuned.Open()), new HealthOptions())).ToList(), "KernelDefault", "Ok");

        tree.Delete("proc/meminfo");
        Assert.Contains("cannot be computed", Only(Run(tree), "KernelDefault", "Info").Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_log_window_is_an_option()
    {
        using var tree = new FixtureTree("linux-6.18-overflow");
        foreach (string f in new[] { "var/log/kern.log", "var/log/kern.log.1", "var/log/kern.log.2.gz" })
        {
            File.SetLastWriteTime(tree.File(f), new DateTime(2026, 11, 21, 6, 25, 0));
        }

        List<ConntrackHealthFinding> findings = Run(tree, new HealthOptions { LogWindow = TimeWindow.Create(new DateTime(2026, 11, 20), null) });
        ConntrackHealthFinding events = Only(findings, "TableFullEvents", "Critical");
        Assert.Contains("since 2026-11-20 00:00:00: at least 2 and at most 39 packets", events.Message, StringComparison.Ordinal);

        findings = Run(tree, new HealthOptions { LogWindow = TimeWindow.Create(new DateTime(2026, 11, 21), null) });
        Assert.Contains("No table-full message", Only(findings, "TableFullEvents", "Ok").Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(90, 75, 8)]
    [InlineData(0, 90, 8)]
    [InlineData(75, 101, 8)]
    [InlineData(double.NaN, 90, 8)]
    [InlineData(75, 90, 0)]
    public void Bad_thresholds_are_InvalidThreshold(double warning, double critical, double perBucket)
    {
        var options = new HealthOptions { WarningPercent = warning, CriticalPercent = critical, MaxEntriesPerBucket = perBucket };
        ConntrackException e = Assert.Throws<ConntrackException>(options.Validate);
        Assert.Equal(ErrorIds.InvalidThreshold, e.ErrorId);
        Assert.Equal(ErrorKind.InvalidArgument, e.Kind);
    }

    /// <summary>The seam for the checks that need other engines: a check is one more function in the list.</summary>
    [Fact]
    public void A_check_plugs_in_as_a_function_of_the_context()
    {
        using var tree = new FixtureTree("linux-6.18-overflow");
        var context = new HealthContext(KernelProbe.Probe(tree.Open()), new HealthOptions());
        var extra = new HealthCheck("Extra", c =>
            c.Limit?.Max < 262144 ? [new HealthResult(HealthSeverity.Warning, "lost at boot", Remedy.SetMax(262144))] : []);
        ConntrackHealthFinding f = Assert.Single(HealthChecks.Run(context, [.. HealthChecks.Default, extra]), f => f.Check == "Extra");
        Assert.Equal("Set-ConntrackLimit -Max 262144 -Persist", f.Recommendation);
        Assert.Equal(2, f.SeverityLevel);
    }

    [Fact]
    public void A_larger_persisted_max_that_did_not_take_effect_is_applied()
    {
        using var tree = new FixtureTree("sosreport-rhel8-4.18");
        ConntrackHealthFinding f = Only(Run(tree), "Persistence", "Warning");
        Assert.Contains("max is 262144 now but the next boot applies 524288", f.Message, StringComparison.Ordinal);
        Assert.Equal("Set-ConntrackLimit -Max 524288 -Persist", f.Recommendation);
        Assert.Contains(tree.File("etc/sysctl.d/50-conntrack.conf"), f.Evidence, StringComparison.Ordinal);
    }

    [Fact]
    public void A_larger_running_max_nobody_persisted_is_persisted()
    {
        using var tree = new FixtureTree("sosreport-rhel8-4.18");
        tree.Write("etc/sysctl.d/50-conntrack.conf", "net.netfilter.nf_conntrack_max = 131072\n");
        ConntrackHealthFinding f = Only(RunOnly(tree, "Persistence"), "Persistence", "Warning");
        Assert.Contains("max is 262144 now but the next boot applies 131072", f.Message, StringComparison.Ordinal);
        Assert.Equal("Set-ConntrackLimit -Max 262144 -PersistOnly", f.Recommendation);
    }

    [Fact]
    public void A_small_running_max_nothing_persists_is_raised_to_the_default_the_next_boot_would_give()
    {
        using var tree = new FixtureTree("linux-6.18-overflow");
        ConntrackHealthFinding f = Only(RunOnly(tree, "Persistence"), "Persistence", "Warning");
        Assert.Contains("max is 65536 now but nothing persists it, so the next boot applies the kernel's default of 262144", f.Message, StringComparison.Ordinal);
        Assert.Equal("Set-ConntrackLimit -Max 262144 -Persist; Set-ConntrackHashSize -HashSize 262144 -Persist", f.Recommendation);
    }

    /// <summary>
    /// In a full run the table is also too small (Usage, Drop, ...): Persistence keeps the larger table those fixes
    /// raise to instead of the kernel's default, which would shrink it again when followed last.
    /// </summary>
    [Fact]
    public void Persistence_keeps_the_larger_table_the_pressure_checks_of_the_same_run_raise_to()
    {
        using var tree = new FixtureTree("linux-6.18-overflow");
        List<ConntrackHealthFinding> findings = Run(tree);
        Assert.Equal(RaiseToBalanced, Only(findings, "Usage", "Critical").Recommendation);
        ConntrackHealthFinding f = Only(findings, "Persistence", "Warning");
        Assert.Equal(RaiseToBalanced, f.Recommendation);
        Assert.Contains("the larger table the fixes above raise to", f.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Persisted_values_equal_to_the_running_ones_are_ok()
    {
        using var tree = new FixtureTree("ubuntu-5.4-stale-buckets");
        ConntrackHealthFinding f = Only(Run(tree), "Persistence", "Ok");
        Assert.Contains(tree.File("etc/sysctl.d/60-conntrack.conf"), f.Evidence, StringComparison.Ordinal);
        Assert.Contains(tree.File("etc/modprobe.d/nf_conntrack.conf"), f.Evidence, StringComparison.Ordinal);
    }

    [Fact]
    public void A_hash_the_running_kernel_cannot_resize_is_recommended_for_the_next_boot_only()
    {
        // 2.4 fixes the hash size when ip_conntrack loads: "-Persist" would fail with HashSizeNotResizable.
        using var tree = new FixtureTree("linux-2.4.20-early");
        ConntrackHealthFinding events = Only(Run(tree), "TableFullEvents", "Critical");
        Assert.Equal("Set-ConntrackLimit -Max 65536 -Persist; Set-ConntrackHashSize -HashSize 65537 -PersistOnly", events.Recommendation);

        // A kernel that resizes the running hash gets it now and at the next boot.
        using var resizable = new FixtureTree("centos7-3.10-nf_conntrack");
        Assert.Equal("Set-ConntrackLimit -Max 524288 -Persist; Set-ConntrackHashSize -HashSize 524288 -Persist",
            Only(Run(resizable), "TableFullEvents", "Critical").Recommendation);
    }

    [Fact]
    public void Keys_of_a_module_nothing_loads_at_boot_are_the_boot_order_trap()
    {
        using var tree = new FixtureTree("ubuntu-5.4-stale-buckets");
        ConntrackHealthFinding f = Only(Run(tree), "BootOrder", "Warning");
        Assert.StartsWith("net.netfilter.nf_conntrack_max (in " + tree.File("etc/sysctl.d/60-conntrack.conf") + ":1) will be skipped at boot", f.Message, StringComparison.Ordinal);
        // The recommendation is the call alone, ready to run; what else it does is said in the message.
        Assert.Equal("Set-ConntrackLimit -Max 524288 -PersistOnly", f.Recommendation);
        Assert.EndsWith("The fix also lists nf_conntrack in /etc/modules-load.d/conntrack-tuning.conf, so it loads before the keys are applied.", f.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("nf_conntrack", "lists nf_conntrack")]
    [InlineData("nf-conntrack", "lists nf_conntrack")]
    [InlineData("nf_conntrack_ipv4", "lists nf_conntrack_ipv4, which loads nf_conntrack")]
    public void A_module_loaded_early_at_boot_makes_the_keys_stick(string listed, string evidence)
    {
        using var tree = new FixtureTree("ubuntu-5.4-stale-buckets");
        tree.Write("etc/modules-load.d/modules.conf", "# /etc/modules: kernel modules to load at boot time.\n" + listed + "\n");
        tree.Write("lib/modules/5.4.0-42-generic/modules.dep",
            "kernel/net/ipv4/netfilter/nf_conntrack_ipv4.ko: kernel/net/netfilter/nf_conntrack.ko kernel/net/ipv4/netfilter/nf_defrag_ipv4.ko\n" +
            "kernel/net/netfilter/nf_conntrack.ko: kernel/lib/libcrc32c.ko\n");
        ConntrackHealthFinding f = Only(Run(tree), "BootOrder", "Ok");
        Assert.Equal(tree.File("etc/modules-load.d/modules.conf") + " " + evidence, f.Evidence);
    }

    [Fact]
    public void A_modprobe_install_hook_that_runs_sysctl_makes_the_keys_stick()
    {
        using var tree = new FixtureTree("centos7-3.10-nf_conntrack");
        tree.Write("etc/sysctl.d/90-conntrack.conf", "net.netfilter.nf_conntrack_max = 65536\n");
        ConntrackHealthFinding f = Only(Run(tree), "BootOrder", "Ok");
        Assert.StartsWith(tree.File("etc/modprobe.d/firewalld-sysctls.conf") + ": install nf_conntrack", f.Evidence, StringComparison.Ordinal);
    }

    [Fact]
    public void A_built_in_tracker_has_its_keys_at_boot()
    {
        using var tree = new FixtureTree("linux-6.18-builtin");
        tree.Write("etc/sysctl.d/80-conntrack.conf", "net.netfilter.nf_conntrack_tcp_timeout_established = 86400\n");
        Assert.Contains("built into the kernel", Only(Run(tree), "BootOrder", "Ok").Message, StringComparison.Ordinal);
    }

    /// <summary>
    /// Kernels before 2.6.27 sized the table from every physical page, at least MemTotal: over 1 GiB that is the
    /// capped size (RHEL 5: 8192 buckets, max 65536) whatever the exact page count, so a max set by hand and never
    /// persisted is drift the next boot undoes.
    /// </summary>
    [Fact]
    public void A_hand_set_max_on_a_capped_pre_2_6_27_kernel_is_undone_by_the_next_boot()
    {
        using var tree = new FixtureTree("rhel5-2.6.18-ip_conntrack");
        tree.Write("proc/sys/net/ipv4/ip_conntrack_max", "131072\n");
        tree.Write("proc/sys/net/ipv4/netfilter/ip_conntrack_max", "131072\n");
        ConntrackLimit limit = ConntrackTuning.Engine.Limits.LimitReader.Read(KernelProbe.Probe(tree.Open()));
        Assert.Equal((65536L, 8192L), (limit.NextBootMax!.Value, limit.NextBootHashSize!.Value));
        Assert.True(limit.MaxDrift);
        Assert.False(limit.HashSizeDrift);
        ConntrackHealthFinding f = Only(RunOnly(tree, "Persistence"), "Persistence", "Warning");
        Assert.Contains("max is 131072 now but nothing persists it, so the next boot applies the kernel's default of 65536", f.Message, StringComparison.Ordinal);
        Assert.Equal("Set-ConntrackLimit -Max 131072 -PersistOnly", f.Recommendation);
    }

    [Fact]
    public void A_pre_2_6_27_kernel_left_at_its_capped_default_has_no_drift()
    {
        using var tree = new FixtureTree("rhel5-2.6.18-ip_conntrack");
        ConntrackLimit limit = ConntrackTuning.Engine.Limits.LimitReader.Read(KernelProbe.Probe(tree.Open()));
        Assert.Equal((65536L, 8192L), (limit.NextBootMax!.Value, limit.NextBootHashSize!.Value));
        Only(Run(tree), "Persistence", "Ok");
    }

    /// <summary>Under 1 GiB the page count decides and MemTotal does not give it: the next boot is not claimed to match.</summary>
    [Theory]
    [InlineData("linux-2.4.20-early")]
    [InlineData("linux-2.4.27-netfilter")]
    public void Where_the_next_boot_s_default_cannot_be_told_the_persistence_check_says_so(string fixture)
    {
        using var tree = new FixtureTree(fixture);
        ConntrackLimit limit = ConntrackTuning.Engine.Limits.LimitReader.Read(KernelProbe.Probe(tree.Open()));
        Assert.Null(limit.NextBootMax);
        List<ConntrackHealthFinding> findings = Run(tree);
        Assert.DoesNotContain(findings, f => f.Check == "Persistence" && f.Severity == "Ok");
        ConntrackHealthFinding f = Only(findings, "Persistence", "Info");
        Assert.StartsWith("What the next boot applies for the max and the hash size cannot be told:", f.Message, StringComparison.Ordinal);
        Assert.Null(f.Recommendation);
    }

    /// <summary>
    /// Before systemd (no etc/sysctl.d: 2.4, RHEL 5 and 6) the boot scripts apply etc/sysctl.conf, and a fix that
    /// persists the max again only rewrites that file: no modules-load.d to list the tracker in, and no systemd-sysctl.
    /// </summary>
    [Theory]
    [InlineData("rhel6-2.6.32-nf_conntrack", "net.netfilter.nf_conntrack_max", "nf_conntrack")]
    [InlineData("rhel5-2.6.18-ip_conntrack", "net.ipv4.netfilter.ip_conntrack_max", "ip_conntrack")]
    [InlineData("linux-2.4.27-netfilter", "net.ipv4.netfilter.ip_conntrack_max", "ip_conntrack")]
    public void Without_sysctl_d_the_boot_order_fix_loads_the_module_before_sysctl_conf(string fixture, string key, string tracker)
    {
        using var tree = new FixtureTree(fixture);
        System.IO.File.AppendAllText(tree.File("etc/sysctl.conf"), key + " = 131072\n");
        ConntrackHealthFinding f = Only(Run(tree), "BootOrder", "Warning");
        Assert.StartsWith(key + " (in " + tree.File("etc/sysctl.conf") + ":", f.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("systemd", f.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("modules-load.d", f.Message, StringComparison.Ordinal);
        Assert.Contains(tree.File("etc/sysctl.conf"), f.Message, StringComparison.Ordinal);
        // Set-ConntrackLimit -PersistOnly would find the value already persisted and change nothing.
        Assert.DoesNotContain("Set-ConntrackLimit", f.Recommendation ?? "", StringComparison.Ordinal);
        Assert.Equal($"Load {tracker} before sysctl runs at boot: add 'modprobe {tracker}' to /etc/rc.modules (or a file in /etc/sysconfig/modules/ ending in .modules)", f.Recommendation);
    }

    [Theory]
    [InlineData("etc/rc.modules", "#!/bin/sh\n/sbin/modprobe nf_conntrack\n")]
    [InlineData("etc/sysconfig/modules/conntrack.modules", "#!/bin/sh\nmodprobe nf_conntrack_ipv4 >/dev/null 2>&1\n")]
    public void Without_sysctl_d_a_module_the_boot_scripts_load_makes_the_keys_stick(string file, string content)
    {
        using var tree = new FixtureTree("rhel6-2.6.32-nf_conntrack");
        System.IO.File.AppendAllText(tree.File("etc/sysctl.conf"), "net.netfilter.nf_conntrack_max = 131072\n");
        tree.Write(file, content);
        ConntrackHealthFinding f = Only(Run(tree), "BootOrder", "Ok");
        Assert.StartsWith(tree.File(file) + ": ", f.Evidence, StringComparison.Ordinal);
    }

    [Fact]
    public void Without_tracker_keys_in_sysctl_files_there_is_no_boot_order_finding()
    {
        using var tree = new FixtureTree("rhel6-2.6.32-nf_conntrack");
        Assert.DoesNotContain(Run(tree), f => f.Check == "BootOrder");
    }

    /// <summary>Issue 13 item 14: an Ok line above a warning about other namespaces says what it covers.</summary>
    [Fact]
    public void No_table_full_message_from_this_namespace_says_so_when_other_namespaces_logged()
    {
        using var tree = new FixtureTree("linux-6.18-builtin");
        tree.Write("var/log/kern.log",
            "2026-11-20T03:12:44.512309+00:00 node7 kernel: nf_conntrack: nf_conntrack: table full in netns 4026532177, dropping packet\n"
            + "2026-11-20T03:12:44.513877+00:00 node7 kernel: nf_conntrack: nf_conntrack: table full in netns 4026532177, dropping packet\n");
        List<ConntrackHealthFinding> findings = Run(tree);
        ConntrackHealthFinding ok = Only(findings, "TableFullEvents", "Ok");
        Assert.StartsWith("No table-full message from this (the initial) network namespace in the kernel log", ok.Message, StringComparison.Ordinal);
        Assert.Contains("2 name other network namespaces", ok.Message, StringComparison.Ordinal);
        Assert.Contains("other network namespaces", Only(findings, "TableFullEvents", "Warning").Message, StringComparison.Ordinal);
    }
}
