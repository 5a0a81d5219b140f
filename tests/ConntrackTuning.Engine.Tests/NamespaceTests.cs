using System;
using System.IO;
using System.Linq;
using ConntrackTuning.Engine.Namespaces;
using Xunit;

namespace ConntrackTuning.Engine.Tests;

public class NamespaceTests
{
    private const string Id = "3f2a1b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708";

    [Theory]
    // Docker, systemd and cgroupfs drivers, v2 and v1 lines.
    [InlineData("0::/system.slice/docker-" + Id + ".scope", "Docker", "docker", Id, null)]
    [InlineData("12:pids:/docker/" + Id, "Docker", "docker", Id, null)]
    // Kubernetes with containerd (systemd driver, burstable and guaranteed), cgroupfs driver, CRI-O and cri-dockerd.
    [InlineData("0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod0f5e8a3c_1b2d_4e6f_8a9b_0c1d2e3f4a5b.slice/cri-containerd-" + Id + ".scope",
        "Kubernetes", "containerd", Id, "0f5e8a3c-1b2d-4e6f-8a9b-0c1d2e3f4a5b")]
    [InlineData("0::/kubepods.slice/kubepods-pod0f5e8a3c_1b2d_4e6f_8a9b_0c1d2e3f4a5b.slice/cri-containerd-" + Id + ".scope",
        "Kubernetes", "containerd", Id, "0f5e8a3c-1b2d-4e6f-8a9b-0c1d2e3f4a5b")]
    [InlineData("4:memory:/kubepods/besteffort/pod0f5e8a3c-1b2d-4e6f-8a9b-0c1d2e3f4a5b/" + Id,
        "Kubernetes", null, Id, "0f5e8a3c-1b2d-4e6f-8a9b-0c1d2e3f4a5b")]
    [InlineData("0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod0f5e8a3c_1b2d_4e6f_8a9b_0c1d2e3f4a5b.slice/crio-" + Id + ".scope",
        "Kubernetes", "cri-o", Id, "0f5e8a3c-1b2d-4e6f-8a9b-0c1d2e3f4a5b")]
    [InlineData("0::/system.slice/crio-" + Id + ".scope", "CriO", "cri-o", Id, null)]
    // Podman as root and rootless; the container's own cgroup, not conmon's.
    [InlineData("0::/machine.slice/libpod-" + Id + ".scope/container", "Podman", "podman", Id, null)]
    [InlineData("0::/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-" + Id + ".scope", "Podman", "podman", Id, null)]
    // systemd-nspawn (with systemd's \x2d escape) and LXC (4.x payload and the old layout).
    [InlineData("0::/machine.slice/machine-web\\x2d01.scope/payload", "Nspawn", "systemd-nspawn", "web-01", null)]
    [InlineData("0::/lxc.payload.c1/init.scope", "Lxc", "lxc", "c1", null)]
    [InlineData("3:cpu:/lxc/c2", "Lxc", "lxc", "c2", null)]
    public void Names_the_owner_of_a_cgroup_path(string line, string kind, string? runtime, string id, string? pod)
    {
        CgroupOwner? owner = CgroupOwnerParser.Parse([line]);
        Assert.NotNull(owner);
        Assert.Equal(kind, owner.Kind);
        Assert.Equal(runtime, owner.Runtime);
        Assert.Equal(id, owner.ContainerId);
        Assert.Equal(pod, owner.PodUid);
    }

    [Theory]
    [InlineData("0::/user.slice/user-1000.slice/session-3.scope")]
    [InlineData("0::/system.slice/ssh.service")]
    [InlineData("0::/machine.slice/libpod-conmon-" + Id + ".scope")]
    [InlineData("0::/")]
    [InlineData("garbage")]
    public void A_host_process_has_no_owner(string line) => Assert.Null(CgroupOwnerParser.Parse([line]));

    [Theory]
    [InlineData("containerd-shim", new[] { "/var/lib/rancher/k3s/data/current/bin/containerd-shim-runc-v2", "-namespace", "k8s.io", "-id", "abc", "-address", "/run/k3s/containerd/containerd.sock" }, "containerd")]
    [InlineData("containerd-shim", new[] { "/usr/bin/containerd-shim-runc-v2", "-namespace", "moby", "-id", "abc" }, "docker")]
    [InlineData("conmon", new[] { "/usr/bin/conmon", "-b", "/run/containers/storage/overlay-containers/abc/userdata" }, "cri-o")]
    [InlineData("bash", new[] { "/bin/bash" }, null)]
    public void Names_the_runtime_of_a_containers_parent(string comm, string[] argv, string? runtime) =>
        Assert.Equal(runtime, CgroupOwnerParser.RuntimeOfShim(comm, argv));

    [Fact]
    public void The_pod_line_beats_a_plain_container_line_of_the_same_process()
    {
        CgroupOwner? owner = CgroupOwnerParser.Parse([
            "12:pids:/docker/" + Id,
            "4:memory:/kubepods/burstable/pod0f5e8a3c-1b2d-4e6f-8a9b-0c1d2e3f4a5b/" + Id,
        ]);
        Assert.Equal("Kubernetes", owner?.Kind);
    }

    [Fact]
    public void Reads_pod_names_from_kubelet_folders()
    {
        Assert.Equal(new PodInfo("0f5e8a3c-1b2d-4e6f-8a9b-0c1d2e3f4a5b", "kube-system", "coredns-5d78c9869d-abcde"),
            PodDirectory.ParseLogFolder("kube-system_coredns-5d78c9869d-abcde_0f5e8a3c-1b2d-4e6f-8a9b-0c1d2e3f4a5b"));
        Assert.Null(PodDirectory.ParseLogFolder("not-a-pod-folder"));
        Assert.Equal("web-0", PodDirectory.HostName([
            "# Kubernetes-managed hosts file.", "127.0.0.1\tlocalhost", "::1\tlocalhost ip6-localhost ip6-loopback",
            "fe00::0\tip6-localnet", "10.244.1.7\tweb-0",
        ]));
        Assert.Null(PodDirectory.HostName(["127.0.0.1 localhost", "10.0.0.1 myhost"]));
    }

    [Fact]
    public void Discovers_namespaces_owners_names_and_pods_in_a_tree()
    {
        using var tree = new FixtureTree("linux-6.18-builtin");
        void Process(int pid, ulong inode, string comm, string cgroup)
        {
            tree.Write($"proc/{pid}/comm", comm + "\n");
            tree.Write($"proc/{pid}/cgroup", cgroup + "\n");
            Directory.CreateDirectory(tree.File($"proc/{pid}/ns"));
            File.CreateSymbolicLink(tree.File($"proc/{pid}/ns/net"), $"net:[{inode}]");
        }

        Process(1, 4026531840, "systemd", "0::/init.scope");
        Process(2, 4026531840, "kthreadd", "0::/");
        Process(800, 4026532281, "nginx", "0::/system.slice/docker-" + Id + ".scope");
        Process(801, 4026532281, "nginx", "0::/system.slice/docker-" + Id + ".scope");
        Process(900, 4026532300, "coredns",
            "0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod0f5e8a3c_1b2d_4e6f_8a9b_0c1d2e3f4a5b.slice/cri-containerd-" + Id + ".scope");
        Directory.CreateDirectory(tree.File("var/log/pods/kube-system_coredns-5d78c9869d-abcde_0f5e8a3c-1b2d-4e6f-8a9b-0c1d2e3f4a5b"));
        // An ip netns namespace without processes, seen only as an nsfs mount.
        tree.Write("proc/self/mountinfo",
            "22 1 0:21 / /proc rw,nosuid - proc proc rw\n"
            + "612 27 0:4 net:[4026532410] /run/netns/lab rw shared:313 - nsfs nsfs rw\n"
            + "613 27 0:4 mnt:[4026532411] /run/x rw - nsfs nsfs rw\n");

        var found = NamespaceDiscovery.Discover(tree.Open());
        Assert.Equal([4026531840UL, 4026532281, 4026532300, 4026532410], found.Select(f => f.Inode));
        FoundNamespace host = found[0];
        Assert.True(host.IsInitial);
        Assert.Equal("host", NamespaceReader.Describe(host, host.Owner, null).Words);

        FoundNamespace docker = found[1];
        Assert.Equal([800, 801], docker.Processes.Select(p => p.ProcessId));
        Assert.Equal("docker " + Id[..12], NamespaceReader.Describe(docker, docker.Owner, null).Words);

        var pods = PodDirectory.Read(tree.Open());
        FoundNamespace pod = found[2];
        Assert.Equal("pod kube-system/coredns-5d78c9869d-abcde (containerd)",
            NamespaceReader.Describe(pod, pod.Owner, pods[pod.Owner!.PodUid!]).Words);

        FoundNamespace lab = found[3];
        Assert.Equal("lab", lab.Name);
        Assert.Empty(lab.Processes);
        Assert.Equal([tree.File("run/netns/lab")], lab.Paths);
        Assert.Equal(("IpNetns", "ip netns lab"), NamespaceReader.Describe(lab, null, null));
    }

    [Fact]
    public void A_tree_has_no_counts_and_cannot_be_entered()
    {
        using var tree = new FixtureTree("linux-6.18-builtin");
        var ns = new FoundNamespace(4026532281);
        Assert.Null(NamespaceReader.ReadCount(tree.Open(), ns, null, out string? error));
        Assert.Contains("running kernel", error, StringComparison.Ordinal);
        var e = Assert.Throws<ConntrackException>(() => NamespaceResolver.Resolve(tree.Open(), "lab"));
        Assert.Equal(ErrorIds.NamespaceNeedsLiveRoot, e.ErrorId);
    }

    [Theory]
    [InlineData("proc/sys/net/netfilter/nf_conntrack_max", true, "proc/sys/net/netfilter/nf_conntrack_max")]
    [InlineData("proc/net/stat/nf_conntrack", true, "proc/thread-self/net/stat/nf_conntrack")]
    [InlineData("proc/self/ns/net", true, "proc/thread-self/ns/net")]
    [InlineData("sys/module/nf_conntrack/parameters/hashsize", false, "sys/module/nf_conntrack/parameters/hashsize")]
    [InlineData("proc/netfoo", false, "proc/netfoo")]
    public void Per_namespace_paths_are_opened_on_the_namespace_thread(string path, bool perNamespace, string rewritten)
    {
        Assert.Equal(perNamespace, NamespaceContext.IsPerNamespace(path));
        Assert.Equal(rewritten, NamespaceContext.Rewrite(path));
    }
}
