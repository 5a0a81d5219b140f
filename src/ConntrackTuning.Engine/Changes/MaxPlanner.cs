using ConntrackTuning.Engine.Kernel;
using ConntrackTuning.Engine.Limits;
using ConntrackTuning.Engine.Persistence;
using ConntrackTuning.Engine.Sizing;

namespace ConntrackTuning.Engine.Changes;

/// <summary>
/// Plans a change of the table's max: the run-time file, the sysctl files that persist it, and the checks that
/// the new max holds the entries there now and fits in the machine's memory.
/// </summary>
internal static class MaxPlanner
{
    internal static ChangePlan Plan(ConntrackKernel kernel, long max, ApplyMode mode, bool force)
    {
        ArgumentNullException.ThrowIfNull(kernel);
        SystemRoot root = kernel.SystemRoot;
        string setting = kernel.EraRow.TrackerName + "_max";
        ChangeChecks.RequireRootForLive(kernel, mode, setting);
        string? runtime = null;
        long? old = null;
        if (mode != ApplyMode.PersistentOnly)
        {
            runtime = ChangeChecks.RequireRuntime(kernel, kernel.CanSetMax, kernel.MaxReadOnlyReason, kernel.MaxPathsFound.Count > 0 ? kernel.MaxPathsFound[0] : null, setting, hostOwned: true);
            old = root.TryReadInt64(runtime);
            // On 2.4 there is no count file: the entries of the table file are counted, as Get-ConntrackLimit does.
            (long? count, _) = LimitReader.ReadCount(kernel, root);
            if (count is { } n && max < n && !force)
            {
                throw new ConntrackException(ErrorIds.MaxBelowCount, ErrorKind.InvalidOperation,
                    $"The table holds {n} entries now; a max of {max} would make the kernel drop every new connection until {n - max} entries expire. Nothing was changed.",
                    root.Full(runtime), $"Choose a max above {n} (Get-ConntrackRecommendation suggests one), or add -Force if dropping new connections is what you want.");
            }
        }

        var warnings = new List<string>();
        CheckMemory(kernel, max, force, warnings);

        string primaryKey = kernel.MaxSysctlKey;
        string[] aliases = kernel.EraRow.MaxPaths.Select(p => EraTable.SysctlKey(p)!).Where(k => k != primaryKey).ToArray();
        return ChangePlan.ForSysctl(kernel, setting, primaryKey, aliases, max, mode, runtime, old, force, warnings,
            runtimeAliases: root.IsLive || runtime is null ? [] : kernel.MaxPathsFound.Skip(1).ToArray());
    }

    private static void CheckMemory(ConntrackKernel kernel, long max, bool force, List<string> warnings)
    {
        if (kernel.MemoryBytes is not { } memory)
        {
            kernel.SystemRoot.Log.Verbose("MemTotal is unknown under this root, so the memory a full table needs is not checked.");
            return;
        }

        // The entry size the machine states, else the era's estimate (TableMemory: the same figure the health
        // check's suggested max and Get-ConntrackRecommendation use). The hash table is added at its current size.
        EntrySize size = TableMemory.EntrySize(kernel);
        long entry = size.Bytes;
        long needed = TableMemory.FullTableBytes(kernel, size, max, CurrentHashSize(kernel) ?? 0);
        string mib(long bytes) => (bytes / (1024.0 * 1024)).ToString("0", CultureInfo.InvariantCulture) + " MiB";
        if (needed > memory && !force)
        {
            throw new ConntrackException(ErrorIds.MaxExceedsMemory, ErrorKind.LimitsExceeded,
                $"A full table of {max} entries needs about {mib(needed)} of kernel memory ({entry} bytes per entry, {size.Source}), more than the {mib(memory)} this machine has. Nothing was changed.",
                max.ToString(CultureInfo.InvariantCulture),
                "Choose a smaller max (Get-ConntrackRecommendation sizes one for this RAM), or add -Force if you know the entries are smaller.");
        }

        string message = $"A full table of {max} entries needs about {mib(needed)} of non-swappable kernel memory ({entry} bytes per entry, {size.Source}), {100.0 * needed / memory:0}% of the {mib(memory)} this machine has{(kernel.EraRow.PerNamespaceTables ? "; every network namespace that tracks connections can fill a table of its own up to max" : "")}.";
        if (needed > memory / 2)
        {
            warnings.Add(message);
        }
        else
        {
            kernel.SystemRoot.Log.Verbose(message);
        }
    }

    private static long? CurrentHashSize(ConntrackKernel kernel)
    {
        SystemRoot root = kernel.SystemRoot;
        if (kernel.HashSizeParameterFound is { } p && root.TryReadInt64(p) is { } param)
        {
            return param;
        }

        return kernel.BucketsPathsFound.Count > 0 ? root.TryReadInt64(kernel.BucketsPathsFound[0]) : null;
    }
}
