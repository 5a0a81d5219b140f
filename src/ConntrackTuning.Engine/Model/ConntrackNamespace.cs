using ConntrackTuning.Engine.Limits;

namespace ConntrackTuning;

/// <summary>A process in a network namespace.</summary>
/// <param name="ProcessId">Its pid, as this machine's /proc shows it.</param>
/// <param name="Command">Its command name (/proc/PID/comm).</param>
public sealed record ConntrackNamespaceProcess(int ProcessId, string Command);

/// <summary>
/// One network namespace of the host and its share of the conntrack table: every namespace keeps its own
/// entries, all counted against the one global max. Output of Get-ConntrackNamespace. NetworkNamespace and Root
/// bind by property name, so it pipes into the cmdlets that take -NetworkNamespace.
/// </summary>
public sealed class ConntrackNamespace
{
    /// <summary>The namespace's inode in decimal: the number the 6.18 kernel log names ("table full in netns N") and -NetworkNamespace takes.</summary>
    public string NetworkNamespace { get; init; } = "";

    public ulong Inode { get; init; }

    /// <summary>The ip netns name (a bind mount under /run/netns), when it has one.</summary>
    public string? Name { get; init; }

    /// <summary>True for the host's own namespace (the one process 1 is in).</summary>
    public bool IsInitial { get; init; }

    /// <summary>Who it belongs to, in words: "host", "docker 0123456789ab", "pod kube-system/coredns-5d78c9869d-abcde (containerd)", "podman …", "nspawn NAME", "lxc NAME", "ip netns NAME", or "" when nothing tells.</summary>
    public string Owner { get; init; } = "";

    /// <summary>Host, Docker, Kubernetes, Containerd, CriO, Podman, Nspawn, Lxc, IpNetns, or Unknown.</summary>
    public string OwnerKind { get; init; } = "Unknown";

    /// <summary>The container runtime that names its cgroup (docker, containerd, cri-o, podman, systemd-nspawn, lxc), when known.</summary>
    public string? Runtime { get; init; }

    /// <summary>The container id (or the machine or container name for nspawn and LXC).</summary>
    public string? ContainerId { get; init; }

    /// <summary>The Kubernetes pod UID, from the kubepods cgroup path.</summary>
    public string? PodUid { get; init; }

    /// <summary>The pod's Kubernetes namespace, where the node's files show it (/var/log/pods/NS_NAME_UID).</summary>
    public string? PodNamespace { get; init; }

    /// <summary>The pod's name, from /var/log/pods or kubelet's /var/lib/kubelet/pods/UID/etc-hosts.</summary>
    public string? PodName { get; init; }

    /// <summary>The processes in it, by pid.</summary>
    public IReadOnlyList<ConntrackNamespaceProcess> Processes { get; init; } = [];

    public int ProcessCount => Processes.Count;

    /// <summary>The nsfs files that hold it (ip netns bind mounts, /run/docker/netns/ID, other nsfs mounts).</summary>
    public IReadOnlyList<string> Paths { get; init; } = [];

    /// <summary>Entries in its table, read inside it over ctnetlink as conntrack -C does; null when it could not be read (see CountError).</summary>
    public long? Count { get; init; }

    /// <summary>The global CONNTRACK_MAX every namespace counts against.</summary>
    public long? Max { get; init; }

    /// <summary>Count as a percentage of the global max.</summary>
    public double? UsagePercent => TableRatios.UsagePercent(Count, Max);

    /// <summary>Why the count is missing, when it is.</summary>
    public string? CountError { get; init; }

    /// <summary>
    /// How many "table full" messages of this boot name this namespace (the initial namespace: the messages that name
    /// none); null when the kernel log could not be read (a warning says why), where 0 would claim there were none.
    /// </summary>
    public long? TableFullMessages { get; init; }

    /// <summary>When the last of them was logged.</summary>
    public DateTime? LastTableFull { get; init; }

    public string Root { get; init; } = "/";
}
