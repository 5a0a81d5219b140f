using System;
using System.IO;
using System.Linq;
using ConntrackTuning.Engine.Images;
using ConntrackTuning.Engine.Kernel;
using ConntrackTuning.Engine.Limits;
using ConntrackTuning.Engine.Platform;
using Xunit;

namespace ConntrackTuning.Engine.Tests;

/// <summary>
/// Images as roots: the installed kernels, the next boot's values and the checks that need no kernel. The trees are
/// laid out as Debian installs a kernel (lib/modules/&lt;release&gt;/modules.dep, boot/config-&lt;release&gt;); the
/// VM tier (tests/Vm.Tests.ps1) proves the same predictions against real boots.
/// </summary>
public sealed class ImageRootTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "ctt-image-" + Guid.NewGuid().ToString("n"));

    public ImageRootTests()
    {
        Directory.CreateDirectory(Path.Combine(_root, "etc/sysctl.d"));
        // A disk image keeps proc/ and sys/ as empty mount points.
        Directory.CreateDirectory(Path.Combine(_root, "proc"));
        Directory.CreateDirectory(Path.Combine(_root, "sys"));
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private void Write(string relative, string content)
    {
        string full = Path.Combine(_root, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        File.WriteAllText(full, content);
    }

    private void InstallKernel(string release, string modulesRoot = "lib/modules", string state = "m", bool depmod = true)
    {
        string folder = $"{modulesRoot}/{release}";
        Write($"{folder}/modules.order", "kernel/net/netfilter/nf_conntrack.ko\n");
        Write($"{folder}/modules.builtin", state == "y" ? "kernel/net/netfilter/nf_conntrack.ko\n" : "kernel/fs/ext4/ext4.ko\n");
        if (depmod && state == "m")
        {
            Write($"{folder}/modules.dep",
                "kernel/net/netfilter/nf_conntrack.ko.xz: kernel/net/ipv6/netfilter/nf_defrag_ipv6.ko.xz kernel/net/ipv4/netfilter/nf_defrag_ipv4.ko.xz kernel/lib/libcrc32c.ko.xz\n"
                + "kernel/net/netfilter/nf_nat.ko.xz: kernel/net/netfilter/nf_conntrack.ko.xz kernel/lib/libcrc32c.ko.xz\n");
        }

        Write($"boot/config-{release}", $"CONFIG_64BIT=y\nCONFIG_NF_CONNTRACK={state}\n# CONFIG_NF_CONNTRACK_PROCFS is not set\n");
    }

    private ConntrackKernel Probe(string? release = null, long? memory = null) =>
        KernelProbe.Probe(SystemRoot.Open(_root), release, memory);

    [Fact]
    public void TellsTheRootKinds()
    {
        Assert.Equal(RootKinds.Image, RootKinds.Detect(SystemRoot.Open(_root)));
        Assert.Equal(RootKinds.Live, RootKinds.Detect(SystemRoot.Open("/")));
        using var capture = new FixtureTree("ubuntu-5.15-module-noprocfs");
        Assert.Equal(RootKinds.Capture, RootKinds.Detect(capture.Open()));
    }

    [Fact]
    public void PicksTheNewestInstalledKernelAndSaysWhy()
    {
        InstallKernel("6.1.0-9-amd64");
        InstallKernel("6.1.0-50-amd64", "usr/lib/modules");
        InstallKernel("5.10.0-32-amd64");
        ConntrackKernel kernel = Probe();
        Assert.Equal("Image", kernel.RootKind);
        Assert.Equal("6.1.0-50-amd64", kernel.KernelRelease);
        Assert.Equal(["6.1.0-50-amd64", "6.1.0-9-amd64", "5.10.0-32-amd64"], kernel.InstalledKernelReleases);
        Assert.Contains("usr/lib/modules/6.1.0-50-amd64 (the newest of 3 installed kernels)", kernel.KernelReleaseSource, StringComparison.Ordinal);
        Assert.Equal("Module", kernel.ModuleState);
        Assert.Contains("modules.dep: kernel/net/netfilter/nf_conntrack.ko.xz", kernel.ModuleStateSource, StringComparison.Ordinal);
        Assert.False(kernel.HasProcfs);
        Assert.Equal(64, kernel.PointerBits);
        Assert.Equal("5.15-nf_conntrack", kernel.Era);
        Assert.False(kernel.CanSetMax);
        Assert.Contains("-PersistOnly", kernel.MaxReadOnlyReason, StringComparison.Ordinal);

        ConntrackKernel older = Probe("5.10.0-32-amd64");
        Assert.Equal("4.9-nf_conntrack", older.Era);
        Assert.Contains("chosen with -KernelRelease", older.KernelReleaseSource, StringComparison.Ordinal);
        var missing = Assert.Throws<ConntrackException>(() => Probe("4.19.0-1-amd64"));
        Assert.Equal(ErrorIds.KernelReleaseNotInstalled, missing.ErrorId);
        Assert.Contains("6.1.0-50-amd64, 6.1.0-9-amd64, 5.10.0-32-amd64", missing.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void TellsTheTrackerFromTheConfigWhenDepmodHasNotRun()
    {
        InstallKernel("6.12.117+deb13-amd64", depmod: false);
        Assert.Equal("Module", Probe().ModuleState);
        Assert.Contains("CONFIG_NF_CONNTRACK=m", Probe().ModuleStateSource, StringComparison.Ordinal);
    }

    [Fact]
    public void NaturalOrderComparesNumbersAsNumbers()
    {
        Assert.True(InstalledKernels.NaturalCompare("6.1.0-50-amd64", "6.1.0-9-amd64") > 0);
        Assert.True(InstalledKernels.NaturalCompare("6.1.0-9-amd64", "6.1.0-10-amd64") < 0);
        Assert.Equal(0, InstalledKernels.NaturalCompare("6.1.0-9", "6.1.0-09"));
    }

    [Fact]
    public void TheTrapLosesAHandWrittenMaxAndTheKernelDefaultApplies()
    {
        InstallKernel("6.1.0-50-amd64");
        Write("etc/sysctl.d/50-x.conf", "net.netfilter.nf_conntrack_max = 131072\n");
        ConntrackLimit limit = LimitReader.Read(Probe(memory: 983744L * 1024));
        Assert.Equal("Image", limit.RootKind);
        Assert.Null(limit.Max);
        Assert.Null(limit.Count);
        Assert.False(limit.LoadedBeforeSysctl);
        Assert.Single(limit.SkippedAtBoot);
        Assert.Contains("50-x.conf:1", limit.SkippedAtBoot[0], StringComparison.Ordinal);
        // What a real bookworm boot with 1 GiB (MemTotal 983744 kB) showed: 8192, not 131072.
        Assert.Equal(8192, limit.NextBootMax);
        Assert.Equal(8192, limit.NextBootHashSize);
        Assert.StartsWith("the kernel's default for", limit.NextBootMaxSource, StringComparison.Ordinal);

        ConntrackLimit noMemory = LimitReader.Read(Probe());
        Assert.Null(noMemory.NextBootMax);
        Assert.Contains("1 GiB: max 8192, hash size 8192; 4 GiB: max 65536", noMemory.DefaultRule, StringComparison.Ordinal);

        var findings = ImageHealth.Run(Probe(memory: 1L << 30)).ToList();
        ConntrackHealthFinding trap = Assert.Single(findings, f => f.Check == "BootOrder");
        Assert.Equal("Warning", trap.Severity);
        Assert.Equal($"Set-ConntrackLimit -Root '{_root}' -Max 131072 -PersistOnly", trap.Recommendation);
    }

    [Fact]
    public void ModulesLoadOrADependentModuleAvoidsTheTrap()
    {
        InstallKernel("6.1.0-50-amd64");
        Write("etc/sysctl.d/50-x.conf", "net.netfilter.nf_conntrack_max = 131072\nnet.netfilter.nf_conntrack_tcp_timeout_established = 1200\n");
        Write("etc/modules-load.d/nat.conf", "nf_nat\n");
        ConntrackLimit limit = LimitReader.Read(Probe());
        Assert.True(limit.LoadedBeforeSysctl);
        Assert.Contains("nf_nat, which needs nf_conntrack", limit.LoadedBeforeSysctlSource, StringComparison.Ordinal);
        Assert.Equal(131072, limit.NextBootMax);
        Assert.Empty(limit.SkippedAtBoot);
        var findings = ImageHealth.Run(Probe()).ToList();
        Assert.Equal("Ok", findings.Single(f => f.Check == "BootOrder").Severity);
        Assert.Equal("Ok", findings.Single(f => f.Check == "TcpEstablishedTimeout").Severity);
        Assert.Equal("Info", findings.Single(f => f.Check == "KernelDefault").Severity);
    }

    [Fact]
    public void AModprobeHashSizeSetsMaxToEightTimesTheRoundedSize()
    {
        InstallKernel("6.1.0-50-amd64");
        Write("etc/modprobe.d/ct.conf", "options nf_conntrack hashsize=100000\n");
        ConntrackLimit limit = LimitReader.Read(Probe());
        // What every real kernel of the tier did with hashsize=100000: 100352 buckets, max 802816.
        Assert.Equal(100352, limit.NextBootHashSize);
        Assert.Equal(802816, limit.NextBootMax);
    }

    [Fact]
    public void FlagsFilesThatOverrideEachOtherAndAMaxBelowTheDefault()
    {
        InstallKernel("6.1.0-50-amd64", state: "y");
        Write("etc/sysctl.d/50-a.conf", "net.netfilter.nf_conntrack_max = 131072\n");
        Write("etc/sysctl.d/99-b.conf", "net.netfilter.nf_conntrack_max = 4096\n");
        ConntrackKernel kernel = Probe(memory: 8L << 30);
        Assert.Equal("BuiltIn", kernel.ModuleState);
        ConntrackLimit limit = LimitReader.Read(kernel);
        Assert.True(limit.LoadedBeforeSysctl);
        Assert.Equal(4096, limit.NextBootMax);
        var findings = ImageHealth.Run(kernel).ToList();
        ConntrackHealthFinding overrides = findings.Single(f => f.Check == "Overrides");
        Assert.Equal("Warning", overrides.Severity);
        Assert.Contains("99-b.conf:1", overrides.Message, StringComparison.Ordinal);
        Assert.Contains("-notmatch", overrides.Recommendation, StringComparison.Ordinal);
        ConntrackHealthFinding small = findings.Single(f => f.Check == "KernelDefault");
        Assert.Equal("Warning", small.Severity);
        Assert.Equal($"Set-ConntrackLimit -Root '{_root}' -Max 262144 -PersistOnly", small.Recommendation);
    }

    [Fact]
    public void AnImageWithoutAKernelIsStillNoRunningKernel()
    {
        var e = Assert.Throws<ConntrackException>(() => LimitReader.Read(Probe()));
        Assert.Equal(ErrorIds.NoRunningKernel, e.ErrorId);
        Assert.Contains("-PersistOnly", e.RecommendedAction, StringComparison.Ordinal);
    }
}
