namespace ConntrackTuning.Engine;

/// <summary>
/// Every error id the module can emit, in one place. Each id is provoked by at least one test; adding an id
/// here without a test that provokes it is a review finding.
/// </summary>
public static class ErrorIds
{
    /// <summary>-Root names a folder that does not exist or is not a folder.</summary>
    public const string RootNotFound = "RootNotFound";

    /// <summary>Neither nf_conntrack nor ip_conntrack is present under the root.</summary>
    public const string ConntrackNotLoaded = "ConntrackNotLoaded";

    /// <summary>A /proc or /sys value file exists but holds nothing.</summary>
    public const string ValueFileEmpty = "ValueFileEmpty";

    /// <summary>A /proc or /sys value file holds something that is not a whole number.</summary>
    public const string ValueFileNotNumeric = "ValueFileNotNumeric";

    /// <summary>A file could not be read for a reason other than its absence (I/O error, permission).</summary>
    public const string FileReadFailed = "FileReadFailed";

    /// <summary>A kernel version given as a parameter is not of the form 2.6.32 or 5.15.0-91-generic, or predates conntrack (2.4).</summary>
    public const string InvalidKernelVersion = "InvalidKernelVersion";

    /// <summary>No source of the per-CPU statistics: the procfs file is missing (CONFIG_NF_CONNTRACK_PROCFS=n) or was not captured.</summary>
    public const string StatisticsUnavailable = "StatisticsUnavailable";

    /// <summary>The statistics file exists but has no header of column names or no readable CPU row.</summary>
    public const string StatisticsMalformed = "StatisticsMalformed";

    /// <summary>A log file given to -Path does not exist.</summary>
    public const string LogFileNotFound = "LogFileNotFound";

    /// <summary>The live kernel log cannot be read (kernel.dmesg_restrict without root) and no journal could stand in.</summary>
    public const string KernelLogUnreadable = "KernelLogUnreadable";

    /// <summary>No kernel log at all under -Root: no var/log kernel file, journal or dmesg capture.</summary>
    public const string KernelLogNotFound = "KernelLogNotFound";

    /// <summary>-Since is later than -Until, so no time can satisfy both.</summary>
    public const string InvalidTimeRange = "InvalidTimeRange";

    /// <summary>A health threshold given as a parameter is out of range (warning above critical, or not between 0 and 100).</summary>
    public const string InvalidThreshold = "InvalidThreshold";
    /// <summary>A sizing input (memory, entry size, reserve, pointer bits, page size, hash size) is zero, negative or impossible.</summary>
    public const string InvalidSizingInput = "InvalidSizingInput";

    /// <summary>The memory reserved for everything but conntrack leaves nothing for the table (FirewallOnly).</summary>
    public const string ReserveExceedsMemory = "ReserveExceedsMemory";

    /// <summary>No MemTotal under the root and no -MemoryBytes: the sizing has no RAM to start from.</summary>
    public const string MemorySizeUnknown = "MemorySizeUnknown";
    /// <summary>Reading the live table needs CAP_NET_ADMIN (ctnetlink) and the procfs table file is absent or unreadable.</summary>
    public const string NetlinkPermissionDenied = "NetlinkPermissionDenied";

    /// <summary>The kernel offers no ctnetlink (nf_conntrack_netlink missing) and no procfs table file to fall back to.</summary>
    public const string NetlinkUnavailable = "NetlinkUnavailable";

    /// <summary>A ctnetlink request failed or its reply broke the protocol (damaged, truncated, lost messages).</summary>
    public const string NetlinkFailed = "NetlinkFailed";

    /// <summary>A -Root tree holds no copy of the table (proc/net/nf_conntrack or proc/net/ip_conntrack).</summary>
    public const string EntryTableNotFound = "EntryTableNotFound";

    /// <summary>A file given to -Path does not exist or cannot be read.</summary>
    public const string EntryFileNotFound = "EntryFileNotFound";

    /// <summary>A file given to -Path holds lines, but none is a conntrack entry in procfs or conntrack -L form.</summary>
    public const string EntryFormatUnknown = "EntryFormatUnknown";

    /// <summary>A Get-ConntrackEntry filter value (protocol, state, address, port, mark, zone, family) is not valid.</summary>
    public const string InvalidEntryFilter = "InvalidEntryFilter";

    /// <summary>Only for exceptions the engine did not anticipate; a test asserts none reaches the user.</summary>
    public const string Unexpected = "Unexpected";
}
