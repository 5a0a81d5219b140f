namespace ConntrackTuning.Engine.Kernel;

/// <summary>
/// Where a probed kernel's settings live and whether each can be written here: the era's candidate paths that
/// exist, the network namespace, and for max, hash size and timeouts the reason a write would fail.
/// </summary>
internal static class SettingFileProbe
{
    internal static void ResolvePaths(SystemRoot root, ConntrackKernel kernel, KernelEra era)
    {
        if (!kernel.IsLoaded)
        {
            kernel.MaxSysctlKey = era.MaxSysctlKey;
            return;
        }

        List<string> max = era.MaxPaths.Where(root.FileExists).ToList();
        kernel.MaxPathsFound = max;
        kernel.CountPathFound = era.CountPaths.FirstOrDefault(root.FileExists);
        kernel.BucketsPathsFound = era.BucketsPaths.Where(root.FileExists).ToList();
        kernel.HashSizeParameterFound = era.HashSizeParameterPath is { } p && root.FileExists(p) ? p : null;
        kernel.TablePathFound = era.TablePaths.FirstOrDefault(root.FileExists);
        kernel.StatisticsPathFound = era.StatisticsPath is { } s && root.FileExists(s) ? s : null;
        kernel.TimeoutDirectoryFound = era.TimeoutDirectory is { } d && root.DirectoryExists(d) ? d : null;
        kernel.MaxSysctlKey = max.Count > 0 ? EraTable.SysctlKey(max[0])! : era.MaxSysctlKey;

        kernel.Paths = new ConntrackPaths
        {
            Max = max.Count > 0 ? root.SourceOf(max[0]) : null,
            MaxAliases = max.Skip(1).Select(root.SourceOf).ToArray(),
            Count = kernel.CountPathFound is { } c ? root.SourceOf(c) : null,
            Buckets = kernel.BucketsPathsFound.Count > 0 ? root.SourceOf(kernel.BucketsPathsFound[0]) : null,
            HashSizeParameter = kernel.HashSizeParameterFound is { } h ? root.Full(h) : null,
            TimeoutDirectory = kernel.TimeoutDirectoryFound is { } t ? root.Full(t) : null,
            TimeoutPrefix = kernel.TimeoutDirectoryFound is null ? null : era.TimeoutPrefix,
            Statistics = kernel.StatisticsPathFound is { } st ? root.Full(st) : null,
            Table = kernel.TablePathFound is { } tb ? root.Full(tb) : null,
        };
    }

    internal static void DetectNamespace(SystemRoot root, ConntrackKernel kernel)
    {
        string? link = root.LinkTarget("proc/self/ns/net");
        if (link is not null && link.StartsWith("net:[", StringComparison.Ordinal) && link.EndsWith(']'))
        {
            kernel.NetworkNamespace = link[5..^1];
        }

        // The kernel registers net.nf_conntrack_max for the initial namespace only; that is the one sure sign.
        if (kernel.IsLoaded && kernel.TrackerKind == Tracker.NfConntrack && root.DirectoryExists("proc/sys/net/netfilter"))
        {
            kernel.IsInitialNamespace = root.FileExists("proc/sys/net/nf_conntrack_max");
        }
        else if (root.IsLive && kernel.NetworkNamespace is not null && root.LinkTarget("proc/1/ns/net") is { } init)
        {
            kernel.IsInitialNamespace = link == init;
        }
    }

    internal static void DecideWritability(SystemRoot root, ConntrackKernel kernel, KernelEra era)
    {
        if (!kernel.IsLoaded)
        {
            const string notLoaded = "Connection tracking is not loaded, so there is nothing to change at run time.";
            kernel.MaxReadOnlyReason = kernel.HashSizeReadOnlyReason = kernel.TimeoutsReadOnlyReason = notLoaded;
            return;
        }

        const string hostOwned = "This is not the initial network namespace: the limit and the hash size are global, read-only here, and belong to the host.";

        if (kernel.MaxPathsFound.Count == 0)
        {
            kernel.MaxReadOnlyReason = "No max sysctl exists under this root.";
        }
        else if (!kernel.IsInitialNamespace)
        {
            kernel.MaxReadOnlyReason = hostOwned;
        }
        else
        {
            kernel.CanSetMax = root.IsWritable(kernel.MaxPathsFound[0], out string? why);
            kernel.MaxReadOnlyReason = why;
        }

        DecideHashSize(root, kernel, era, hostOwned);

        if (kernel.TimeoutDirectoryFound is not { } dir)
        {
            kernel.TimeoutsReadOnlyReason = era.TimeoutDirectory is null
                ? $"Kernel {kernel.KernelRelease} has no timeout sysctls: before 2.4.23 the timeouts are compile-time constants."
                : $"The timeout folder {root.Full(era.TimeoutDirectory)} does not exist.";
        }
        else
        {
            string? first = root.FileNames(dir).FirstOrDefault(n => n.StartsWith(era.TimeoutPrefix!, StringComparison.Ordinal) && n.Contains("_timeout", StringComparison.Ordinal));
            if (first is null)
            {
                kernel.TimeoutsReadOnlyReason = $"No timeout sysctls in {root.Full(dir)}.";
            }
            else
            {
                kernel.CanSetTimeouts = root.IsWritable(dir + "/" + first, out string? why);
                kernel.TimeoutsReadOnlyReason = why;
            }
        }
    }

    private static void DecideHashSize(SystemRoot root, ConntrackKernel kernel, KernelEra era, string hostOwned)
    {
        if (!kernel.IsInitialNamespace)
        {
            kernel.HashSizeReadOnlyReason = hostOwned;
            return;
        }

        // The module parameter is preferred: it is the one path every resizable era has. The buckets sysctl is
        // the fallback from 4.8, and its file mode tells whether this kernel allows it (0444 before 4.8).
        var candidates = new List<string>();
        if (kernel.HashSizeParameterFound is { } param)
        {
            candidates.Add(param);
        }

        if (kernel.BucketsPathsFound.Count > 0 && kernel.TrackerKind == Tracker.NfConntrack)
        {
            candidates.Add(kernel.BucketsPathsFound[0]);
        }

        string? firstReason = null;
        foreach (string candidate in candidates)
        {
            if (root.IsWritable(candidate, out string? why))
            {
                kernel.CanSetHashSize = true;
                kernel.HashSizeWriteRelative = candidate;
                kernel.HashSizeWritePath = root.Full(candidate);
                return;
            }

            firstReason ??= why;
        }

        kernel.HashSizeReadOnlyReason = era.HashResize == HashResize.None && candidates.Count == 0
            ? $"The hash of {EraTable.TrackerName(kernel.TrackerKind)} on kernel {kernel.KernelVersion ?? "of this era"} cannot be resized at run time; it is set when the module loads or at boot (persist it instead)."
            : firstReason ?? "Neither the hashsize module parameter nor a writable buckets sysctl exists under this root.";
    }
}
