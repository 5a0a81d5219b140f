using ConntrackTuning.Engine.Persistence;
using ConntrackTuning.Engine.Images;
using ConntrackTuning.Engine.Kernel;
using ConntrackTuning.Engine.Sizing;

namespace ConntrackTuning.Engine.Limits;

/// <summary>Reads max, count and hash size for a probed kernel, with the source of each value.</summary>
internal static class LimitReader
{
    public static ConntrackLimit Read(ConntrackKernel kernel)
    {
        ArgumentNullException.ThrowIfNull(kernel);
        SystemRoot root = kernel.SystemRoot;
        if (kernel.RootKind == RootKinds.Image)
        {
            return ImageLimits.Read(kernel);
        }

        if (!kernel.IsLoaded)
        {
            throw NotLoaded(kernel);
        }

        (long? max, string? maxSource) = ReadMax(kernel, root);
        (long? count, string? countSource) = ReadCount(kernel, root);
        (long? hashSize, string? hashSource) = ReadHashSize(kernel, root);
        Persisted persisted = ReadPersisted(kernel);
        // What the next boot applies: the persisted value, else the kernel's own default for this memory. Unknown when a
        // configuration file could not be read: it may set either, and the default would then be a guess shown as a fact.
        string? unknown = persisted.Unreadable.Count == 0 ? null
            : $"unknown: {string.Join(", ", persisted.Unreadable)} could not be read (permission denied), and the next boot applies what {(persisted.Unreadable.Count == 1 ? "it sets" : "they set")}";
        long? nextMax = unknown is null ? persisted.Max ?? persisted.Default?.Max : null;
        long? nextHash = unknown is null ? persisted.HashSize ?? persisted.Default?.HashSize : null;
        bool maxDrift = max is { } m && nextMax is { } nm && nm != m;
        bool hashDrift = hashSize is { } h && nextHash is { } nh && nh != h;
        var drift = new List<string>();
        if (maxDrift)
        {
            drift.Add(DriftText("max", max!.Value, nextMax!.Value, persisted.Max is not null, persisted.MaxSource));
        }

        if (hashDrift)
        {
            drift.Add(DriftText("hash size", hashSize!.Value, nextHash!.Value, persisted.HashSize is not null, persisted.HashSizeSource));
        }

        ExpectationFigures expect = ExpectationLimits.Read(kernel);
        return new ConntrackLimit
        {
            ExpectCount = expect.Count,
            ExpectMax = expect.Max,
            ExpectUsagePercent = expect.UsagePercent,
            ExpectCountSource = expect.CountSource,
            ExpectMaxSource = expect.MaxSource,
            Max = max,
            Count = count,
            HashSize = hashSize,
            UsagePercent = TableRatios.UsagePercent(count, max),
            EntriesPerBucket = TableRatios.EntriesPerBucket(max, hashSize),
            Tracker = kernel.Tracker,
            KernelRelease = kernel.KernelRelease,
            MaxSource = maxSource,
            CountSource = countSource,
            HashSizeSource = hashSource,
            IsInitialNamespace = kernel.IsInitialNamespace,
            PersistedMax = persisted.Max,
            PersistedMaxSource = persisted.MaxSource,
            PersistedHashSize = persisted.HashSize,
            PersistedHashSizeSource = persisted.HashSizeSource,
            Drift = maxDrift || hashDrift,
            NextBootMax = nextMax,
            NextBootMaxSource = unknown ?? persisted.MaxSource ?? (nextMax is not null ? ImageLimits.DefaultSource(kernel) : null),
            NextBootHashSize = nextHash,
            NextBootHashSizeSource = unknown ?? persisted.HashSizeSource ?? (nextHash is not null ? ImageLimits.DefaultSource(kernel) : null),
            NextBootUnknown = unknown,
            MaxDrift = maxDrift,
            HashSizeDrift = hashDrift,
            DriftReason = drift.Count > 0 ? string.Join("; ", drift) + "." : null,
            RootKind = kernel.RootKind,
            Root = kernel.Root,
        };
    }

    /// <summary>
    /// The running table's max, hash size and count, read as <see cref="Read"/> reads them but without what the
    /// next boot applies or the expectation table: all a recommendation compares with, at a fraction of the reads.
    /// </summary>
    internal static (long? Max, long? HashSize, long? Count) ReadRunning(ConntrackKernel kernel)
    {
        ArgumentNullException.ThrowIfNull(kernel);
        if (!kernel.IsLoaded)
        {
            throw NotLoaded(kernel);
        }

        SystemRoot root = kernel.SystemRoot;
        (long? max, _) = ReadMax(kernel, root);
        (long? count, _) = ReadCount(kernel, root);
        (long? hashSize, _) = ReadHashSize(kernel, root);
        return (max, hashSize, count);
    }

    private static (long? Max, string? Source) ReadMax(ConntrackKernel kernel, SystemRoot root)
    {
        long? max = null;
        string? maxSource = null;
        foreach (string path in kernel.MaxPathsFound)
        {
            long? value = root.TryReadInt64(path, out ReadStatus status);
            if (value is null)
            {
                ThrowIfUnreadable(root, path, status);
                continue;
            }

            if (max is null)
            {
                (max, maxSource) = (value, root.SourceOf(path));
            }
            else if (value != max)
            {
                // Aliases share one kernel variable, so a difference means the tree was captured at two moments.
                root.Log.Warning($"{root.SourceOf(path)} holds {value} but {maxSource} holds {max}; they are one kernel variable, so the files were captured at different times. Reporting {max}.");
            }
        }

        return (max, maxSource);
    }

    /// <param name="Default">What the kernel sizes by itself when nothing is persisted; null where that cannot be computed exactly.</param>
    /// <param name="Unreadable">Configuration files this process may not read, so what the next boot applies is unknown.</param>
    private sealed record Persisted(long? Max, string? MaxSource, long? HashSize, string? HashSizeSource, KernelDefault? Default, IReadOnlyList<string> Unreadable);

    /// <summary>
    /// What the next boot applies: the max from the sysctl files (or, when none sets it, 8 x a hash size given at
    /// load time, the kernel's rule), and the hash size from the buckets sysctl, the kernel command line or the
    /// modprobe option, in the order they take effect. A hash size is compared as the kernel will round it.
    /// </summary>
    private static Persisted ReadPersisted(ConntrackKernel kernel)
    {
        SystemRoot root = kernel.SystemRoot;
        KernelEra era = kernel.EraRow;
        var unreadable = new List<string>();
        Dictionary<string, PersistedValue> sysctl = BootConfig.AllSysctl(root, null, unreadable);
        (PersistedValue? maxLine, PersistedValue? buckets) = BootConfig.TableSizeLines(sysctl, era);
        PersistedValue? loadTime = BootConfig.CommandLineParameter(root, era.TrackerName, "hashsize")
            ?? (TrackerModule.IsLoadable(kernel) != false ? BootConfig.LastModuleOption(root, era.TrackerName, "hashsize", null, unreadable) : null);

        long? hash = BootConfig.NumberOrWarn(root, buckets) ?? BootConfig.NumberOrWarn(root, loadTime);
        PersistedValue? hashSource = BootConfig.NumberOrWarn(root, buckets) is not null ? buckets : loadTime;
        long? max = BootConfig.NumberOrWarn(root, maxLine);
        string? maxSource = maxLine?.Source;
        if (max is null && BootConfig.NumberOrWarn(root, loadTime) is { } atLoad)
        {
            long rounded = HashSizeMath.RoundHashSize(kernel, atLoad);
            max = 8 * rounded;
            maxSource = $"8 x hashsize {rounded} ({loadTime!.Source}): the kernel's rule when no sysctl sets the max";
        }

        return new Persisted(max, maxSource, hash is { } hv ? HashSizeMath.RoundHashSize(kernel, hv) : null, hashSource?.Source,
            BootDefault(kernel, BootConfig.NumberOrWarn(root, loadTime)), unreadable);
    }

    /// <summary>
    /// The kernel's own sizing at the next boot, for values nothing persists. Only where MemTotal gives it exactly:
    /// kernels before 2.6.27 counted every physical page, at least MemTotal and often more (holes, reserved memory),
    /// so theirs is known only where more memory would not change it (the capped sizes over 1 GiB, or a hash size
    /// given at load); elsewhere no drift is claimed from it.
    /// </summary>
    private static KernelDefault? BootDefault(ConntrackKernel kernel, long? hashSizeAtLoad)
    {
        if (kernel.MemoryBytes is not { } memory || !kernel.IsInitialNamespace)
        {
            return null;
        }

        try
        {
            // The live machine's page size, as Get-ConntrackRecommendation's KernelDefault profile takes it: on a
            // 64 KiB-page arm64 host a 4096-byte guess would predict another next-boot default than it shows.
            int bits = KernelDefaults.PointerBits(kernel);
            int pageSize = KernelDefaults.RootPageSize(kernel.SystemRoot).Bytes;
            KernelDefault kd = KernelDefaults.Compute(memory, bits, kernel.EraRow, hashSizeAtLoad, pageSize);
            if (kernel.EraRow.SizesFromAllPhysicalPages)
            {
                KernelDefault more = KernelDefaults.Compute(Math.Min(memory, long.MaxValue / 64) * 64, bits, kernel.EraRow, hashSizeAtLoad, pageSize);
                return more.Max == kd.Max && more.HashSize == kd.HashSize ? kd : null;
            }

            return kd;
        }
        catch (ConntrackException)
        {
            return null;
        }
    }

    private static string DriftText(string setting, long running, long next, bool persisted, string? source) => persisted
        ? $"{setting} is {running} now but the next boot applies {next} ({source})"
        : $"{setting} is {running} now but nothing persists it, so the next boot applies the kernel's default of {next} for this memory";

    internal static ConntrackException NotLoaded(ConntrackKernel kernel)
    {
        SystemRoot root = kernel.SystemRoot;
        if (kernel.RootKind == RootKinds.Image)
        {
            // Not "load the module": a disk image has no running kernel at all, only its configuration.
            return new ConntrackException(ErrorIds.NoRunningKernel, ErrorKind.ObjectNotFound,
                $"The root '{kernel.Root}' is an image (no captured proc/ or sys/), so no kernel runs behind it: there is no running limit, count or timeout to read or change.",
                kernel.Root,
                "To configure the image, add -PersistOnly (Set-ConntrackLimit, Set-ConntrackHashSize, Set-ConntrackTimeout); Get-ConntrackLimit and Test-ConntrackHealth -Root <image> tell what its next boot applies.");
        }

        string load = kernel.TrackerKind == Tracker.IpConntrack ? "modprobe ip_conntrack" : "modprobe nf_conntrack";
        return new ConntrackException(ErrorIds.ConntrackNotLoaded, ErrorKind.ResourceUnavailable,
            kernel.SystemRoot.IsLive
                ? "Connection tracking is not active on this machine: neither nf_conntrack nor ip_conntrack is loaded, so there is no table to size."
                : $"Connection tracking was not active on the system under {kernel.Root}: neither nf_conntrack nor ip_conntrack files are there.",
            kernel.Root,
            $"Load the tracker with '{load}' (any firewall rule that matches on connection state also loads it), then run the command again.");
    }

    // The max and count files are world-readable on every kernel, so failing to read one is worth an error
    // rather than a silent gap (unlike the hashsize parameter, which is root-only by design).
    private static void ThrowIfUnreadable(SystemRoot root, string path, ReadStatus status)
    {
        if (status is ReadStatus.AccessDenied or ReadStatus.Failed)
        {
            throw new ConntrackException(ErrorIds.FileReadFailed,
                status == ReadStatus.AccessDenied ? ErrorKind.PermissionDenied : ErrorKind.ReadError,
                $"Cannot read '{root.Full(path)}'{(status == ReadStatus.AccessDenied ? ": permission denied" : "")}.",
                root.Full(path),
                "Run pwsh as root (sudo), or check the permissions of the captured files under -Root.");
        }
    }

    internal static (long? Count, string? Source) ReadCount(ConntrackKernel kernel, SystemRoot root)
    {
        if (kernel.CountPathFound is { } path)
        {
            if (root.TryReadInt64(path, out ReadStatus status) is { } count)
            {
                return (count, root.SourceOf(path));
            }

            ThrowIfUnreadable(root, path, status);
        }

        // 2.4 has no count sysctl: every line of the table file is an entry, except the expectations.
        if (kernel.CountPathFound is null && kernel.TablePathFound is { } table && kernel.TrackerKind == Tracker.IpConntrack)
        {
            long entries = root.ReadLines(table)
                .LongCount(l => l.Length > 0 && !l.StartsWith("EXPECTING", StringComparison.Ordinal));
            return (entries, root.Full(table) + " (entries counted)");
        }

        return (null, null);
    }

    private static (long? HashSize, string? Source) ReadHashSize(ConntrackKernel kernel, SystemRoot root)
    {
        long? param = null;
        if (kernel.HashSizeParameterFound is { } paramPath)
        {
            // 0600 on every nf_conntrack kernel: other users get "permission denied" and fall through quietly.
            param = root.TryReadInt64(paramPath);
        }

        long? buckets = null;
        string? bucketsPath = kernel.BucketsPathsFound.Count > 0 ? kernel.BucketsPathsFound[0] : null;
        if (bucketsPath is not null)
        {
            buckets = root.TryReadInt64(bucketsPath);
        }

        if (param is not null)
        {
            // 2.6.27 to 4.6 keep the size asked for in the parameter while each namespace allocates it rounded up
            // to whole pages, which the buckets sysctl shows: that is the table's real size, and no disagreement.
            if (buckets is not null && buckets != param
                && buckets == HashSizeMath.RoundHashSize(kernel, param.Value))
            {
                root.Log.Verbose($"{root.Full(kernel.HashSizeParameterFound!)} holds the {param} buckets asked for; the table was allocated rounded up to whole pages, {buckets} ({root.Full(bucketsPath!)}).");
                return (buckets, root.SourceOf(bucketsPath!));
            }

            if (buckets is not null && buckets != param)
            {
                root.Log.Warning($"{root.Full(bucketsPath!)} says {buckets} but {root.Full(kernel.HashSizeParameterFound!)} says {param}. Kernels 4.8 to 5.10 did not update the buckets sysctl after a resize through the module parameter (fixed by commit f6351c3f1c27); reporting the module parameter.");
            }

            return (param, root.SourceOf(kernel.HashSizeParameterFound!));
        }

        if (buckets is not null)
        {
            return (buckets, root.SourceOf(bucketsPath!));
        }

        if (StartupLine.Find(root, kernel.Tracker) is { } line)
        {
            return (line.Buckets, $"{line.Source}: {line.Line}");
        }

        root.Log.Verbose("No hash size found: no module parameter, no buckets sysctl and no start-up line in the kernel log.");
        return (null, null);
    }
}
