using ConntrackTuning.Engine.Kernel;
using ConntrackTuning.Engine.Persistence;

namespace ConntrackTuning.Engine.Changes;

/// <summary>
/// The configuration edits a change persists through sysctl: which file, its new content, the modules-load entry
/// that makes the keys exist in time, and the refusal (or, with -Force, the warning) when a later file overrides it.
/// </summary>
internal static class PersistenceEdits
{

    /// <summary>
    /// The file sysctl settings go to: the module's own file in etc/sysctl.d, or on systems without sysctl.d
    /// (old distributions) etc/sysctl.conf, updated in place.
    /// </summary>
    internal static (string Relative, bool Own) SysctlTarget(ConntrackKernel kernel)
    {
        ArgumentNullException.ThrowIfNull(kernel);
        SystemRoot root = kernel.SystemRoot;
        if (root.DirectoryExists("etc/sysctl.d"))
        {
            return (BootConfig.OwnSysctlFile, true);
        }

        if (root.Exists(BootConfig.SysctlConf) || kernel.TrackerKind == Tracker.IpConntrack)
        {
            return (BootConfig.SysctlConf, false);
        }

        return (BootConfig.OwnSysctlFile, true);
    }

    internal static List<FileEdit> Sysctl(ConntrackKernel kernel, IReadOnlyList<SysctlSetting> settings, bool force, List<string> warnings, bool bucketsOnly = false)
    {
        SystemRoot root = kernel.SystemRoot;
        (string target, bool own) = SysctlTarget(kernel);
        _ = root.ResolveReplaceTarget(target);
        string? before = root.ReadConfigFile(target, out bool quote);
        string after = SysctlFile.Set(before, settings, root.Full(target), own && before is null ? BootConfig.OwnHeader("sysctl settings") : null, quote);
        var edits = new List<FileEdit> { new(target, before, after, "sysctl settings applied at boot") };

        var proposed = new Dictionary<string, string?> { [target] = after };
        foreach (SysctlSetting setting in settings)
        {
            PersistedValue? last = BootConfig.LastSysctl(root, [setting.Key, .. setting.Aliases], proposed);
            if (last is not null && last.Value != setting.Value)
            {
                PersistenceEdits.Overridden(root, last, setting.Key, setting.Value, force, warnings);
            }
        }

        string module = kernel.EraRow.TrackerName;
        bool? loadable = bucketsOnly ? false : TrackerModule.IsLoadable(kernel);
        if (own && loadable != false)
        {
            // ECOSYSTEM.md §2.1: systemd-sysctl runs before a firewall rule loads the module, finds no net.netfilter
            // keys yet and skips them without failing. systemd-modules-load runs first, so listing the module there
            // makes the keys exist in time.
            _ = root.ResolveReplaceTarget(BootConfig.OwnModulesLoadFile);
            string? listBefore = root.ReadConfigFile(BootConfig.OwnModulesLoadFile, out bool quoteList);
            string listAfter = ModulesLoadFile.Ensure(listBefore, module, root.Full(BootConfig.OwnModulesLoadFile), listBefore is null ? BootConfig.OwnHeader("modules loaded at boot") : null, quoteList);
            edits.Add(new FileEdit(BootConfig.OwnModulesLoadFile, listBefore, listAfter, $"loads {module} before systemd-sysctl applies the keys"));
            root.Log.Verbose($"{module} is {(loadable == true ? "a loadable module" : "possibly a loadable module")}: systemd-sysctl applies {BootConfig.OwnSysctlFile} early at boot, before a firewall rule loads {module}, and silently skips keys that do not exist yet. Listing {module} in {root.Full(BootConfig.OwnModulesLoadFile)} makes systemd-modules-load (which runs first) load it in time.");
        }
        else if (!own && loadable == true)
        {
            warnings.Add($"{module} is a loadable module and this system applies {root.Full(target)} at boot, possibly before the firewall loads {module}; the keys are then skipped. Make sure {module} is loaded before sysctl runs (for example 'modprobe {module}' in /etc/rc.modules), and check after a reboot with Get-ConntrackLimit.");
        }

        return edits;
    }

    /// <param name="applied">What the kernel makes of the winner's value where it rounds it (a hash size); the value itself otherwise.</param>
    internal static void Overridden(SystemRoot root, PersistedValue winner, string what, string value, bool force, List<string> warnings, string? applied = null)
    {
        string message = $"{winner.Source} sets {what} to {winner.Value}, and it is applied after the module's own setting of {value}, so the next boot would apply {applied ?? winner.Value}.";
        if (!force)
        {
            throw new ConntrackException(ErrorIds.PersistenceOverridden, ErrorKind.InvalidOperation, message + " Nothing was changed.",
                winner.File, $"Remove or change that line of {winner.File} (the module never rewrites other files), or add -Force to write the setting anyway.");
        }

        warnings.Add(message);
        root.Log.Verbose("-Force: writing the setting although it is overridden.");
    }
}
