namespace ConntrackTuning.Engine.Kernel;

/// <summary>The two connection trackers Linux has had.</summary>
internal enum Tracker
{
    /// <summary>The IPv4-only tracker of 2.4 and early 2.6 (removed in 2.6.22).</summary>
    IpConntrack,

    /// <summary>The layer-3 independent tracker, from 2.6.15 to today.</summary>
    NfConntrack,
}

/// <summary>How the kernel sizes the table when nothing is set (KERNEL-FACTS §3).</summary>
internal enum SizingRule
{
    /// <summary>2.4.0: buckets = RAM / 16384 / sizeof(list_head), no floor, no cap; max = 8 x buckets.</summary>
    ListUncapped,

    /// <summary>2.4.x to 2.6.23: as above, floor 16 and 8192 buckets over 1 GiB; max = 8 x buckets.</summary>
    ListCapped,

    /// <summary>2.6.24 to 3.18: hlist buckets, floor 32, 16384 over 1 GiB, pages rounded; max = 4 x buckets.</summary>
    HlistCapped,

    /// <summary>4.0 to 5.14: as above plus 65536 buckets over 4 GiB.</summary>
    HlistTiered,

    /// <summary>5.15 onward: buckets clamped to 1024..262144 (65536 up to 4 GiB or on 32-bit); max = buckets.</summary>
    Sanitized,
}

/// <summary>What hash size spreads entries well for the era's hash function (the seed's advice).</summary>
internal enum HashShape
{
    /// <summary>Before 2.4.21 the hash was additive: a prime number of buckets is required.</summary>
    Prime,

    /// <summary>From 2.4.21 (Jenkins hash) any size works, a power of two best.</summary>
    PowerOfTwo,
}

/// <summary>What the allocator does to the bucket count the sizing rule produced (KERNEL-FACTS §3).</summary>
internal enum BucketRounding
{
    /// <summary>Before 2.6.24 the table is allocated with exactly the computed number of buckets.</summary>
    None,

    /// <summary>
    /// From 2.6.24 the count is rounded up to a multiple of PAGE_SIZE / sizeof(bucket head) (512 on 64-bit and
    /// 1024 on 32-bit with 4 KiB pages) before the max is derived from it.
    /// </summary>
    PageMultiple,

    /// <summary>
    /// 2.6.27 to 4.6: the max is derived from the computed count first; each network namespace then allocates
    /// its own table, rounded up to the page multiple. The buckets sysctl shows the rounded count, the max
    /// follows the unrounded one.
    /// </summary>
    PageMultipleAfterMax,
}

/// <summary>How the hash table can be resized while the system runs.</summary>
internal enum HashResize
{
    /// <summary>Only at module load or boot.</summary>
    None,

    /// <summary>Through sys/module/&lt;tracker&gt;/parameters/hashsize.</summary>
    ModuleParameter,

    /// <summary>Through the module parameter or the nf_conntrack_buckets sysctl (4.8 onward, initial namespace).</summary>
    ModuleParameterOrBucketsSysctl,
}

/// <summary>How a hash size survives a reboot (KERNEL-FACTS §5.1); the module state decides among the ways a row allows.</summary>
internal enum HashPersistence
{
    /// <summary>2.4: the hashsize module option at load time; a built-in tracker has only its compile-time size.</summary>
    LoadTimeOnly,

    /// <summary>2.6 to 4.7: the module option when loadable, the kernel command line (tracker.hashsize=N) when built in.</summary>
    ModuleOptionOrBootParameter,

    /// <summary>4.8 onward: as above, and a built-in tracker can also take the nf_conntrack_buckets sysctl at boot.</summary>
    ModuleOptionBucketsSysctlOrBootParameter,
}

/// <summary>A timeout default the kernel source or a live kernel confirms, for the versions it held in.</summary>
/// <param name="Name">The sysctl name after the tracker prefix, such as tcp_timeout_established.</param>
/// <param name="Seconds">The default in seconds.</param>
/// <param name="From">First version known to have it (inclusive); null for "since the sysctl exists".</param>
/// <param name="Until">First version known not to have it (exclusive), or where knowledge stops; null for "to today".</param>
/// <param name="Evidence">Where the number comes from (KERNEL-FACTS tags).</param>
internal sealed record TimeoutDefault(string Name, int Seconds, KernelVersion? From, KernelVersion? Until, string Evidence)
{
    public bool Covers(KernelVersion version) => (From is null || version >= From.Value) && (Until is null || version < Until.Value);
}

/// <summary>
/// One row of kernel history: everything about conntrack that changed at a version boundary. Paths are
/// candidates in order of preference, relative to the root; the probe keeps the ones that exist, so a vendor
/// kernel that backported a file is still read correctly.
/// </summary>
internal sealed record KernelEra
{
    public required string Id { get; init; }

    public required string Description { get; init; }

    public required Tracker Tracker { get; init; }

    /// <summary>First version of the era (inclusive).</summary>
    public required KernelVersion From { get; init; }

    /// <summary>First version after the era (exclusive); null for the current era.</summary>
    public KernelVersion? Until { get; init; }

    public required IReadOnlyList<string> MaxPaths { get; init; }

    /// <summary>Empty on 2.4, which has no count sysctl: the entries of the table file are counted.</summary>
    public required IReadOnlyList<string> CountPaths { get; init; }

    public required IReadOnlyList<string> BucketsPaths { get; init; }

    public string? HashSizeParameterPath { get; init; }

    /// <summary>Folder holding the timeout sysctls, and the prefix of their names.</summary>
    public string? TimeoutDirectory { get; init; }

    public string? TimeoutPrefix { get; init; }

    public string? StatisticsPath { get; init; }

    public required IReadOnlyList<string> TablePaths { get; init; }

    /// <summary>
    /// True on 2.4, which has no expectation file: the table file lists each expectation after the entries as an
    /// "EXPECTING:" line. From 2.6 they have a file of their own (proc/net/ip_conntrack_expect, nf_conntrack_expect).
    /// </summary>
    public bool ExpectationsInTable { get; init; }

    /// <summary>The sysctl name used to persist the max when none of the paths exists to tell.</summary>
    public required string MaxSysctlKey { get; init; }

    public required HashResize HashResize { get; init; }

    /// <summary>How a hash size set now can be made to survive a reboot.</summary>
    public required HashPersistence HashPersistence { get; init; }

    public required HashShape HashShape { get; init; }

    public required SizingRule Sizing { get; init; }

    /// <summary>Pointers per bucket head: 2 for list_head (before 2.6.24), 1 for hlist_head.</summary>
    public required int BucketHeadPointers { get; init; }

    public required BucketRounding BucketRounding { get; init; }

    /// <summary>
    /// True from 2.6.27, conntrack's network-namespace conversion: every namespace keeps its own entries, each up to
    /// the global max. Before it one table served the whole machine, whatever namespaces existed.
    /// </summary>
    public bool PerNamespaceTables { get; init; }

    /// <summary>
    /// True from 2.6.27 to 4.6, when every network namespace allocated its own hash table of the global size
    /// (so the bucket memory, like the entries, is paid once per namespace); from 4.7 one table is shared.
    /// </summary>
    public required bool HashPerNamespace { get; init; }

    /// <summary>
    /// True where the default sizing counted every physical page (num_physpages), which is a little more than
    /// MemTotal: a default computed from MemTotal can come out a few percent low (2.4 to 2.6.26; later kernels
    /// count totalram_pages, which MemTotal reports).
    /// </summary>
    public required bool SizesFromAllPhysicalPages { get; init; }

    /// <summary>
    /// Estimated bytes one entry takes in the tracker's slab on 32 and 64 bit, used when nothing under the root
    /// states it. These are estimates from published boot lines and slab listings (the slot size, alignment
    /// included; extensions such as NAT or accounting are allocated separately and not counted):
    /// 2.4 and 2.6.5 on i386 "around 300" (the seed guide; boot lines show 296 to 356); ip_conntrack 2.6.14 to
    /// 2.6.21 228 on i386 (RHEL 5 boot line; 212 to 272 seen); RHEL 6 (2.6.32) 312 and RHEL 7 (3.10) 320 in
    /// slabinfo on x86_64; 6.18 x86_64 256 (object_size 248) measured on the development machine. Other
    /// cells are interpolated and say so only by being round.
    /// </summary>
    public required int EstimatedEntrySize32 { get; init; }

    public required int EstimatedEntrySize64 { get; init; }

    public string TrackerName => EraTable.TrackerName(Tracker);

    public bool Contains(KernelVersion version) => version >= From && (Until is null || version < Until.Value);
}
