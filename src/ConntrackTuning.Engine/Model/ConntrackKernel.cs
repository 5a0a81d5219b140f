using ConntrackTuning.Engine.Kernel;

namespace ConntrackTuning;

/// <summary>
/// What the engine found out about the kernel under a root: release, tracker, era, memory, namespace, the
/// files that hold each limit, and what can be changed at run time. Output of Get-ConntrackKernel.
/// </summary>
public sealed class ConntrackKernel
{
    internal ConntrackKernel(SystemRoot root, KernelEra era, KernelVersion? version, Tracker tracker)
    {
        SystemRoot = root;
        EraRow = era;
        Version = version;
        TrackerKind = tracker;
        Root = root.Path;
        Era = era.Id;
        EraDescription = era.Description;
        Tracker = EraTable.TrackerName(tracker);
        HashShape = era.HashShape.ToString();
    }

    /// <summary>The folder read: "/" for this machine, otherwise a sosreport, image or fixture.</summary>
    public string Root { get; }

    /// <summary>The release as uname -r prints it, such as 5.15.0-91-generic; null when no file under the root tells.</summary>
    public string? KernelRelease { get; internal set; }

    /// <summary>The numeric version, such as 5.15.0; null when unknown.</summary>
    public string? KernelVersion => Version?.ToString();

    /// <summary>The file the release was read from; on an image, the installed kernel's module folder and why it was chosen.</summary>
    public string? KernelReleaseSource { get; internal set; }

    /// <summary>
    /// Live (the running system), Capture (a sosreport or saved tree: proc/ or sys/ files, but no kernel behind them)
    /// or Image (a disk image, container image or chroot: configuration and installed kernels, nothing captured).
    /// </summary>
    public string RootKind { get; internal set; } = "Live";

    /// <summary>Images: the kernels installed under lib/modules and usr/lib/modules, newest first.</summary>
    public IReadOnlyList<string> InstalledKernelReleases { get; internal set; } = [];

    /// <summary>Images: the file and line that tell how the installed kernel builds the tracker (modules.dep, modules.builtin, its config).</summary>
    public string? ModuleStateSource { get; internal set; }

    /// <summary>Images: CONFIG_NF_CONNTRACK_PROCFS of the installed kernel (false: no /proc/net/stat/nf_conntrack); null when unknown.</summary>
    public bool? HasProcfs { get; internal set; }

    /// <summary>Where MemoryBytes comes from: proc/meminfo, or -MemoryBytes for an image.</summary>
    public string? MemoryBytesSource { get; internal set; }

    /// <summary>nf_conntrack or ip_conntrack; the one a kernel of this version would use when neither is loaded.</summary>
    public string Tracker { get; }

    /// <summary>
    /// BuiltIn, Module, NotLoaded, or Unknown when the tracker is present but the files cannot tell how. On an image,
    /// how its installed kernel builds the tracker: Module, BuiltIn, NotBuilt or Unknown.
    /// </summary>
    public string ModuleState { get; internal set; } = "Unknown";

    /// <summary>The row of the era table that describes this kernel.</summary>
    public string Era { get; }

    public string EraDescription { get; }

    /// <summary>32 or 64: the width of a kernel pointer, which the kernel's default sizing depends on.</summary>
    public int PointerBits { get; internal set; }

    public string? PointerBitsSource { get; internal set; }

    /// <summary>MemTotal in bytes, the RAM figure the kernel's own sizing uses; null when unknown.</summary>
    public long? MemoryBytes { get; internal set; }

    /// <summary>
    /// False inside a container or other network namespace: there the limit and the hash size are read-only
    /// and belong to the host.
    /// </summary>
    public bool IsInitialNamespace { get; internal set; } = true;

    /// <summary>The inode of the network namespace read, as the kernel prints it in "table full in netns N"; null when unknown.</summary>
    public string? NetworkNamespace { get; internal set; }

    /// <summary>Prime before 2.4.21, PowerOfTwo after: the hash size that spreads entries well.</summary>
    public string HashShape { get; }

    /// <summary>The files that hold each value on this kernel, as absolute paths.</summary>
    public ConntrackPaths Paths { get; internal set; } = new();

    /// <summary>The sysctl name that persists the max, such as net.netfilter.nf_conntrack_max.</summary>
    public string MaxSysctlKey { get; internal set; } = "";

    public bool CanSetMax { get; internal set; }

    public string? MaxReadOnlyReason { get; internal set; }

    public bool CanSetHashSize { get; internal set; }

    public string? HashSizeReadOnlyReason { get; internal set; }

    /// <summary>The file a run-time hash size change is written to: the module parameter or the buckets sysctl.</summary>
    public string? HashSizeWritePath { get; internal set; }

    /// <summary>
    /// How Set-ConntrackHashSize -Persist keeps a hash size on this kernel: ModuleOption (modprobe.d, for a
    /// loadable tracker), BucketsSysctl (built in, 4.8 and later), KernelCommandLine (built in before 4.8: only
    /// nf_conntrack.hashsize=N on the boot line) or CompileTime (built into 2.4).
    /// </summary>
    public string HashSizePersistence { get; internal set; } = "ModuleOption";

    public bool CanSetTimeouts { get; internal set; }

    public string? TimeoutsReadOnlyReason { get; internal set; }

    internal SystemRoot SystemRoot { get; }

    internal KernelEra EraRow { get; }

    internal KernelVersion? Version { get; }

    internal Tracker TrackerKind { get; }

    /// <summary>A tracker runs under the root (never on an image, which has no running kernel).</summary>
    internal bool IsLoaded => RootKind != "Image" && ModuleState != "NotLoaded";

    /// <summary>Root-relative paths that exist, in the era's order of preference.</summary>
    internal IReadOnlyList<string> MaxPathsFound { get; set; } = [];

    internal string? CountPathFound { get; set; }

    internal IReadOnlyList<string> BucketsPathsFound { get; set; } = [];

    internal string? HashSizeParameterFound { get; set; }

    internal string? HashSizeWriteRelative { get; set; }

    internal string? TablePathFound { get; set; }

    internal string? StatisticsPathFound { get; set; }

    internal string? TimeoutDirectoryFound { get; set; }
}

/// <summary>Absolute paths of the files that hold each value; null where this kernel has no such file.</summary>
public sealed class ConntrackPaths
{
    public string? Max { get; init; }

    /// <summary>Other files holding the same max (every alias changes with the first).</summary>
    public IReadOnlyList<string> MaxAliases { get; init; } = [];

    public string? Count { get; init; }

    public string? Buckets { get; init; }

    public string? HashSizeParameter { get; init; }

    public string? TimeoutDirectory { get; init; }

    public string? TimeoutPrefix { get; init; }

    public string? Statistics { get; init; }

    public string? Table { get; init; }
}
