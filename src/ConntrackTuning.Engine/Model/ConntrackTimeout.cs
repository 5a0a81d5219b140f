namespace ConntrackTuning;

/// <summary>
/// One timeout of the tracker: how long an entry in this protocol state stays without traffic. Output of
/// Get-ConntrackTimeout; Protocol, State and Seconds bind by name to Set-ConntrackTimeout.
/// </summary>
public sealed class ConntrackTimeout
{
    /// <summary>tcp, udp, icmp, icmpv6, sctp, gre, generic, frag6, or whatever else the kernel offers.</summary>
    public string Protocol { get; init; } = "";

    /// <summary>The state (established, time_wait, stream); null for a protocol with a single timeout (udp, icmp, generic).</summary>
    public string? State { get; init; }

    /// <summary>The running value in seconds.</summary>
    public long? Seconds { get; init; }

    /// <summary>The kernel's default for this release where it is known; null where it is not.</summary>
    public long? Default { get; init; }

    /// <summary>The value the persistent configuration sets for the next boot; null when nothing sets it.</summary>
    public long? PersistedSeconds { get; init; }

    /// <summary>The file and line PersistedSeconds comes from.</summary>
    public string? PersistedSource { get; init; }

    /// <summary>The sysctl key, such as net.netfilter.nf_conntrack_tcp_timeout_established.</summary>
    public string Key { get; init; } = "";

    /// <summary>The file the value was read from.</summary>
    public string Path { get; init; } = "";

    public string Root { get; init; } = "/";

    /// <summary>
    /// The inode of the network namespace read with -NetworkNamespace; null for this process's own. Binds by
    /// property name to Set-ConntrackTimeout, which then changes the timeout there.
    /// </summary>
    public string? NetworkNamespace { get; init; }
}
