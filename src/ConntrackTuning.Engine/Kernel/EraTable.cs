using System;
using System.Collections.Generic;
using System.Linq;

namespace ConntrackTuning.Engine.Kernel;

/// <summary>The two connection trackers Linux has had.</summary>
public enum Tracker
{
    /// <summary>The IPv4-only tracker of 2.4 and early 2.6 (removed in 2.6.22).</summary>
    IpConntrack,

    /// <summary>The layer-3 independent tracker, from 2.6.15 to today.</summary>
    NfConntrack,
}

/// <summary>How the kernel sizes the table when nothing is set (KERNEL-FACTS §3).</summary>
public enum SizingRule
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
public enum HashShape
{
    /// <summary>Before 2.4.21 the hash was additive: a prime number of buckets is required.</summary>
    Prime,

    /// <summary>From 2.4.21 (Jenkins hash) any size works, a power of two best.</summary>
    PowerOfTwo,
}

/// <summary>What the allocator does to the bucket count the sizing rule produced (KERNEL-FACTS §3).</summary>
public enum BucketRounding
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
public enum HashResize
{
    /// <summary>Only at module load or boot.</summary>
    None,

    /// <summary>Through sys/module/&lt;tracker&gt;/parameters/hashsize.</summary>
    ModuleParameter,

    /// <summary>Through the module parameter or the nf_conntrack_buckets sysctl (4.8 onward, initial namespace).</summary>
    ModuleParameterOrBucketsSysctl,
}

/// <summary>How a hash size survives a reboot (KERNEL-FACTS §5.1); the module state decides among the ways a row allows.</summary>
public enum HashPersistence
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
public sealed record TimeoutDefault(string Name, int Seconds, KernelVersion? From, KernelVersion? Until, string Evidence)
{
    public bool Covers(KernelVersion version) => (From is null || version >= From.Value) && (Until is null || version < Until.Value);
}

/// <summary>
/// One row of kernel history: everything about conntrack that changed at a version boundary. Paths are
/// candidates in order of preference, relative to the root; the probe keeps the ones that exist, so a vendor
/// kernel that backported a file is still read correctly.
/// </summary>
public sealed record KernelEra
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

/// <summary>Kernel history as data. Adding an era or a vendor quirk is adding a row here.</summary>
public static class EraTable
{
    private static readonly KernelVersion V2_4_0 = new(2, 4, 0);

    // Candidate paths shared by the rows of one tracker family. Order matters: the first that exists is the
    // one reported and written; the others are aliases of the same kernel variable.
    // Before 2.4.23 the max lives at the old path; the netfilter folder's arrival at 2.4.23 is unverified and vendor
    // kernels (RHEL 3's 2.4.21) carried backports, so the rows before it look for the newer files too.
    private static readonly string[] IpMax24 = ["proc/sys/net/ipv4/ip_conntrack_max", "proc/sys/net/ipv4/netfilter/ip_conntrack_max"];
    private static readonly string[] IpMax = ["proc/sys/net/ipv4/netfilter/ip_conntrack_max", "proc/sys/net/ipv4/ip_conntrack_max"];
    private static readonly string[] IpCount = ["proc/sys/net/ipv4/netfilter/ip_conntrack_count"];
    private static readonly string[] IpBuckets = ["proc/sys/net/ipv4/netfilter/ip_conntrack_buckets"];
    private static readonly string[] IpTable = ["proc/net/ip_conntrack"];
    private const string IpHashParam = "sys/module/ip_conntrack/parameters/hashsize";

    private static readonly string[] NfMax =
        ["proc/sys/net/netfilter/nf_conntrack_max", "proc/sys/net/nf_conntrack_max", "proc/sys/net/ipv4/netfilter/ip_conntrack_max"];
    private static readonly string[] NfCount =
        ["proc/sys/net/netfilter/nf_conntrack_count", "proc/sys/net/ipv4/netfilter/ip_conntrack_count"];
    private static readonly string[] NfBuckets =
        ["proc/sys/net/netfilter/nf_conntrack_buckets", "proc/sys/net/ipv4/netfilter/ip_conntrack_buckets"];
    private static readonly string[] NfTable = ["proc/net/nf_conntrack", "proc/net/ip_conntrack"];
    private const string NfHashParam = "sys/module/nf_conntrack/parameters/hashsize";

    /// <summary>Every era, oldest first, ip_conntrack rows before nf_conntrack rows.</summary>
    public static IReadOnlyList<KernelEra> Eras { get; } =
    [
        new()
        {
            Id = "2.4.0", Description = "ip_conntrack 2.4.0, additive hash, no size caps",
            Tracker = Tracker.IpConntrack, From = V2_4_0, Until = new(2, 4, 1),
            MaxPaths = IpMax24, CountPaths = [], BucketsPaths = IpBuckets, TablePaths = IpTable,
            MaxSysctlKey = "net.ipv4.ip_conntrack_max",
            HashPersistence = HashPersistence.LoadTimeOnly, HashResize = HashResize.None, HashShape = HashShape.Prime, Sizing = SizingRule.ListUncapped,
            BucketHeadPointers = 2, BucketRounding = BucketRounding.None, HashPerNamespace = false, SizesFromAllPhysicalPages = true,
            EstimatedEntrySize32 = 300, EstimatedEntrySize64 = 480,
        },
        new()
        {
            Id = "2.4-additive", Description = "ip_conntrack 2.4 before 2.4.21, additive hash",
            Tracker = Tracker.IpConntrack, From = new(2, 4, 1), Until = new(2, 4, 21),
            MaxPaths = IpMax24, CountPaths = [], BucketsPaths = IpBuckets, TablePaths = IpTable,
            MaxSysctlKey = "net.ipv4.ip_conntrack_max",
            HashPersistence = HashPersistence.LoadTimeOnly, HashResize = HashResize.None, HashShape = HashShape.Prime, Sizing = SizingRule.ListCapped,
            BucketHeadPointers = 2, BucketRounding = BucketRounding.None, HashPerNamespace = false, SizesFromAllPhysicalPages = true,
            EstimatedEntrySize32 = 300, EstimatedEntrySize64 = 480,
        },
        new()
        {
            Id = "2.4-jenkins", Description = "ip_conntrack 2.4.21 to 2.4.22, Jenkins hash, no netfilter sysctl folder",
            Tracker = Tracker.IpConntrack, From = new(2, 4, 21), Until = new(2, 4, 23),
            MaxPaths = IpMax24, CountPaths = [], BucketsPaths = IpBuckets, TablePaths = IpTable,
            MaxSysctlKey = "net.ipv4.ip_conntrack_max",
            HashPersistence = HashPersistence.LoadTimeOnly, HashResize = HashResize.None, HashShape = HashShape.PowerOfTwo, Sizing = SizingRule.ListCapped,
            BucketHeadPointers = 2, BucketRounding = BucketRounding.None, HashPerNamespace = false, SizesFromAllPhysicalPages = true,
            EstimatedEntrySize32 = 300, EstimatedEntrySize64 = 480,
        },
        new()
        {
            Id = "2.4-netfilter", Description = "ip_conntrack 2.4.23 and later 2.4, sysctls under net.ipv4.netfilter",
            Tracker = Tracker.IpConntrack, From = new(2, 4, 23), Until = new(2, 5, 0),
            MaxPaths = IpMax, CountPaths = [], BucketsPaths = IpBuckets, TablePaths = IpTable,
            TimeoutDirectory = "proc/sys/net/ipv4/netfilter", TimeoutPrefix = "ip_conntrack_",
            MaxSysctlKey = "net.ipv4.netfilter.ip_conntrack_max",
            HashPersistence = HashPersistence.LoadTimeOnly, HashResize = HashResize.None, HashShape = HashShape.PowerOfTwo, Sizing = SizingRule.ListCapped,
            BucketHeadPointers = 2, BucketRounding = BucketRounding.None, HashPerNamespace = false, SizesFromAllPhysicalPages = true,
            EstimatedEntrySize32 = 300, EstimatedEntrySize64 = 480,
        },
        new()
        {
            Id = "2.6-ip_conntrack", Description = "ip_conntrack 2.6 before 2.6.14, hash size fixed after load",
            Tracker = Tracker.IpConntrack, From = new(2, 5, 0), Until = new(2, 6, 14),
            MaxPaths = IpMax, CountPaths = IpCount, BucketsPaths = IpBuckets, TablePaths = IpTable,
            HashSizeParameterPath = IpHashParam,
            TimeoutDirectory = "proc/sys/net/ipv4/netfilter", TimeoutPrefix = "ip_conntrack_",
            StatisticsPath = "proc/net/stat/ip_conntrack",
            MaxSysctlKey = "net.ipv4.netfilter.ip_conntrack_max",
            HashPersistence = HashPersistence.ModuleOptionOrBootParameter, HashResize = HashResize.None, HashShape = HashShape.PowerOfTwo, Sizing = SizingRule.ListCapped,
            BucketHeadPointers = 2, BucketRounding = BucketRounding.None, HashPerNamespace = false, SizesFromAllPhysicalPages = true,
            EstimatedEntrySize32 = 300, EstimatedEntrySize64 = 400,
        },
        new()
        {
            Id = "2.6.14-ip_conntrack", Description = "ip_conntrack 2.6.14 to 2.6.21 (RHEL 5), hash size writable in sysfs",
            Tracker = Tracker.IpConntrack, From = new(2, 6, 14), Until = new(2, 6, 22),
            MaxPaths = IpMax, CountPaths = IpCount, BucketsPaths = IpBuckets, TablePaths = IpTable,
            HashSizeParameterPath = IpHashParam,
            TimeoutDirectory = "proc/sys/net/ipv4/netfilter", TimeoutPrefix = "ip_conntrack_",
            StatisticsPath = "proc/net/stat/ip_conntrack",
            MaxSysctlKey = "net.ipv4.netfilter.ip_conntrack_max",
            HashPersistence = HashPersistence.ModuleOptionOrBootParameter, HashResize = HashResize.ModuleParameter, HashShape = HashShape.PowerOfTwo, Sizing = SizingRule.ListCapped,
            BucketHeadPointers = 2, BucketRounding = BucketRounding.None, HashPerNamespace = false, SizesFromAllPhysicalPages = true,
            EstimatedEntrySize32 = 228, EstimatedEntrySize64 = 304,
        },
        new()
        {
            Id = "2.6-nf_conntrack", Description = "nf_conntrack 2.6.15 to 2.6.23, list buckets, ip_conntrack compatibility files",
            Tracker = Tracker.NfConntrack, From = new(2, 6, 15), Until = new(2, 6, 24),
            MaxPaths = NfMax, CountPaths = NfCount, BucketsPaths = NfBuckets, TablePaths = NfTable,
            HashSizeParameterPath = NfHashParam,
            TimeoutDirectory = "proc/sys/net/netfilter", TimeoutPrefix = "nf_conntrack_",
            StatisticsPath = "proc/net/stat/nf_conntrack",
            MaxSysctlKey = "net.netfilter.nf_conntrack_max",
            HashPersistence = HashPersistence.ModuleOptionOrBootParameter, HashResize = HashResize.ModuleParameter, HashShape = HashShape.PowerOfTwo, Sizing = SizingRule.ListCapped,
            BucketHeadPointers = 2, BucketRounding = BucketRounding.None, HashPerNamespace = false, SizesFromAllPhysicalPages = true,
            EstimatedEntrySize32 = 228, EstimatedEntrySize64 = 320,
        },
        new()
        {
            Id = "2.6.24-nf_conntrack", Description = "nf_conntrack 2.6.24 to 2.6.26, hlist buckets, max = 4 x buckets",
            Tracker = Tracker.NfConntrack, From = new(2, 6, 24), Until = new(2, 6, 27),
            MaxPaths = NfMax, CountPaths = NfCount, BucketsPaths = NfBuckets, TablePaths = NfTable,
            HashSizeParameterPath = NfHashParam,
            TimeoutDirectory = "proc/sys/net/netfilter", TimeoutPrefix = "nf_conntrack_",
            StatisticsPath = "proc/net/stat/nf_conntrack",
            MaxSysctlKey = "net.netfilter.nf_conntrack_max",
            HashPersistence = HashPersistence.ModuleOptionOrBootParameter, HashResize = HashResize.ModuleParameter, HashShape = HashShape.PowerOfTwo, Sizing = SizingRule.HlistCapped,
            BucketHeadPointers = 1, BucketRounding = BucketRounding.PageMultiple, HashPerNamespace = false, SizesFromAllPhysicalPages = true,
            EstimatedEntrySize32 = 200, EstimatedEntrySize64 = 312,
        },
        new()
        {
            // The 2.6.27 boundary is the network-namespace conversion of conntrack; 2.6.32 and 3.10 are read, the
            // exact first release is believed, not verified (KERNEL-FACTS §3).
            Id = "2.6.27-nf_conntrack", Description = "nf_conntrack 2.6.27 to 3.x, a hash table per network namespace, max = 4 x buckets",
            Tracker = Tracker.NfConntrack, From = new(2, 6, 27), Until = new(4, 0, 0),
            MaxPaths = NfMax, CountPaths = NfCount, BucketsPaths = NfBuckets, TablePaths = NfTable,
            HashSizeParameterPath = NfHashParam,
            TimeoutDirectory = "proc/sys/net/netfilter", TimeoutPrefix = "nf_conntrack_",
            StatisticsPath = "proc/net/stat/nf_conntrack",
            MaxSysctlKey = "net.netfilter.nf_conntrack_max",
            HashPersistence = HashPersistence.ModuleOptionOrBootParameter, HashResize = HashResize.ModuleParameter, HashShape = HashShape.PowerOfTwo, Sizing = SizingRule.HlistCapped,
            BucketHeadPointers = 1, BucketRounding = BucketRounding.PageMultipleAfterMax, HashPerNamespace = true, SizesFromAllPhysicalPages = false,
            EstimatedEntrySize32 = 200, EstimatedEntrySize64 = 320,
        },
        new()
        {
            Id = "4.0-nf_conntrack", Description = "nf_conntrack 4.0 to 4.6, 65536 buckets over 4 GiB, a hash table per network namespace",
            Tracker = Tracker.NfConntrack, From = new(4, 0, 0), Until = new(4, 7, 0),
            MaxPaths = NfMax, CountPaths = NfCount, BucketsPaths = NfBuckets, TablePaths = NfTable,
            HashSizeParameterPath = NfHashParam,
            TimeoutDirectory = "proc/sys/net/netfilter", TimeoutPrefix = "nf_conntrack_",
            StatisticsPath = "proc/net/stat/nf_conntrack",
            MaxSysctlKey = "net.netfilter.nf_conntrack_max",
            HashPersistence = HashPersistence.ModuleOptionOrBootParameter, HashResize = HashResize.ModuleParameter, HashShape = HashShape.PowerOfTwo, Sizing = SizingRule.HlistTiered,
            BucketHeadPointers = 1, BucketRounding = BucketRounding.PageMultipleAfterMax, HashPerNamespace = true, SizesFromAllPhysicalPages = false,
            EstimatedEntrySize32 = 200, EstimatedEntrySize64 = 312,
        },
        new()
        {
            Id = "4.7-nf_conntrack", Description = "nf_conntrack 4.7, one hash table shared by every network namespace",
            Tracker = Tracker.NfConntrack, From = new(4, 7, 0), Until = new(4, 8, 0),
            MaxPaths = NfMax, CountPaths = NfCount, BucketsPaths = NfBuckets, TablePaths = NfTable,
            HashSizeParameterPath = NfHashParam,
            TimeoutDirectory = "proc/sys/net/netfilter", TimeoutPrefix = "nf_conntrack_",
            StatisticsPath = "proc/net/stat/nf_conntrack",
            MaxSysctlKey = "net.netfilter.nf_conntrack_max",
            HashPersistence = HashPersistence.ModuleOptionOrBootParameter, HashResize = HashResize.ModuleParameter, HashShape = HashShape.PowerOfTwo, Sizing = SizingRule.HlistTiered,
            BucketHeadPointers = 1, BucketRounding = BucketRounding.PageMultiple, HashPerNamespace = false, SizesFromAllPhysicalPages = false,
            EstimatedEntrySize32 = 200, EstimatedEntrySize64 = 312,
        },
        new()
        {
            Id = "4.8-nf_conntrack", Description = "nf_conntrack 4.8, buckets sysctl writable, last with compatibility files",
            Tracker = Tracker.NfConntrack, From = new(4, 8, 0), Until = new(4, 9, 0),
            MaxPaths = NfMax, CountPaths = NfCount, BucketsPaths = NfBuckets, TablePaths = NfTable,
            HashSizeParameterPath = NfHashParam,
            TimeoutDirectory = "proc/sys/net/netfilter", TimeoutPrefix = "nf_conntrack_",
            StatisticsPath = "proc/net/stat/nf_conntrack",
            MaxSysctlKey = "net.netfilter.nf_conntrack_max",
            HashPersistence = HashPersistence.ModuleOptionBucketsSysctlOrBootParameter, HashResize = HashResize.ModuleParameterOrBucketsSysctl, HashShape = HashShape.PowerOfTwo, Sizing = SizingRule.HlistTiered,
            BucketHeadPointers = 1, BucketRounding = BucketRounding.PageMultiple, HashPerNamespace = false, SizesFromAllPhysicalPages = false,
            EstimatedEntrySize32 = 200, EstimatedEntrySize64 = 304,
        },
        new()
        {
            Id = "4.9-nf_conntrack", Description = "nf_conntrack 4.9 to 5.14, compatibility files removed",
            Tracker = Tracker.NfConntrack, From = new(4, 9, 0), Until = new(5, 15, 0),
            MaxPaths = NfMax, CountPaths = NfCount, BucketsPaths = NfBuckets, TablePaths = NfTable,
            HashSizeParameterPath = NfHashParam,
            TimeoutDirectory = "proc/sys/net/netfilter", TimeoutPrefix = "nf_conntrack_",
            StatisticsPath = "proc/net/stat/nf_conntrack",
            MaxSysctlKey = "net.netfilter.nf_conntrack_max",
            HashPersistence = HashPersistence.ModuleOptionBucketsSysctlOrBootParameter, HashResize = HashResize.ModuleParameterOrBucketsSysctl, HashShape = HashShape.PowerOfTwo, Sizing = SizingRule.HlistTiered,
            BucketHeadPointers = 1, BucketRounding = BucketRounding.PageMultiple, HashPerNamespace = false, SizesFromAllPhysicalPages = false,
            EstimatedEntrySize32 = 184, EstimatedEntrySize64 = 256,
        },
        new()
        {
            Id = "5.15-nf_conntrack", Description = "nf_conntrack 5.15 onward, max defaults to the bucket count",
            Tracker = Tracker.NfConntrack, From = new(5, 15, 0), Until = null,
            MaxPaths = NfMax, CountPaths = NfCount, BucketsPaths = NfBuckets, TablePaths = NfTable,
            HashSizeParameterPath = NfHashParam,
            TimeoutDirectory = "proc/sys/net/netfilter", TimeoutPrefix = "nf_conntrack_",
            StatisticsPath = "proc/net/stat/nf_conntrack",
            MaxSysctlKey = "net.netfilter.nf_conntrack_max",
            HashPersistence = HashPersistence.ModuleOptionBucketsSysctlOrBootParameter, HashResize = HashResize.ModuleParameterOrBucketsSysctl, HashShape = HashShape.PowerOfTwo, Sizing = SizingRule.Sanitized,
            BucketHeadPointers = 1, BucketRounding = BucketRounding.PageMultiple, HashPerNamespace = false, SizesFromAllPhysicalPages = false,
            EstimatedEntrySize32 = 184, EstimatedEntrySize64 = 256,
        },
    ];

    private static readonly KernelVersion V2_6 = new(2, 6, 0);
    private static readonly KernelVersion V6_18 = new(6, 18, 0);

    /// <summary>
    /// Timeout defaults by sysctl name, each for the versions the evidence covers (KERNEL-FACTS §2.4). Outside
    /// them the default is reported as unknown rather than guessed: udp_timeout_stream was 180 s up to 4.7 and
    /// is 120 s on 6.18, and the release that changed it is not confirmed.
    /// </summary>
    public static IReadOnlyList<TimeoutDefault> TimeoutDefaults { get; } =
    [
        new("tcp_timeout_established", 432000, null, null, "every tree read, 2.4.27 to 6.18 [CODE][LIVE]"),
        new("tcp_timeout_close_wait", 60, null, null, "every vanilla tree read [CODE][LIVE]"),
        new("tcp_timeout_syn_sent", 120, V2_6, null, "6.18 [LIVE]; unchanged in the 2.6 tcp_timeouts table"),
        new("tcp_timeout_syn_recv", 60, V2_6, null, "6.18 [LIVE]; unchanged in the 2.6 tcp_timeouts table"),
        new("tcp_timeout_fin_wait", 120, V2_6, null, "6.18 [LIVE]; unchanged in the 2.6 tcp_timeouts table"),
        new("tcp_timeout_last_ack", 30, V2_6, null, "6.18 [LIVE]; unchanged in the 2.6 tcp_timeouts table"),
        new("tcp_timeout_time_wait", 120, V2_6, null, "6.18 [LIVE]; unchanged in the 2.6 tcp_timeouts table"),
        new("tcp_timeout_close", 10, V2_6, null, "6.18 [LIVE]; unchanged in the 2.6 tcp_timeouts table"),
        new("tcp_timeout_max_retrans", 300, V2_6, null, "6.18 [LIVE]; since TCP window tracking (2.6)"),
        new("tcp_timeout_unacknowledged", 300, null, null, "6.18 [LIVE]; unchanged since it was added"),
        new("udp_timeout", 30, null, null, "2.6.11, 2.6.22, 4.7 [CODE]; 6.18 [LIVE]"),
        new("udp_timeout_stream", 180, null, new(4, 8, 0), "2.6.11, 2.6.22, 4.7 [CODE]"),
        new("udp_timeout_stream", 120, V6_18, null, "6.18 [LIVE]"),
        new("icmp_timeout", 30, null, null, "6.18 [LIVE]; unchanged since 2.4"),
        new("icmpv6_timeout", 30, null, null, "6.18 [LIVE]"),
        new("generic_timeout", 600, null, null, "6.18 [LIVE]; unchanged since 2.4"),
        new("gre_timeout", 30, null, null, "6.18 [LIVE]"),
        new("gre_timeout_stream", 180, null, null, "6.18 [LIVE]"),
        new("frag6_timeout", 60, null, null, "6.18 [LIVE]"),
        new("sctp_timeout_closed", 10, V6_18, null, "6.18 [LIVE]"),
        new("sctp_timeout_cookie_wait", 3, V6_18, null, "6.18 [LIVE]"),
        new("sctp_timeout_cookie_echoed", 3, V6_18, null, "6.18 [LIVE]"),
        new("sctp_timeout_established", 210, V6_18, null, "6.18 [LIVE]; 432000 in older documentation"),
        new("sctp_timeout_shutdown_sent", 3, V6_18, null, "6.18 [LIVE]"),
        new("sctp_timeout_shutdown_recd", 3, V6_18, null, "6.18 [LIVE]"),
        new("sctp_timeout_shutdown_ack_sent", 3, V6_18, null, "6.18 [LIVE]"),
        new("sctp_timeout_heartbeat_sent", 30, V6_18, null, "6.18 [LIVE]"),
    ];

    /// <summary>The default of a timeout sysctl (name after the tracker prefix) on a kernel version; null when not known.</summary>
    public static TimeoutDefault? FindTimeoutDefault(string name, KernelVersion? version) =>
        version is { } v ? TimeoutDefaults.FirstOrDefault(d => d.Name == name && d.Covers(v)) : null;

    /// <summary>The era of a tracker at a version. Versions outside every row of that tracker get its nearest row.</summary>
    public static KernelEra Find(Tracker tracker, KernelVersion version)
    {
        KernelEra? first = null;
        KernelEra? older = null;
        foreach (KernelEra era in Eras.Where(e => e.Tracker == tracker))
        {
            if (era.Contains(version))
            {
                return era;
            }

            first ??= era;
            if (era.From <= version)
            {
                older = era;
            }
        }

        return older ?? first!;
    }

    /// <summary>The era the tracker is in when the version is unknown: its newest row.</summary>
    public static KernelEra Newest(Tracker tracker) => Eras.Last(e => e.Tracker == tracker);

    /// <summary>The tracker a kernel of this version uses when nothing under the root tells (the module is not loaded).</summary>
    public static Tracker ExpectedTracker(KernelVersion version) =>
        version < new KernelVersion(2, 6, 20) ? Tracker.IpConntrack : Tracker.NfConntrack;

    public static string TrackerName(Tracker tracker) => tracker == Tracker.IpConntrack ? "ip_conntrack" : "nf_conntrack";

    /// <summary>"proc/sys/net/netfilter/nf_conntrack_max" to "net.netfilter.nf_conntrack_max"; null for non-sysctl paths.</summary>
    public static string? SysctlKey(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        const string prefix = "proc/sys/";
        return path.StartsWith(prefix, StringComparison.Ordinal) ? path[prefix.Length..].Replace('/', '.') : null;
    }

    /// <summary>"net.netfilter.nf_conntrack_max" to "proc/sys/net/netfilter/nf_conntrack_max".</summary>
    public static string SysctlPath(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        return "proc/sys/" + key.Replace('.', '/');
    }
}
