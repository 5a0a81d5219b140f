namespace ConntrackTuning;

/// <summary>
/// The size of the table and how full it is, with the file each value came from. Output of
/// Get-ConntrackLimit. Max binds by name to Set-ConntrackLimit -Max and HashSize to Set-ConntrackHashSize.
/// </summary>
public sealed class ConntrackLimit
{
    /// <summary>CONNTRACK_MAX: the most entries the table may hold; new connections are dropped beyond it. 0 means no limit.</summary>
    public long? Max { get; init; }

    /// <summary>Entries in the table of this network namespace now.</summary>
    public long? Count { get; init; }

    /// <summary>HASHSIZE: the number of hash buckets.</summary>
    public long? HashSize { get; init; }

    /// <summary>Count as a percentage of Max, two decimals; null when either is unknown or Max is 0 (no limit).</summary>
    public double? UsagePercent { get; init; }

    /// <summary>Max / HashSize: the average chain a lookup walks when the table is full (the seed advises 8 at most, 1 where memory allows).</summary>
    public double? EntriesPerBucket { get; init; }

    public string Tracker { get; init; } = "";

    public string? KernelRelease { get; init; }

    /// <summary>The file Max was read from.</summary>
    public string? MaxSource { get; init; }

    /// <summary>The file Count was read from, or the table file whose entries were counted.</summary>
    public string? CountSource { get; init; }

    /// <summary>The file HashSize was read from, or the kernel log line that stated it.</summary>
    public string? HashSizeSource { get; init; }

    /// <summary>False inside a container's network namespace, where Max and HashSize belong to the host.</summary>
    public bool IsInitialNamespace { get; init; }

    /// <summary>
    /// The max the next boot will apply, from the sysctl configuration, or 8 x the hash size given at module load
    /// or on the kernel command line when no sysctl sets it; null when nothing persists it (the kernel's default applies).
    /// </summary>
    public long? PersistedMax { get; init; }

    /// <summary>The file and line PersistedMax comes from.</summary>
    public string? PersistedMaxSource { get; init; }

    /// <summary>The hash size the next boot will apply (buckets sysctl, kernel command line or modprobe option); null when nothing persists it.</summary>
    public long? PersistedHashSize { get; init; }

    public string? PersistedHashSizeSource { get; init; }

    /// <summary>
    /// True when what the next boot applies differs from the running value, so a reboot would change the table:
    /// a persisted value, or for a value nothing persists the kernel's own default for this memory (computed where
    /// MemTotal gives it exactly: in the initial namespace, from 2.6.27, and before it where more memory would not
    /// change it, as in the capped sizes over 1 GiB).
    /// </summary>
    public bool Drift { get; init; }

    /// <summary>The max the next boot applies: the persisted one, else the kernel's own default for this RAM (null when neither can be told).</summary>
    public long? NextBootMax { get; init; }

    /// <summary>The hash size the next boot applies, rounded as the kernel will: persisted, else the kernel's default.</summary>
    public long? NextBootHashSize { get; init; }

    /// <summary>True when the max the next boot applies differs from the running one.</summary>
    public bool MaxDrift { get; init; }

    /// <summary>True when the hash size the next boot applies differs from the running one.</summary>
    public bool HashSizeDrift { get; init; }

    /// <summary>What differs, in words; null without drift.</summary>
    public string? DriftReason { get; init; }

    /// <summary>Expectations in the table (announced by helpers such as ftp and sip); null when no source gives it.</summary>
    public long? ExpectCount { get; init; }

    /// <summary>nf_conntrack_expect_max: the expectation table's limit (global).</summary>
    public long? ExpectMax { get; init; }

    public double? ExpectUsagePercent { get; init; }

    /// <summary>ctnetlink, the expectation table file, or the statistics file's expect_create - expect_delete.</summary>
    public string? ExpectCountSource { get; init; }

    public string? ExpectMaxSource { get; init; }

    /// <summary>Live, Capture or Image (see Get-ConntrackKernel); on an image only the next boot's values are known.</summary>
    public string RootKind { get; init; } = "Live";

    /// <summary>Where NextBootMax comes from: the file and line, the hashsize rule, or the kernel's default for the RAM.</summary>
    public string? NextBootMaxSource { get; init; }

    /// <summary>Where NextBootHashSize comes from.</summary>
    public string? NextBootHashSizeSource { get; init; }

    /// <summary>Why NextBootMax and NextBootHashSize are unknown (a configuration file this process may not read), for the health check.</summary>
    internal string? NextBootUnknown { get; init; }

    /// <summary>The RAM the next boot's kernel defaults were computed for (an image: -MemoryBytes); null when not given.</summary>
    public long? MemoryBytes { get; init; }

    /// <summary>
    /// Images: true when the tracker exists before systemd-sysctl applies the sysctl files (built in, modules-load.d,
    /// or an install hook), false when it loads later and every conntrack sysctl key is skipped; null when unknown.
    /// </summary>
    public bool? LoadedBeforeSysctl { get; init; }

    public string? LoadedBeforeSysctlSource { get; init; }

    /// <summary>Images: the conntrack sysctl lines the next boot skips because the tracker loads after systemd-sysctl.</summary>
    public IReadOnlyList<string> SkippedAtBoot { get; init; } = [];

    /// <summary>Images: how the kernel's default follows from the RAM (the computation, or examples when -MemoryBytes is not given).</summary>
    public string? DefaultRule { get; init; }

    public string Root { get; init; } = "/";
}
