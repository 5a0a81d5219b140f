namespace ConntrackTuning;

/// <summary>
/// What a Set-Conntrack* command changed, or under -WhatIf would change: the record -PassThru emits. Changed
/// tells a script or Ansible whether anything differs from before; Applied whether it was written.
/// </summary>
public sealed class ConntrackChange
{
    /// <summary>The kernel's name of the setting: nf_conntrack_max, hashsize, nf_conntrack_tcp_timeout_established.</summary>
    public string Setting { get; init; } = "";

    /// <summary>The sysctl key (net.netfilter.nf_conntrack_max) or module option (nf_conntrack.hashsize) that persists it.</summary>
    public string? Key { get; init; }

    /// <summary>The run-time file written (absolute); null when only the persistent configuration was asked for.</summary>
    public string? Path { get; init; }

    /// <summary>The running value before; null under -PersistOnly or when it could not be read.</summary>
    public long? OldValue { get; init; }

    /// <summary>
    /// The running value after, as read back from the kernel (a hash size comes back rounded up to whole pages);
    /// under -PersistOnly the value written to the configuration; under -WhatIf the value that would result.
    /// </summary>
    public long? NewValue { get; init; }

    /// <summary>The value asked for.</summary>
    public long RequestedValue { get; init; }

    /// <summary>True when the running value or a configuration file differs (or under -WhatIf would differ) from before.</summary>
    public bool Changed { get; init; }

    /// <summary>True when the running value differs from before, as read back from the kernel (a hash size the kernel rounds back to the size it had is no change).</summary>
    public bool RuntimeChanged { get; init; }

    public bool PersistenceChanged { get; init; }

    /// <summary>
    /// True when the system is now in the state asked for (written now, or already so); False under -WhatIf or
    /// when -Confirm was answered no while a change was pending: then nothing was written.
    /// </summary>
    public bool Applied { get; init; }

    /// <summary>Runtime, RuntimeAndPersistent or PersistentOnly.</summary>
    public string Mode { get; init; } = "Runtime";

    /// <summary>The configuration files that carry the value to the next boot (absolute paths), written now or already right.</summary>
    public IReadOnlyList<string> PersistedTo { get; init; } = [];

    /// <summary>Each configuration file considered, with its content before and after (for a diff).</summary>
    public IReadOnlyList<ConntrackFileChange> Files { get; init; } = [];

    /// <summary>The value the next boot will apply, as far as the configuration tells; null when nothing persists it.</summary>
    public long? NextBootValue { get; init; }

    /// <summary>The file and line NextBootValue comes from.</summary>
    public string? NextBootSource { get; init; }

    /// <summary>For timeouts: the protocol and state (state null when the protocol has one timeout).</summary>
    public string? Protocol { get; init; }

    public string? State { get; init; }

    /// <summary>The warnings this change raised, also written to the warning stream.</summary>
    public IReadOnlyList<string> Warnings { get; init; } = [];

    public string Root { get; init; } = "/";
}

/// <summary>One configuration file of a change, with its whole content before and after.</summary>
public sealed class ConntrackFileChange
{
    public string Path { get; init; } = "";

    /// <summary>Create, Update or None.</summary>
    public string Action { get; init; } = "None";

    /// <summary>Content before (null when the file did not exist), decoded as UTF-8 for display.</summary>
    public string? Before { get; init; }

    public string? After { get; init; }

    /// <summary>Why the file is part of the change, in a few words.</summary>
    public string Purpose { get; init; } = "";
}
