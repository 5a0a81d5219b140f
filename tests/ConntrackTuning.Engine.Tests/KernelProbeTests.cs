using Xunit;
using ConntrackTuning.Engine.Kernel;
using ConntrackTuning.Engine.Platform;

namespace ConntrackTuning.Engine.Tests;

public class KernelProbeTests
{
    [Fact]
    public void Probes_a_builtin_6_18_kernel()
    {
        using var tree = new FixtureTree("linux-6.18-builtin");
        ConntrackKernel k = KernelProbe.Probe(tree.Open());
        Assert.Equal("6.18.44-fc-v669", k.KernelRelease);
        Assert.Equal("6.18.44", k.KernelVersion);
        Assert.Equal("nf_conntrack", k.Tracker);
        Assert.Equal("BuiltIn", k.ModuleState);
        Assert.Equal("5.15-nf_conntrack", k.Era);
        Assert.Equal(64, k.PointerBits);
        Assert.True(k.IsInitialNamespace);
        Assert.Equal("net.netfilter.nf_conntrack_max", k.MaxSysctlKey);
        Assert.Equal(tree.File("proc/sys/net/netfilter/nf_conntrack_max"), k.Paths.Max);
        Assert.Equal([tree.File("proc/sys/net/nf_conntrack_max")], k.Paths.MaxAliases);
        Assert.True(k.CanSetMax);
        Assert.True(k.CanSetHashSize);
        Assert.Equal(tree.File("sys/module/nf_conntrack/parameters/hashsize"), k.HashSizeWritePath);
        Assert.True(k.CanSetTimeouts);
    }

    [Fact]
    public void A_root_that_does_not_exist_is_RootNotFound()
    {
        ConntrackException e = Assert.Throws<ConntrackException>(() => SystemRoot.Open("/nonexistent/ctt-root"));
        Assert.Equal(ErrorIds.RootNotFound, e.ErrorId);
        Assert.Equal(ErrorKind.ObjectNotFound, e.Kind);
        Assert.Equal("/nonexistent/ctt-root", e.Target);
    }
}
