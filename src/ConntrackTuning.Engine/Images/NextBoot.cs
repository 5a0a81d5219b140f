using ConntrackTuning.Engine.Kernel;
using ConntrackTuning.Engine.Persistence;

namespace ConntrackTuning.Engine.Images;

/// <summary>One sysctl assignment as the next boot reads it, with its file and place in the order.</summary>
internal sealed record SysctlLine(string Key, string Value, string Source, string Relative, int Sequence);

/// <summary>
/// Whether the tracker exists when systemd-sysctl applies the sysctl files early at boot: built in, listed in
/// modules-load.d (itself or a module that needs it), or loaded by a modprobe install hook that runs sysctl.
/// When none holds, every net.netfilter key in sysctl.d is skipped at boot: the boot-order trap.
/// </summary>
internal static class NextBoot
{
    /// <returns>True, false, or null when the image cannot tell whether the tracker is a module; with where that was read.</returns>
    public static (bool? Early, string Source) LoadedBeforeSysctl(ConntrackKernel kernel)
    {
        ArgumentNullException.ThrowIfNull(kernel);
        SystemRoot root = kernel.SystemRoot;
        string tracker = kernel.EraRow.TrackerName;
        bool? loadable = TrackerModule.IsLoadable(kernel);
        if (loadable == false)
        {
            return (true, $"{tracker} is built into kernel {kernel.KernelRelease ?? "(unknown release)"}{(kernel.ModuleStateSource is { } s ? $" ({s})" : "")}");
        }

        IReadOnlyList<(string Module, string Source)> early = BootConfig.ModulesLoadedAtBoot(root);
        if (early.FirstOrDefault(m => ModprobeFile.NormalizeModule(m.Module) == tracker) is { Source: not null } direct)
        {
            return (true, $"{direct.Source} lists {tracker}");
        }

        if (kernel.KernelRelease is { } release && early.Count > 0)
        {
            // A module listed there that needs the tracker (nf_nat, xt_conntrack, ...) loads it first.
            var needs = new HashSet<string>(StringComparer.Ordinal);
            foreach (string folder in InstalledKernels.ModuleRoots.Select(m => $"{m}/{release}/modules.dep"))
            {
                foreach (string line in root.ReadLines(folder))
                {
                    int colon = line.IndexOf(':', StringComparison.Ordinal);
                    if (colon > 0 && line[(colon + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries).Any(d => ModuleName(d) == tracker))
                    {
                        needs.Add(ModuleName(line[..colon]));
                    }
                }
            }

            if (early.FirstOrDefault(m => needs.Contains(ModprobeFile.NormalizeModule(m.Module))) is { Source: not null } indirect)
            {
                return (true, $"{indirect.Source} lists {indirect.Module}, which needs {tracker}");
            }
        }

        if (BootConfig.SysctlInstallHook(root, tracker) is { } hook)
        {
            return (true, $"{hook} (the keys are applied when the module loads)");
        }

        return loadable is null
            ? (null, $"neither the modules of kernel {kernel.KernelRelease ?? "(none installed)"} nor its config tell whether {tracker} is a module")
            : (false, $"{tracker} is a loadable module and no modules-load.d file loads it, so it loads only with the first firewall rule, after systemd-sysctl has run");
    }

    /// <summary>Every assignment of a conntrack key across the sysctl files, in the order the boot applies them.</summary>
    public static IReadOnlyList<SysctlLine> TrackerSysctlLines(SystemRoot root)
    {
        ArgumentNullException.ThrowIfNull(root);
        var lines = new List<SysctlLine>();
        int sequence = 0;
        foreach (string file in BootConfig.SysctlSources(root))
        {
            string? text = root.TryReadText(file);
            if (text is null)
            {
                continue;
            }

            IReadOnlyList<SysctlAssignment> assignments;
            try
            {
                assignments = SysctlFile.Parse(text, root.Full(file));
            }
            catch (ConntrackException)
            {
                // BootConfig warns about a file that does not parse; here it only has no lines to offer.
                continue;
            }

            foreach (SysctlAssignment a in assignments)
            {
                sequence++;
                if (IsTrackerKey(a.Key))
                {
                    lines.Add(new SysctlLine(a.Key, a.Value, $"{root.Full(file)}:{a.Line}", file, sequence));
                }
            }
        }

        return lines;
    }

    public static bool IsTrackerKey(string key) =>
        key.StartsWith("net.netfilter.nf_conntrack_", StringComparison.Ordinal) || key == "net.nf_conntrack_max"
        || key.StartsWith("net.ipv4.netfilter.ip_conntrack_", StringComparison.Ordinal) || key == "net.ipv4.ip_conntrack_max";

    private static string ModuleName(string path)
    {
        string name = path.Trim()[(path.Trim().LastIndexOf('/') + 1)..];
        int ko = name.IndexOf(".ko", StringComparison.Ordinal);
        return (ko > 0 ? name[..ko] : name).Replace('-', '_');
    }
}
