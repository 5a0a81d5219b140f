namespace ConntrackTuning.Engine.Statistics;

/// <summary>
/// The conntrack statistics of one CPU, whichever source they came from: the procfs file
/// (proc/net/stat/nf_conntrack, one row per CPU) or ctnetlink (IPCTNL_MSG_CT_GET_STATS_CPU). Keys are the
/// procfs column names of the running kernel (entries, found, invalid, insert, insert_failed, drop,
/// early_drop, icmp_error, search_restart, clashres, chainlength, ...); a netlink source translates its
/// attribute names to these (error to icmp_error, clash_resolve to clashres, chaintoolong to chainlength) so
/// both sources give the same keys. Unknown columns are carried through under their own names.
/// </summary>
internal sealed record CpuCounters(int Cpu, IReadOnlyDictionary<string, long> Values);
