namespace ConntrackTuning.Engine;

/// <summary>
/// Every error id the module can emit, in one place. Each id is provoked by at least one test, and no code emits an
/// id from elsewhere: ErrorIdTests checks both, with the code and the tests read as text.
/// </summary>
public static class ErrorIds
{
    /// <summary>-Root names a folder that does not exist or is not a folder.</summary>
    public const string RootNotFound = "RootNotFound";

    /// <summary>-Root holds a character no Linux path can contain (NUL).</summary>
    public const string RootPathInvalid = "RootPathInvalid";

    /// <summary>The root's write lock is not private to root: its folder or file is owned by, or open to, another user.</summary>
    public const string WriteLockUnsafe = "WriteLockUnsafe";

    /// <summary>Neither nf_conntrack nor ip_conntrack is present under the root.</summary>
    public const string ConntrackNotLoaded = "ConntrackNotLoaded";

    /// <summary>-Root has no proc/ at all (a mounted disk image): there is no running kernel to read values from.</summary>
    public const string NoRunningKernel = "NoRunningKernel";

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

    /// <summary>An entry piped to Remove-ConntrackEntry was read in another network namespace than the -NetworkNamespace typed.</summary>
    public const string EntryNamespaceMismatch = "EntryNamespaceMismatch";

    /// <summary>A change to the running system was asked for by a user who is not root.</summary>
    public const string RootRequired = "RootRequired";

    /// <summary>Max or hash size changed from a non-initial network namespace (a container): they belong to the host.</summary>
    public const string HostOwnedSetting = "HostOwnedSetting";

    /// <summary>The kernel file of a setting is read-only here for a reason other than the namespace (mode, read-only /sys).</summary>
    public const string SettingReadOnly = "SettingReadOnly";

    /// <summary>The era's hash table cannot be resized at run time (2.4, 2.6 before 2.6.14): only -PersistOnly applies.</summary>
    public const string HashSizeNotResizable = "HashSizeNotResizable";

    /// <summary>A built-in tracker before 4.8 can keep a hash size across reboots only on the kernel command line.</summary>
    public const string HashSizeNeedsKernelCommandLine = "HashSizeNeedsKernelCommandLine";

    /// <summary>A hash size whose page-rounded value passes the kernel's bound of 268,435,455 buckets.</summary>
    public const string HashSizeOutOfRange = "HashSizeOutOfRange";

    /// <summary>A max below the current entry count (new connections would be dropped at once) without -Force.</summary>
    public const string MaxBelowCount = "MaxBelowCount";

    /// <summary>A max whose full table would need more memory than the machine has, without -Force.</summary>
    public const string MaxExceedsMemory = "MaxExceedsMemory";

    /// <summary>The timeout asked for (protocol and state) does not exist on this kernel.</summary>
    public const string TimeoutNotFound = "TimeoutNotFound";

    /// <summary>The kernel has no timeout sysctls at all (before 2.4.23, or the tracker is not loaded).</summary>
    public const string TimeoutsNotAvailable = "TimeoutsNotAvailable";

    /// <summary>A persistence file holds something that is not its format (binary data, a line that is no assignment).</summary>
    public const string PersistenceFileInvalid = "PersistenceFileInvalid";

    /// <summary>A persistence file is a folder, unreadable or not a regular file.</summary>
    public const string PersistenceFileUnreadable = "PersistenceFileUnreadable";

    /// <summary>A file applied later at boot sets the same key to another value, so the persisted value would not win (without -Force).</summary>
    public const string PersistenceOverridden = "PersistenceOverridden";

    /// <summary>A write would follow a symbolic link out of its folder or out of the root.</summary>
    public const string UnsafeSymbolicLink = "UnsafeSymbolicLink";

    /// <summary>The kernel refused the value written (EINVAL, ENOMEM, ERANGE).</summary>
    public const string ValueRejectedByKernel = "ValueRejectedByKernel";

    /// <summary>A configuration or value file could not be written (I/O error, read-only file system, owner not kept).</summary>
    public const string FileWriteFailed = "FileWriteFailed";

    /// <summary>Another invocation held the root's write lock for longer than the wait allows.</summary>
    public const string WriteLockTimeout = "WriteLockTimeout";

    /// <summary>The folder Export-ConntrackMetric -Path should write into does not exist (it is never created: a typo would hide the metrics from node_exporter).</summary>
    public const string MetricFolderNotFound = "MetricFolderNotFound";

    /// <summary>Export-ConntrackMetric -Path names a folder rather than a file.</summary>
    public const string MetricPathIsFolder = "MetricPathIsFolder";

    /// <summary>Export-ConntrackMetric -Path names something that is not a file-system path (a registry-like PowerShell drive such as Env: or Variable:).</summary>
    public const string MetricPathInvalid = "MetricPathInvalid";

    /// <summary>The metrics file or its temporary file cannot be written in the folder for lack of permission.</summary>
    public const string MetricWriteDenied = "MetricWriteDenied";

    /// <summary>A run-time change of the table (delete, flush) was asked under a -Root that is not the running system.</summary>
    public const string NotLiveSystem = "NotLiveSystem";

    /// <summary>The kernel refused to delete one or more entries for a reason other than their being gone already.</summary>
    public const string EntryDeleteFailed = "EntryDeleteFailed";

    /// <summary>A -Root holds no proc/net/nf_conntrack_expect (and the live table cannot be read over ctnetlink).</summary>
    public const string ExpectationTableNotFound = "ExpectationTableNotFound";
    /// <summary>-NetworkNamespace names no network namespace on this host (no such ip netns name, inode, process or nsfs path).</summary>
    public const string NamespaceNotFound = "NamespaceNotFound";

    /// <summary>-NetworkNamespace was given with a -Root other than "/": only the running system has namespaces to enter.</summary>
    public const string NamespaceNeedsLiveRoot = "NamespaceNeedsLiveRoot";

    /// <summary>The network namespace could not be entered (setns needs root, or it vanished meanwhile).</summary>
    public const string NamespaceEnterFailed = "NamespaceEnterFailed";

    /// <summary>-Persist or -PersistOnly with -NetworkNamespace: the boot files set the initial namespace only.</summary>
    public const string NamespaceCannotPersist = "NamespaceCannotPersist";
    /// <summary>-KernelRelease names a kernel that is not installed in the image (lib/modules, usr/lib/modules).</summary>
    public const string KernelReleaseNotInstalled = "KernelReleaseNotInstalled";

    /// <summary>Get- or Set-ConntrackSetting was given a name this kernel has no setting for.</summary>
    public const string SettingNotFound = "SettingNotFound";

    /// <summary>Set-ConntrackSetting was given a value outside the range the setting takes.</summary>
    public const string SettingValueInvalid = "SettingValueInvalid";

    /// <summary>Get-ConntrackEvent or Watch-Conntrack was given a -Root that is not the running system: only the running kernel sends events.</summary>
    public const string EventsNeedLiveSystem = "EventsNeedLiveSystem";

    /// <summary>net.netfilter.nf_conntrack_events is 0 in this network namespace, so the kernel sends no events.</summary>
    public const string ConntrackEventsDisabled = "ConntrackEventsDisabled";

    /// <summary>Watch-Conntrack -Interval is shorter than 0.1 s.</summary>
    public const string InvalidWatchInterval = "InvalidWatchInterval";

    /// <summary>Get-ConntrackEvent or Watch-Conntrack was given (or piped) more than one network namespace: a listener runs in one.</summary>
    public const string NamespaceOneAtATime = "NamespaceOneAtATime";

    /// <summary>Get-ConntrackBpfMap -Path or -LiteralPath names no folder (a wildcard that matches nothing, a path that does not exist).</summary>
    public const string BpfPathNotFound = "BpfPathNotFound";
}
