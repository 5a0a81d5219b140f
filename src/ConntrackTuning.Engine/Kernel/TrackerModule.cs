namespace ConntrackTuning.Engine.Kernel;

/// <summary>
/// Kernel facts that follow from whether the tracker is a loadable module or built in: how a hash size can
/// survive a reboot, and whether the running hash can be resized at all. Readers (the probe, the limits) and the
/// change planners ask here; nothing here reads back from them.
/// </summary>
internal static class TrackerModule
{
    /// <summary>
    /// Whether the tracker is a loadable module: known from the probe, or for an unloaded tracker from the module
    /// files of the root's kernels. Null when nothing tells.
    /// </summary>
    internal static bool? IsLoadable(ConntrackKernel kernel)
    {
        ArgumentNullException.ThrowIfNull(kernel);
        if (kernel.ModuleState == "Module")
        {
            return true;
        }

        if (kernel.ModuleState == "BuiltIn")
        {
            return false;
        }

        SystemRoot root = kernel.SystemRoot;
        string name = kernel.EraRow.TrackerName;
        IEnumerable<string> releases = kernel.KernelRelease is { } r ? [r] : root.DirectoryNames("lib/modules");
        foreach (string release in releases)
        {
            if (root.ReadLines($"lib/modules/{release}/modules.builtin").Any(l => l.EndsWith("/" + name + ".ko", StringComparison.Ordinal)))
            {
                return false;
            }

            if (root.ReadLines($"lib/modules/{release}/modules.dep").Any(l => l.Contains("/" + name + ".ko", StringComparison.Ordinal) || l.Contains("/" + name + ".o", StringComparison.Ordinal)))
            {
                return true;
            }
        }

        return null;
    }

    /// <summary>
    /// How a hash size set now can survive a reboot on this kernel: the era row's ways, narrowed by whether the
    /// tracker is a module (KERNEL-FACTS §5.1). The one place this is decided; Get-ConntrackKernel shows it.
    /// </summary>
    internal static string DecideHashPersistence(ConntrackKernel kernel, out bool assumedModule)
    {
        ArgumentNullException.ThrowIfNull(kernel);
        KernelEra era = kernel.EraRow;
        bool? loadable = IsLoadable(kernel);
        assumedModule = loadable is null;
        if (loadable != false)
        {
            return "ModuleOption";
        }

        if (era.HashPersistence == HashPersistence.ModuleOptionBucketsSysctlOrBootParameter
            && (!kernel.IsLoaded || kernel.BucketsPathsFound.Contains("proc/sys/net/netfilter/nf_conntrack_buckets")))
        {
            return "BucketsSysctl";
        }

        return era.HashPersistence == HashPersistence.LoadTimeOnly ? "CompileTime" : "KernelCommandLine";
    }

    /// <summary>The running table's hash size cannot change until the module loads again (2.4 and early 2.6 eras).</summary>
    internal static bool HashFixedWhileLoaded(ConntrackKernel kernel)
    {
        ArgumentNullException.ThrowIfNull(kernel);
        return kernel.EraRow.HashResize == HashResize.None && !kernel.CanSetHashSize && kernel.IsLoaded;
    }
}
