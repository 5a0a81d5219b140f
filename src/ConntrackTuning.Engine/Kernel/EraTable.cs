namespace ConntrackTuning.Engine.Kernel;

/// <summary>Kernel history as data. Adding an era or a vendor quirk is adding a row here.</summary>
internal static class EraTable
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

    /// <summary>
    /// The buckets sysctl a 4.8 or later kernel also takes at boot (HashPersistence.ModuleOptionBucketsSysctlOrBootParameter):
    /// what the next boot is read from and what Set-ConntrackHashSize persists there.
    /// </summary>
    public static readonly string BucketsSysctlKey = SysctlKey(NfBuckets[0])!;
    private static readonly string[] NfTable = ["proc/net/nf_conntrack", "proc/net/ip_conntrack"];
    private const string NfHashParam = "sys/module/nf_conntrack/parameters/hashsize";

    /// <summary>Every era, oldest first, ip_conntrack rows before nf_conntrack rows.</summary>
    public static IReadOnlyList<KernelEra> Eras { get; } = BuildEras();

    /// <summary>
    /// The first row is written out in full; every later row is the one before it with what changed at its boundary
    /// (the first nf_conntrack row, the ip_conntrack of its day), so a row says exactly what its version changed.
    /// </summary>
    private static KernelEra[] BuildEras()
    {
        KernelEra ip2_4_0 = new()
        {
            Id = "2.4.0", Description = "ip_conntrack 2.4.0, additive hash, no size caps",
            Tracker = Tracker.IpConntrack, From = V2_4_0, Until = new(2, 4, 1),
            MaxPaths = IpMax24, CountPaths = [], BucketsPaths = IpBuckets, TablePaths = IpTable,
            MaxSysctlKey = "net.ipv4.ip_conntrack_max",
            HashPersistence = HashPersistence.LoadTimeOnly, HashResize = HashResize.None, HashShape = HashShape.Prime, Sizing = SizingRule.ListUncapped,
            BucketHeadPointers = 2, BucketRounding = BucketRounding.None, HashPerNamespace = false, SizesFromAllPhysicalPages = true,
            EstimatedEntrySize32 = 300, EstimatedEntrySize64 = 480, ExpectationsInTable = true,
        };
        KernelEra ip2_4Additive = ip2_4_0 with
        {
            Id = "2.4-additive", Description = "ip_conntrack 2.4 before 2.4.21, additive hash",
            From = new(2, 4, 1), Until = new(2, 4, 21),
            Sizing = SizingRule.ListCapped,
        };
        KernelEra ip2_4Jenkins = ip2_4Additive with
        {
            Id = "2.4-jenkins", Description = "ip_conntrack 2.4.21 to 2.4.22, Jenkins hash, no netfilter sysctl folder",
            From = new(2, 4, 21), Until = new(2, 4, 23),
            HashShape = HashShape.PowerOfTwo,
        };
        KernelEra ip2_4Netfilter = ip2_4Jenkins with
        {
            Id = "2.4-netfilter", Description = "ip_conntrack 2.4.23 and later 2.4, sysctls under net.ipv4.netfilter",
            From = new(2, 4, 23), Until = new(2, 5, 0),
            MaxPaths = IpMax,
            TimeoutDirectory = "proc/sys/net/ipv4/netfilter", TimeoutPrefix = "ip_conntrack_",
            MaxSysctlKey = "net.ipv4.netfilter.ip_conntrack_max",
        };
        KernelEra ip2_6 = ip2_4Netfilter with
        {
            Id = "2.6-ip_conntrack", Description = "ip_conntrack 2.6 before 2.6.14, hash size fixed after load",
            From = new(2, 5, 0), Until = new(2, 6, 14),
            CountPaths = IpCount,
            HashSizeParameterPath = IpHashParam,
            StatisticsPath = "proc/net/stat/ip_conntrack",
            HashPersistence = HashPersistence.ModuleOptionOrBootParameter,
            EstimatedEntrySize64 = 400, ExpectationsInTable = false,
        };
        KernelEra ip2_6_14 = ip2_6 with
        {
            Id = "2.6.14-ip_conntrack", Description = "ip_conntrack 2.6.14 to 2.6.21 (RHEL 5), hash size writable in sysfs",
            From = new(2, 6, 14), Until = new(2, 6, 22),
            HashResize = HashResize.ModuleParameter,
            EstimatedEntrySize32 = 228, EstimatedEntrySize64 = 304,
        };

        // nf_conntrack began as ip_conntrack's tracker under new names and paths (layer-3 independent); the hash,
        // its sizing and how it is resized and persisted were those of ip_conntrack at the time.
        KernelEra nf2_6 = ip2_6_14 with
        {
            Id = "2.6-nf_conntrack", Description = "nf_conntrack 2.6.15 to 2.6.23, list buckets, ip_conntrack compatibility files",
            Tracker = Tracker.NfConntrack, From = new(2, 6, 15), Until = new(2, 6, 24),
            MaxPaths = NfMax, CountPaths = NfCount, BucketsPaths = NfBuckets, TablePaths = NfTable,
            HashSizeParameterPath = NfHashParam,
            TimeoutDirectory = "proc/sys/net/netfilter", TimeoutPrefix = "nf_conntrack_",
            StatisticsPath = "proc/net/stat/nf_conntrack",
            MaxSysctlKey = "net.netfilter.nf_conntrack_max",
            EstimatedEntrySize64 = 320,
        };
        KernelEra nf2_6_24 = nf2_6 with
        {
            Id = "2.6.24-nf_conntrack", Description = "nf_conntrack 2.6.24 to 2.6.26, hlist buckets, max = 4 x buckets",
            From = new(2, 6, 24), Until = new(2, 6, 27),
            Sizing = SizingRule.HlistCapped, BucketHeadPointers = 1, BucketRounding = BucketRounding.PageMultiple,
            EstimatedEntrySize32 = 200, EstimatedEntrySize64 = 312,
        };

        // The 2.6.27 boundary is the network-namespace conversion of conntrack; 2.6.32 and 3.10 are read, the
        // exact first release is believed, not verified (KERNEL-FACTS §3).
        KernelEra nf2_6_27 = nf2_6_24 with
        {
            Id = "2.6.27-nf_conntrack", Description = "nf_conntrack 2.6.27 to 3.x, a hash table per network namespace, max = 4 x buckets",
            From = new(2, 6, 27), Until = new(4, 0, 0),
            BucketRounding = BucketRounding.PageMultipleAfterMax, HashPerNamespace = true, PerNamespaceTables = true, SizesFromAllPhysicalPages = false,
            EstimatedEntrySize64 = 320,
        };
        KernelEra nf4_0 = nf2_6_27 with
        {
            Id = "4.0-nf_conntrack", Description = "nf_conntrack 4.0 to 4.6, 65536 buckets over 4 GiB, a hash table per network namespace",
            From = new(4, 0, 0), Until = new(4, 7, 0),
            Sizing = SizingRule.HlistTiered,
            EstimatedEntrySize64 = 312,
        };
        KernelEra nf4_7 = nf4_0 with
        {
            Id = "4.7-nf_conntrack", Description = "nf_conntrack 4.7, one hash table shared by every network namespace",
            From = new(4, 7, 0), Until = new(4, 8, 0),
            BucketRounding = BucketRounding.PageMultiple, HashPerNamespace = false,
        };
        KernelEra nf4_8 = nf4_7 with
        {
            Id = "4.8-nf_conntrack", Description = "nf_conntrack 4.8, buckets sysctl writable, last with compatibility files",
            From = new(4, 8, 0), Until = new(4, 9, 0),
            HashPersistence = HashPersistence.ModuleOptionBucketsSysctlOrBootParameter, HashResize = HashResize.ModuleParameterOrBucketsSysctl,
            EstimatedEntrySize64 = 304,
        };
        KernelEra nf4_9 = nf4_8 with
        {
            Id = "4.9-nf_conntrack", Description = "nf_conntrack 4.9 to 5.14, compatibility files removed",
            From = new(4, 9, 0), Until = new(5, 15, 0),
            EstimatedEntrySize32 = 184, EstimatedEntrySize64 = 256,
        };
        KernelEra nf5_15 = nf4_9 with
        {
            Id = "5.15-nf_conntrack", Description = "nf_conntrack 5.15 onward, max defaults to the bucket count",
            From = new(5, 15, 0), Until = null,
            Sizing = SizingRule.Sanitized,
        };

        return [ip2_4_0, ip2_4Additive, ip2_4Jenkins, ip2_4Netfilter, ip2_6, ip2_6_14, nf2_6, nf2_6_24, nf2_6_27, nf4_0, nf4_7, nf4_8, nf4_9, nf5_15];
    }

    private static readonly KernelVersion V2_6 = new(2, 6, 0);
    private static readonly KernelVersion V6_18 = new(6, 18, 0);

    /// <summary>
    /// The TCP established timeout, 5 days, in every tree read (2.4.27 to 6.18): the one default the health checks
    /// judge a setting against, on a running kernel and on an image whose version may be unknown.
    /// </summary>
    public const int TcpEstablishedDefaultSeconds = 432000;

    /// <summary>
    /// Timeout defaults by sysctl name, each for the versions the evidence covers (KERNEL-FACTS §2.4). Outside
    /// them the default is reported as unknown rather than guessed: udp_timeout_stream was 180 s up to 4.7 and
    /// is 120 s on 6.18, and the release that changed it is not confirmed.
    /// </summary>
    public static IReadOnlyList<TimeoutDefault> TimeoutDefaults { get; } =
    [
        new("tcp_timeout_established", TcpEstablishedDefaultSeconds, null, null, "every tree read, 2.4.27 to 6.18 [CODE][LIVE]"),
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
