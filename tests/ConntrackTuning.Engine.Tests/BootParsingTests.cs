using System;
using System.Linq;
using ConntrackTuning.Engine.Changes;
using ConntrackTuning.Engine.Kernel;
using ConntrackTuning.Engine.Persistence;
using ConntrackTuning.Engine.Platform;
using Xunit;

namespace ConntrackTuning.Engine.Tests;

/// <summary>Issue 13 items 10 and 11: the boot configuration read as systemd-sysctl and the kernel's parameter parser read it.</summary>
public class BootParsingTests
{
    private const string Established = "net.netfilter.nf_conntrack_tcp_timeout_established";

    [Fact]
    public void An_exclusion_and_a_bad_line_are_skipped_alone_and_never_hide_the_rest_of_the_file()
    {
        using var tree = new FixtureTree("linux-6.18-builtin");
        tree.Write("etc/sysctl.d/99-site.conf", $"-net.ipv4.conf.all.rp_filter\nthis is not an assignment\n{Established} = 5\n");
        var log = new RecordingLog();
        SystemRoot root = SystemRoot.Open(tree.Path, log);
        PersistedValue? value = BootConfig.LastSysctl(root, [Established]);
        Assert.Equal("5", value?.Value);
        string warning = Assert.Single(log.Warnings);
        Assert.Contains(tree.File("etc/sysctl.d/99-site.conf") + ":2", warning, StringComparison.Ordinal);

        // The override check sees the 5: writing 777 in our earlier file would not be what the next boot applies.
        ConntrackKernel kernel = KernelProbe.Probe(root);
        ConntrackException e = Assert.Throws<ConntrackException>(() => TimeoutPlanner.Plan(kernel, "tcp", "established", 777, ApplyMode.PersistentOnly, false));
        Assert.Equal(ErrorIds.PersistenceOverridden, e.ErrorId);
        Assert.Equal(tree.File("etc/sysctl.d/99-site.conf"), e.Target);
    }

    [Fact]
    public void A_glob_assignment_sets_every_key_it_matches_and_an_explicit_one_wins_over_it()
    {
        Assert.Equal(["net.netfilter.nf_conntrack_tcp_timeout_*"], SysctlFile.Parse("net.netfilter.nf_conntrack_tcp_timeout_* = 9\n", "x").Select(a => a.Key));
        Assert.True(SysctlFile.GlobMatches("net.netfilter.nf_conntrack_tcp_timeout_*", Established));
        Assert.True(SysctlFile.GlobMatches("net.netfilter.nf_conntrack_tcp_timeout_[ef]stablished", Established));
        Assert.False(SysctlFile.GlobMatches("net.netfilter.nf_conntrack_udp_*", Established));

        using var tree = new FixtureTree("linux-6.18-builtin");
        tree.Write("etc/sysctl.d/99-glob.conf", "net.netfilter.nf_conntrack_tcp_timeout_* = 9\n");
        SystemRoot root = tree.Open();
        Assert.Equal("9", BootConfig.LastSysctl(root, [Established])?.Value);
        tree.Write("etc/sysctl.d/10-explicit.conf", $"{Established} = 4\n");
        Assert.Equal("4", BootConfig.LastSysctl(root, [Established])?.Value);
    }

    [Fact]
    public void Double_quotes_group_a_modprobe_option_as_the_kernel_parser_does()
    {
        const string Text = "options nf_conntrack foo=\"x hashsize=1\"\n";
        ModuleOption foo = Assert.Single(ModprobeFile.Parse(Text, "x"));
        Assert.Equal(("foo", "x hashsize=1"), (foo.Name, foo.Value));
        Assert.Equal("options nf_conntrack foo=\"x hashsize=1\" hashsize=65536\n", ModprobeFile.Set(Text, "nf_conntrack", "hashsize", "65536", "x"));
        Assert.Equal("options nf_conntrack hashsize=65536 foo=\"a b\"\n", ModprobeFile.Set("options nf_conntrack hashsize=1 foo=\"a b\"\n", "nf_conntrack", "hashsize", "65536", "x"));
    }
}
