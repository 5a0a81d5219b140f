using ConntrackTuning.Engine.Statistics;

namespace ConntrackTuning;

/// <summary>
/// The kernel's conntrack counters for one network namespace: by default summed over every CPU, with
/// -PerCpu one object per CPU. Output of Get-ConntrackStatistic. Each property is named after its column
/// in proc/net/stat/nf_conntrack (or attribute of 'conntrack -S'); a column this kernel does not have is
/// null, and columns this module does not know are in <see cref="Other"/>.
/// </summary>
public sealed class ConntrackStatistic
{
    /// <summary>
    /// One counter: its property, the kernel's names for it (the procfs column, then the 'conntrack -S' attribute
    /// where that differs), how it is read from an object, and what it counts (also the help of its metric).
    /// </summary>
    internal sealed record Column(string Name, string[] Keys, Func<ConntrackStatistic, long?> Value, string Meaning);

    /// <summary>Every column this module knows, in the order Export-ConntrackMetric lists them.</summary>
    internal static readonly Column[] Columns =
    [
        new("Entries", ["entries"], s => s.Entries, "entries in this namespace's table, repeated by every CPU row"),
        new("Found", ["found"], s => s.Found, "lookups that found an existing entry (few current kernels count them)"),
        new("Invalid", ["invalid"], s => s.Invalid, "packets that could not be tracked; they pass marked INVALID and the ruleset decides"),
        new("Ignore", ["ignore"], s => s.Ignore, "packets already tracked or not to be tracked (always 0 on current kernels)"),
        new("Insert", ["insert"], s => s.Insert, "entries inserted (on current kernels only those created over ctnetlink)"),
        new("InsertFailed", ["insert_failed"], s => s.InsertFailed, "new entries that clashed with one inserted at the same moment (parallel UDP such as DNS under NAT); usually a dropped packet"),
        new("Drop", ["drop"], s => s.Drop, "packets dropped because no entry could be created; the table-full drops are counted here"),
        new("EarlyDrop", ["early_drop"], s => s.EarlyDrop, "unassured entries evicted to make room in a full table"),
        new("IcmpError", ["icmp_error", "error"], s => s.IcmpError, "packets refused on the protocol's error path"),
        new("SearchRestart", ["search_restart"], s => s.SearchRestart, "lookups restarted because the table changed under them (from 2.6.35)"),
        new("ClashResolve", ["clashres", "clash_resolve"], s => s.ClashResolve, "insert clashes resolved without a drop (from 5.10)"),
        new("ChainTooLong", ["chainlength", "chaintoolong"], s => s.ChainTooLong, "inserts refused because a hash chain grew too long (from 5.15)"),
        new("Searched", ["searched"], s => s.Searched, "lookups made (kernels before 5.10)"),
        new("New", ["new"], s => s.New, "entries created (always 0 on current kernels)"),
        new("Delete", ["delete"], s => s.Delete, "entries destroyed (always 0 on current kernels)"),
        new("DeleteList", ["delete_list"], s => s.DeleteList, "entries unlinked (kernels before 5.15)"),
        new("ExpectNew", ["expect_new"], s => s.ExpectNew, "expectations created (helpers such as FTP or SIP)"),
        new("ExpectCreate", ["expect_create"], s => s.ExpectCreate, "expectations set up"),
        new("ExpectDelete", ["expect_delete"], s => s.ExpectDelete, "expectations removed"),
    ];

    private static readonly HashSet<string> KnownKeys = new(Columns.SelectMany(c => c.Keys), StringComparer.Ordinal);

    private ConntrackStatistic() { }

    /// <summary>The CPU of this row with -PerCpu; null on the sum over all CPUs.</summary>
    public int? Cpu { get; private init; }

    /// <summary>How many CPU rows the values cover: all of them on the sum, 1 with -PerCpu.</summary>
    public int CpuCount { get; private init; }

    /// <summary>entries: the entries in this namespace's table. Every CPU row repeats it, so it is never summed.</summary>
    public long? Entries { get; private init; }

    /// <summary>found: lookups that found an existing entry (counted by few current kernels).</summary>
    public long? Found { get; private init; }

    /// <summary>invalid: packets that could not be tracked; they pass, marked INVALID, and the ruleset decides.</summary>
    public long? Invalid { get; private init; }

    /// <summary>insert: entries inserted; on current kernels only those created over ctnetlink.</summary>
    public long? Insert { get; private init; }

    /// <summary>insert_failed: a new entry clashed with one inserted at the same moment (parallel UDP such as DNS under NAT); usually a drop.</summary>
    public long? InsertFailed { get; private init; }

    /// <summary>drop: packets dropped because no entry could be created; the table-full drops are counted here.</summary>
    public long? Drop { get; private init; }

    /// <summary>early_drop: unassured entries evicted to make room in a full table.</summary>
    public long? EarlyDrop { get; private init; }

    /// <summary>icmp_error (error in 'conntrack -S'): packets refused on the protocol's error path.</summary>
    public long? IcmpError { get; private init; }

    /// <summary>search_restart: lookups restarted because the table moved under them (resizes, concurrent deletes). From 2.6.35.</summary>
    public long? SearchRestart { get; private init; }

    /// <summary>clashres (clash_resolve in 'conntrack -S'): clashes resolved without a drop. From 5.10.</summary>
    public long? ClashResolve { get; private init; }

    /// <summary>chainlength (chaintoolong in 'conntrack -S'): inserts refused because a hash chain grew too long. From 5.15.</summary>
    public long? ChainTooLong { get; private init; }

    /// <summary>searched: lookups made (kernels before 5.10; zero on later ones until the column was reused).</summary>
    public long? Searched { get; private init; }

    /// <summary>new: entries created (zero on current kernels).</summary>
    public long? New { get; private init; }

    /// <summary>ignore: packets already tracked or not to be tracked (zero on current kernels).</summary>
    public long? Ignore { get; private init; }

    /// <summary>delete: entries destroyed (zero on current kernels).</summary>
    public long? Delete { get; private init; }

    /// <summary>delete_list: entries unlinked (kernels before 5.15).</summary>
    public long? DeleteList { get; private init; }

    public long? ExpectNew { get; private init; }

    public long? ExpectCreate { get; private init; }

    public long? ExpectDelete { get; private init; }

    /// <summary>Columns this module does not know, under the kernel's own names, so nothing a new kernel adds is lost.</summary>
    public IReadOnlyDictionary<string, long> Other { get; private init; } = new Dictionary<string, long>();

    /// <summary>The file (or netlink request) the counters came from.</summary>
    public string Source { get; private init; } = "";

    public string Tracker { get; private init; } = "";

    /// <summary>The inode of the network namespace whose counters these are (every namespace has its own); null when unknown.</summary>
    public string? NetworkNamespace { get; private init; }

    public bool IsInitialNamespace { get; private init; }

    public string Root { get; private init; } = "/";

    /// <summary>One object with every counter summed over the CPUs, except entries, which every row repeats.</summary>
    internal static ConntrackStatistic Sum(CpuStatistics statistics, ConntrackKernel kernel)
    {
        ArgumentNullException.ThrowIfNull(statistics);
        var sums = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (CpuCounters cpu in statistics.Cpus)
        {
            foreach ((string key, long value) in cpu.Values)
            {
                if (key == "entries")
                {
                    sums.TryAdd(key, value);
                }
                else
                {
                    sums[key] = sums.TryGetValue(key, out long sum) ? unchecked(sum + value) : value;
                }
            }
        }

        return Build(sums, null, statistics.Cpus.Count, statistics.Source, kernel);
    }

    /// <summary>One object per CPU, in the order the source gave them.</summary>
    internal static IEnumerable<ConntrackStatistic> PerCpu(CpuStatistics statistics, ConntrackKernel kernel)
    {
        ArgumentNullException.ThrowIfNull(statistics);
        return statistics.Cpus.Select(c => Build(c.Values, c.Cpu, 1, statistics.Source, kernel));
    }

    private static ConntrackStatistic Build(IReadOnlyDictionary<string, long> values, int? cpu, int cpuCount, string source, ConntrackKernel kernel)
    {
        long? Get(string name)
        {
            foreach (Column column in Columns)
            {
                if (column.Name == name)
                {
                    foreach (string key in column.Keys)
                    {
                        if (values.TryGetValue(key, out long v))
                        {
                            return v;
                        }
                    }
                }
            }

            return null;
        }

        var other = new SortedDictionary<string, long>(StringComparer.Ordinal);
        foreach ((string key, long value) in values)
        {
            if (!KnownKeys.Contains(key))
            {
                other[key] = value;
            }
        }

        return new ConntrackStatistic
        {
            Cpu = cpu,
            CpuCount = cpuCount,
            Entries = Get(nameof(Entries)),
            Found = Get(nameof(Found)),
            Invalid = Get(nameof(Invalid)),
            Insert = Get(nameof(Insert)),
            InsertFailed = Get(nameof(InsertFailed)),
            Drop = Get(nameof(Drop)),
            EarlyDrop = Get(nameof(EarlyDrop)),
            IcmpError = Get(nameof(IcmpError)),
            SearchRestart = Get(nameof(SearchRestart)),
            ClashResolve = Get(nameof(ClashResolve)),
            ChainTooLong = Get(nameof(ChainTooLong)),
            Searched = Get(nameof(Searched)),
            New = Get(nameof(New)),
            Ignore = Get(nameof(Ignore)),
            Delete = Get(nameof(Delete)),
            DeleteList = Get(nameof(DeleteList)),
            ExpectNew = Get(nameof(ExpectNew)),
            ExpectCreate = Get(nameof(ExpectCreate)),
            ExpectDelete = Get(nameof(ExpectDelete)),
            Other = other,
            Source = source,
            Tracker = kernel.Tracker,
            NetworkNamespace = kernel.NetworkNamespace,
            IsInitialNamespace = kernel.IsInitialNamespace,
            Root = kernel.Root,
        };
    }
}
