using ConntrackTuning.Engine.Changes;
using ConntrackTuning.Engine.Persistence;
using ConntrackTuning.Engine.Kernel;

using static ConntrackTuning.Engine.Health.HealthText;

namespace ConntrackTuning.Engine.Health;

/// <summary>The checks on what the next boot applies: that it keeps the values running now, and that the tracker is loaded before systemd-sysctl applies its keys.</summary>
internal static class PersistenceChecks
{
    /// <summary>A reboot must not quietly undo tuning: the values the next boot applies against those running now.</summary>
    internal static IEnumerable<HealthResult> Persistence(HealthContext c)
    {
        // Inside a container the limits are the host's, and so is their persistence (the Namespace check says so).
        if (c.Limit is not { } limit || !c.Kernel.IsInitialNamespace)
        {
            yield break;
        }

        if (limit.NextBootUnknown is { } unreadable)
        {
            yield return new(HealthSeverity.Info, $"What the next boot applies cannot be told: {unreadable}.",
                "Run Test-ConntrackHealth as root (sudo), which reads every configuration file as the boot does.", unreadable);
            yield break;
        }

        string evidence = string.Join("; ", new[] { limit.PersistedMaxSource, limit.PersistedHashSizeSource }.Where(s => s is not null))
            is { Length: > 0 } sources ? sources : "no configuration file sets the max or the hash size";
        if (!limit.Drift)
        {
            // Where the next boot's value is not known (kernels that counted every physical page, under 1 GiB),
            // nothing says it matches the running one.
            var unknown = new List<string>();
            if (limit.Max is not null && limit.NextBootMax is null)
            {
                unknown.Add("the max");
            }

            if (limit.HashSize is not null && limit.NextBootHashSize is null)
            {
                unknown.Add("the hash size");
            }

            if (unknown.Count > 0)
            {
                string why = c.Kernel.EraRow.SizesFromAllPhysicalPages
                    ? $"kernels of era {c.Kernel.Era} size the table from every physical page, more than MemTotal, so their default for this RAM is not known exactly"
                    : "this kernel's default for the root's RAM cannot be computed";
                string known = unknown.Count == 1 ? $" The {(unknown[0] == "the max" ? "hash size" : "max")} the next boot applies is the one that runs now." : "";
                yield return new(HealthSeverity.Info,
                    $"What the next boot applies for {string.Join(" and ", unknown)} cannot be told: nothing persists {(unknown.Count == 1 ? "it" : "them")}, and {why}.{known}",
                    null, evidence);
                yield break;
            }

            yield return new(HealthSeverity.Ok, "The next boot applies the max and the hash size that run now.", null, evidence);
            yield break;
        }

        // Keep the larger of the two: a larger value at the next boot is tuning (or a kernel default) that is not
        // in force yet, so it is applied now; a larger running one is tuning nobody persisted, so it is written to
        // the configuration. Never recommend shrinking the table.
        // A larger table an earlier fix of this run raises to is the largest of all: applied now and persisted.
        var fixes = new List<string>();
        if (limit.MaxDrift && limit.Max is { } max)
        {
            long larger = Math.Max(limit.NextBootMax ?? 0, c.PlannedMax ?? 0);
            fixes.Add(larger > max ? Remedy.SetMax(larger) : Remedy.PersistMax(max));
        }

        if (limit.HashSizeDrift && limit.HashSize is { } hash)
        {
            long larger = Math.Max(limit.NextBootHashSize ?? 0, c.PlannedHashSize ?? 0);
            fixes.Add(larger > hash ? Remedy.SetHashSize(larger, c.Kernel) : Remedy.PersistHashSize(hash));
        }

        yield return new(HealthSeverity.Warning,
            $"A reboot will change the table: {limit.DriftReason} The fix keeps the larger value, running and persisted{(c.PlannedMax is not null ? ": the larger table the fixes above raise to" : "")}.",
            fixes.Count > 0 ? string.Join("; ", fixes) : null, evidence);
    }

    /// <summary>
    /// The boot-order trap (ECOSYSTEM.md §2.1): systemd-sysctl applies sysctl.d early, before a firewall rule loads a
    /// modular tracker, and silently skips the keys that do not exist yet. Only modules-load.d (which runs first)
    /// or a modprobe install hook that runs sysctl make such keys stick.
    /// </summary>
    internal static IEnumerable<HealthResult> BootOrder(HealthContext c)
    {
        ConntrackKernel kernel = c.Kernel;
        if (!kernel.IsLoaded || !kernel.IsInitialNamespace)
        {
            yield break;
        }

        string tracker = kernel.EraRow.TrackerName;
        Dictionary<string, PersistedValue> sysctl = BootConfig.AllSysctl(c.Root);
        var keys = sysctl.Where(kv => IsTrackerKey(kv.Key)).OrderBy(kv => kv.Value.Sequence).ToList();
        if (keys.Count == 0)
        {
            yield break;
        }

        string keyList = string.Join(", ", keys.Select(kv => kv.Key).Take(4)) + (keys.Count > 4 ? $" and {keys.Count - 4} more" : "");
        string files = string.Join(", ", keys.Select(kv => kv.Value.Source).Distinct(StringComparer.Ordinal));
        bool? loadable = TrackerModule.IsLoadable(kernel);
        if (loadable == false)
        {
            yield return new(HealthSeverity.Ok, $"{tracker} is built into the kernel, so {keyList} exist when systemd-sysctl applies them at boot.", null, files);
            yield break;
        }

        if (loadable is null)
        {
            yield break;
        }

        // Without etc/sysctl.d (2.4, RHEL 5 and 6) the boot scripts apply etc/sysctl.conf, and Set-ConntrackLimit
        // writes that file and no modules-load.d: the module must be loaded by the scripts that run before sysctl.
        (string target, bool own) = PersistenceEdits.SysctlTarget(kernel);
        string? loader = LoaderAtBoot(c.Root, kernel, tracker) ?? (own ? null : BootScriptLoader(c.Root, tracker))
            ?? BootConfig.SysctlInstallHook(c.Root, tracker);
        if (loader is not null)
        {
            yield return new(HealthSeverity.Ok, $"{tracker} is a loadable module, and it is loaded (or its keys applied) before the sysctl files need it.", null, loader);
            yield break;
        }

        if (!own)
        {
            yield return new(HealthSeverity.Warning,
                $"{keyList} (in {files}) will be skipped at boot: {tracker} is a loadable module, and the boot scripts apply {c.Root.Full(target)} before the firewall loads {tracker}, so the keys do not exist yet and sysctl skips them as unknown. The module loads later with the first firewall rule and keeps its defaults.",
                $"Load {tracker} before sysctl runs at boot: add 'modprobe {tracker}' to /etc/rc.modules (or a file in /etc/sysconfig/modules/ ending in .modules)",
                files);
            yield break;
        }

        long persistedMax = c.Limit?.PersistedMax ?? c.Limit?.Max ?? 0;
        yield return new(HealthSeverity.Warning,
            $"{keyList} (in {files}) will be skipped at boot: {tracker} is a loadable module that no modules-load.d file loads, so when systemd-sysctl applies the sysctl files early at boot the keys do not exist yet and are ignored without an error. The module loads later with the first firewall rule and keeps its defaults.{(persistedMax > 0 ? $" The fix also lists {tracker} in /etc/modules-load.d/conntrack-tuning.conf, so it loads before the keys are applied." : "")}",
            persistedMax > 0 ? Remedy.PersistMax(persistedMax) : null,
            files);
    }

    private static bool IsTrackerKey(string key) =>
        key.StartsWith("net.netfilter.nf_conntrack_", StringComparison.Ordinal) || key == "net.nf_conntrack_max"
        || key.StartsWith("net.ipv4.netfilter.ip_conntrack_", StringComparison.Ordinal) || key == "net.ipv4.ip_conntrack_max";

    private static readonly char[] ShellSeparators = [' ', '\t', ';', '&', '|'];

    /// <summary>
    /// The line of a boot script that loads the tracker before rc.sysinit applies etc/sysctl.conf: etc/rc.modules and
    /// etc/sysconfig/modules/*.modules, which it runs first. A module named after the tracker (nf_conntrack_ipv4,
    /// ip_conntrack_ftp) needs it and loads it too.
    /// </summary>
    private static string? BootScriptLoader(SystemRoot root, string tracker)
    {
        IEnumerable<string> scripts = root.FileNames("etc/sysconfig/modules").Where(n => n.EndsWith(".modules", StringComparison.Ordinal))
            .Select(n => "etc/sysconfig/modules/" + n).Prepend("etc/rc.modules");
        foreach (string script in scripts)
        {
            foreach (string line in root.ReadLines(script))
            {
                string code = line.Split('#', 2)[0];
                string[] words = code.Split(ShellSeparators, StringSplitOptions.RemoveEmptyEntries);
                for (int i = 0; i < words.Length - 1; i++)
                {
                    if (System.IO.Path.GetFileName(words[i]) is not ("modprobe" or "insmod"))
                    {
                        continue;
                    }

                    string? module = words.Skip(i + 1).FirstOrDefault(w => !w.StartsWith('-'));
                    string name = module is null ? "" : ModprobeFile.NormalizeModule(System.IO.Path.GetFileName(module).Split('.')[0]);
                    if (name == tracker || name.StartsWith(tracker + "_", StringComparison.Ordinal))
                    {
                        return $"{root.Full(script)}: {line.Trim()}";
                    }
                }
            }
        }

        return null;
    }

    /// <summary>The modules-load entry that brings the tracker in at boot: the tracker itself, or a module that depends on it.</summary>
    private static string? LoaderAtBoot(SystemRoot root, ConntrackKernel kernel, string tracker)
    {
        IReadOnlyList<(string Module, string Source)> loaded = BootConfig.ModulesLoadedAtBoot(root);
        if (loaded.FirstOrDefault(m => m.Module == tracker) is { Source: not null } direct)
        {
            return $"{direct.Source} lists {tracker}";
        }

        if (loaded.Count == 0 || kernel.KernelRelease is not { } release)
        {
            return null;
        }

        // nf_conntrack_ipv4, nf_nat and the like pull the tracker in as a dependency (modules.dep: "module.ko: deps").
        foreach (string line in root.ReadLines($"lib/modules/{release}/modules.dep"))
        {
            int colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon <= 0 || !line.AsSpan(colon).Contains("/" + tracker + ".ko", StringComparison.Ordinal))
            {
                continue;
            }

            string name = System.IO.Path.GetFileName(line[..colon]);
            name = ModprobeFile.NormalizeModule(name.Split('.')[0]);
            if (loaded.FirstOrDefault(m => m.Module == name) is { Source: not null } dependent)
            {
                return $"{dependent.Source} lists {name}, which loads {tracker}";
            }
        }

        return null;
    }
}
