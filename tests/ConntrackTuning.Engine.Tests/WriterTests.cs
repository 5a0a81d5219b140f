using System;
using ConntrackTuning.Engine.Writers;
using Xunit;

namespace ConntrackTuning.Engine.Tests;

public class WriterTests
{
    [Theory]
    [InlineData("24h0m0s", 86400)]
    [InlineData("1h", 3600)]
    [InlineData("30m", 1800)]
    [InlineData("90s", 90)]
    [InlineData("1h30m", 5400)]
    [InlineData("0", 0)]
    public void Reads_go_durations(string text, long seconds) => Assert.Equal(seconds, KubeProxy.ParseDuration(text));

    [Theory]
    [InlineData("24")]
    [InlineData("1d")]
    [InlineData("")]
    public void Refuses_what_is_not_a_go_duration(string text) => Assert.Null(KubeProxy.ParseDuration(text));

    [Fact]
    public void Reads_the_conntrack_section_of_a_kube_proxy_configuration_old_and_nested()
    {
        var flat = KubeProxy.ConntrackSection([
            "apiVersion: kubeproxy.config.k8s.io/v1alpha1", "kind: KubeProxyConfiguration", "conntrack:",
            "  maxPerCore: 65536   # per CPU", "  min: 262144", "  tcpEstablishedTimeout: 12h0m0s", "  tcpCloseWaitTimeout: 30m0s", "mode: iptables",
        ]);
        Assert.Equal("65536", flat["maxPerCore"]);
        Assert.Equal("30m0s", flat["tcpCloseWaitTimeout"]);
        Assert.False(flat.ContainsKey("mode"));
        var nested = KubeProxy.ConntrackSection(["kind: KubeProxyConfiguration", "linux:", "  conntrack:", "    maxPerCore: 0", "  masqueradeAll: false"]);
        Assert.Equal("0", nested["maxPerCore"]);
        Assert.Single(nested);
    }

    [Fact]
    public void Predicts_what_kube_proxy_writes_from_its_flags()
    {
        using var tree = new FixtureTree("linux-6.18-builtin");
        KubeProxyPlan? plan = KubeProxy.Parse(tree.Open(), 42,
            ["/usr/local/bin/kube-proxy", "--conntrack-max-per-core=40000", "--conntrack-min", "100000", "--conntrack-tcp-timeout-established=2h"], 64);
        Assert.NotNull(plan);
        Assert.Equal(2_560_000, plan.MaxUncapped);
        Assert.Equal(KubeProxy.Cap, plan.Max);
        Assert.Equal(KubeProxy.Cap / 4, plan.HashSize);
        Assert.Equal(7200, plan.TcpEstablishedSeconds);
        Assert.Equal(KubeProxy.DefaultCloseWait, plan.TcpCloseWaitSeconds);

        KubeProxyPlan? small = KubeProxy.Parse(tree.Open(), 42, ["kube-proxy", "--conntrack-max-per-core=1000"], 2);
        Assert.Equal(KubeProxy.DefaultMin, small?.Max);
    }

    [Fact]
    public void Reads_the_embedded_proxy_of_k3s_and_zero_leaves_a_setting_alone()
    {
        using var tree = new FixtureTree("linux-6.18-builtin");
        tree.Write("etc/rancher/k3s/config.yaml", "write-kubeconfig-mode: \"0644\"\nkube-proxy-arg:\n  - \"conntrack-tcp-timeout-close-wait=0\"\n");
        KubeProxyPlan? plan = KubeProxy.Parse(tree.Open(), 7, ["/usr/local/bin/k3s", "server", "--kube-proxy-arg=conntrack-max-per-core=0"], 8);
        Assert.NotNull(plan);
        Assert.Equal("k3s", plan.Host);
        Assert.Null(plan.Max);
        Assert.Null(plan.TcpCloseWaitSeconds);
        Assert.Equal(KubeProxy.DefaultEstablished, plan.TcpEstablishedSeconds);
        Assert.Null(KubeProxy.Parse(tree.Open(), 8, ["/usr/bin/sleep", "300"], 8));
    }

    [Fact]
    public void Warns_that_kube_proxy_will_lower_a_larger_max_and_says_how_to_avoid_it()
    {
        var plan = new KubeProxyPlan { ProcessId = 9, Host = "kube-proxy", CommandLine = "kube-proxy", Cpus = 4 };
        string words = KubeProxyAdvice.Words(plan, "nf_conntrack_max", "max", plan.Max!.Value, 2_000_000);
        Assert.Contains("lower it to 131,072", words, StringComparison.Ordinal);
        Assert.Contains("--conntrack-max-per-core=0", words, StringComparison.Ordinal);
        Assert.Contains("hash size to 32,768", words, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("cilium_ct4_global", true)]
    [InlineData("cilium_ct_any6_global", true)]
    [InlineData("cali_v4_ct3", true)]
    [InlineData("cilium_snat_v4_external", false)]
    [InlineData("cali_v4_arp", false)]
    public void Knows_the_conntrack_maps_by_name(string name, bool conntrack) => Assert.Equal(conntrack, BpfMaps.IsConntrackMap(name));
}
