namespace ConntrackTuning;

/// <summary>
/// One of the tracker's sysctls other than the max, the hash size and the timeouts (tcp_be_liberal, tcp_loose,
/// acct, timestamp, events, log_invalid, checksum, expect_max, ...). Output of Get-ConntrackSetting.
/// </summary>
public sealed class ConntrackSetting
{
    /// <summary>The file name, with the era's prefix: nf_conntrack_tcp_be_liberal (ip_conntrack_tcp_be_liberal on 2.6 ip_conntrack).</summary>
    public string Name { get; init; } = "";

    /// <summary>The sysctl key: net.netfilter.nf_conntrack_tcp_be_liberal.</summary>
    public string Key { get; init; } = "";

    /// <summary>The running kernel's value; null when the root has no running kernel or the file cannot be read.</summary>
    public long? Value { get; init; }

    /// <summary>
    /// The kernel's default on this kernel. expect_max's is computed as the kernel does when the tracker loads: 4 ×
    /// (the connection hash's buckets / 256), or 4 × expect_hashsize where the kernel command line or a modprobe option sets it; null
    /// where the bucket count cannot be read.
    /// </summary>
    public long? Default { get; init; }

    /// <summary>What it does, in one line.</summary>
    public string Meaning { get; init; } = "";

    /// <summary>PerNamespace (each network namespace has its own) or Global.</summary>
    public string Scope { get; init; } = "";

    /// <summary>Whether Set-ConntrackSetting can change the running value here.</summary>
    public bool Writable { get; init; }

    /// <summary>Why not, when it cannot.</summary>
    public string? NotWritableReason { get; init; }

    /// <summary>The value the next boot applies from the sysctl files; null when none sets it.</summary>
    public long? PersistedValue { get; init; }

    /// <summary>The file and line the persisted value comes from.</summary>
    public string? PersistedSource { get; init; }

    /// <summary>The smallest and largest value the kernel takes.</summary>
    public long Minimum { get; init; }

    public long Maximum { get; init; }

    /// <summary>The full path of the file.</summary>
    public string Path { get; init; } = "";

    public string Root { get; init; } = "/";
}
