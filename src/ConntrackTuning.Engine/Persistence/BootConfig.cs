using ConntrackTuning.Engine.Kernel;

namespace ConntrackTuning.Engine.Persistence;

/// <summary>A value some boot-time configuration sets, with the file and line that set it last.</summary>
internal sealed record PersistedValue(string Value, string Relative, string File, int Line, int Sequence = 0)
{
    public string Source => Line > 0 ? $"{File}:{Line}" : File;

    public long? Number => long.TryParse(Value, NumberStyles.None, CultureInfo.InvariantCulture, out long n) ? n : null;
}

/// <summary>
/// What the next boot will apply: the sysctl files in the order systemd-sysctl and "sysctl --system" read them,
/// the modprobe options, and the kernel command line. Reading is tolerant (a broken file someone else owns is
/// reported and skipped); only the files the module rewrites are parsed strictly, by the writers.
/// </summary>
internal static class BootConfig
{
    /// <summary>The sysctl.d file the module owns; 90 sorts before the distributions' 99-sysctl.conf and after vendor defaults.</summary>
    internal const string OwnSysctlFile = "etc/sysctl.d/90-conntrack-tuning.conf";

    internal const string OwnModprobeFile = "etc/modprobe.d/conntrack-tuning.conf";

    internal const string OwnModulesLoadFile = "etc/modules-load.d/conntrack-tuning.conf";

    internal const string SysctlConf = "etc/sysctl.conf";

    private static readonly string[] SysctlDirectories =
        ["etc/sysctl.d", "run/sysctl.d", "usr/local/lib/sysctl.d", "usr/lib/sysctl.d", "lib/sysctl.d"];

    private static readonly string[] ModulesLoadDirectories =
        ["etc/modules-load.d", "run/modules-load.d", "usr/local/lib/modules-load.d", "usr/lib/modules-load.d", "lib/modules-load.d"];

    private static readonly string[] ModprobeDirectories =
        ["etc/modprobe.d", "run/modprobe.d", "usr/local/lib/modprobe.d", "usr/lib/modprobe.d", "lib/modprobe.d"];

    /// <summary>Old single files that hold "options" lines: module-init-tools' modprobe.conf and 2.4 modutils' modules.conf.</summary>
    private static readonly string[] LegacyModprobeFiles = ["etc/modprobe.conf", "etc/modules.conf"];

    /// <summary>
    /// The whole number a boot-time value sets, or null; a value that is not one is warned about, since the
    /// kernel rejects it at boot and the readers go on as if it were not set.
    /// </summary>
    internal static long? NumberOrWarn(SystemRoot root, PersistedValue? value)
    {
        ArgumentNullException.ThrowIfNull(root);
        if (value is null)
        {
            return null;
        }

        if (value.Number is { } n)
        {
            return n;
        }

        root.Log.Warning($"{value.Source} holds '{value.Value}', which is not a whole number; the kernel will reject it at boot.");
        return null;
    }

    private static bool IsMasked(SystemRoot root, string file)
    {
        if (root.LinkTarget(file) != "/dev/null")
        {
            return false;
        }

        root.Log.Verbose($"{root.Full(file)} is a link to /dev/null: it masks that name, and the next boot reads nothing from it.");
        return true;
    }

    internal static string OwnHeader(string what) =>
        $"# Written by the ConntrackTuning PowerShell module ({what}).\n" +
        "# Set-ConntrackLimit, Set-ConntrackHashSize and Set-ConntrackTimeout update the values here in place;\n" +
        "# lines you add are kept as they are.\n";

    /// <summary>
    /// sysctl.d files in the order they are applied: every *.conf of the five folders, a name in an earlier
    /// folder hiding the same name in a later one, sorted by file name; then etc/sysctl.conf, unless one of them
    /// already is it (Debian's and Fedora's 99-sysctl.conf link to it).
    /// </summary>
    internal static IReadOnlyList<string> SysctlSources(SystemRoot root, IEnumerable<string>? proposed = null) =>
        Sources(root, SysctlDirectories, [SysctlConf], legacyFirst: false, proposed);

    internal static IReadOnlyList<string> ModprobeSources(SystemRoot root, IEnumerable<string>? proposed = null) =>
        Sources(root, ModprobeDirectories, LegacyModprobeFiles, legacyFirst: true, proposed);

    /// <param name="proposed">Files about to be created: they take their place in the order as at the next boot.</param>
    private static List<string> Sources(SystemRoot root, string[] directories, string[] legacy, bool legacyFirst, IEnumerable<string>? proposed)
    {
        var extra = new HashSet<string>(proposed ?? [], StringComparer.Ordinal);
        var byName = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (string directory in directories)
        {
            IEnumerable<string> names = root.FileNames(directory)
                .Concat(extra.Where(f => f.StartsWith(directory + "/", StringComparison.Ordinal)).Select(f => f[(directory.Length + 1)..]));
            foreach (string name in names)
            {
                if (name.EndsWith(".conf", StringComparison.Ordinal) && !byName.ContainsKey(name))
                {
                    byName[name] = directory + "/" + name;
                }
            }
        }

        // A link to /dev/null masks its name (sysctl.d(5), modules-load.d(5)): it hides the same name in the later
        // folders, as above, and has nothing to read; reading it would only warn about a character device.
        var list = byName.Values.Where(f => extra.Contains(f) || !IsMasked(root, f)).ToList();
        var resolved = new HashSet<string>(list.Select(root.ResolveInRoot), StringComparer.Ordinal);
        var single = legacy.Where(f => (root.FileExists(f) || extra.Contains(f)) && !resolved.Contains(root.ResolveInRoot(f))).ToList();
        return legacyFirst ? [.. single, .. list] : [.. list, .. single];
    }

    /// <summary>
    /// The last assignment of any of the keys across the sysctl files, as the next boot applies them. Proposed
    /// contents (root-relative path to text) stand in for the files a change is about to write.
    /// </summary>
    internal static PersistedValue? LastSysctl(SystemRoot root, IReadOnlyCollection<string> keys, IReadOnlyDictionary<string, string?>? proposed = null) =>
        LastOf(AllSysctl(root, proposed), keys);

    /// <summary>
    /// The value the next boot gives any of the keys: the last explicit assignment, else the last glob assignment that
    /// matches one (systemd-sysctl lets an explicit assignment in any file win over a glob).
    /// </summary>
    internal static PersistedValue? LastOf(Dictionary<string, PersistedValue> all, IReadOnlyCollection<string> keys) =>
        all.Where(kv => keys.Contains(kv.Key)).Select(kv => kv.Value).MaxBy(v => v.Sequence)
        ?? all.Where(kv => SysctlFile.IsGlob(kv.Key) && keys.Any(k => SysctlFile.GlobMatches(kv.Key, k))).Select(kv => kv.Value).MaxBy(v => v.Sequence);

    /// <summary>
    /// The sysctl lines the next boot takes the table's size from: the max under any of the era's names, and the
    /// buckets sysctl where the era has a writable one (null where the hash size persists otherwise).
    /// </summary>
    internal static (PersistedValue? Max, PersistedValue? Buckets) TableSizeLines(Dictionary<string, PersistedValue> sysctl, KernelEra era) =>
        (LastOf(sysctl, era.MaxPaths.Select(p => EraTable.SysctlKey(p)!).ToArray()),
         era.HashPersistence == HashPersistence.ModuleOptionBucketsSysctlOrBootParameter ? LastOf(sysctl, [EraTable.BucketsSysctlKey]) : null);

    /// <summary>
    /// The last assignment of every key (normalised) across the sysctl files, in one pass. Files this process may
    /// not read (systemd-sysctl, as root, will) are added to <paramref name="unreadable"/>: what they set is unknown.
    /// </summary>
    internal static Dictionary<string, PersistedValue> AllSysctl(SystemRoot root, IReadOnlyDictionary<string, string?>? proposed = null, List<string>? unreadable = null)
    {
        var last = new Dictionary<string, PersistedValue>(StringComparer.Ordinal);
        int sequence = 0;
        foreach (string file in SysctlSources(root, proposed?.Keys))
        {
            (string? text, bool quote) = ReadTolerant(root, file, proposed, unreadable);
            if (text is null)
            {
                continue;
            }

            IReadOnlyList<SysctlAssignment> assignments;
            var skipped = new List<string>();
            try
            {
                assignments = SysctlFile.Parse(text, root.Full(file), skipped, quote);
                foreach (string line in skipped)
                {
                    root.Log.Warning($"{line}: systemd-sysctl skips that line, and so did this reading; the file's other lines count.");
                }
            }
            catch (ConntrackException e)
            {
                SkippedUnparsable(root, e, "settings");
                continue;
            }

            foreach (SysctlAssignment a in assignments)
            {
                last[a.Key] = new PersistedValue(a.Value, file, root.Full(file), a.Line, ++sequence);
            }
        }

        return last;
    }

    /// <summary>The last value of a module option across the modprobe configuration (unreadable files as for <see cref="AllSysctl"/>).</summary>
    internal static PersistedValue? LastModuleOption(SystemRoot root, string module, string option, IReadOnlyDictionary<string, string?>? proposed = null, List<string>? unreadable = null)
    {
        PersistedValue? last = null;
        string wanted = ModprobeFile.NormalizeModule(module);
        foreach (string file in ModprobeSources(root, proposed?.Keys))
        {
            (string? text, bool quote) = ReadTolerant(root, file, proposed, unreadable);
            if (text is null)
            {
                continue;
            }

            try
            {
                foreach (ModuleOption o in ModprobeFile.Parse(text, root.Full(file), quote).Where(o => o.Module == wanted && o.Name == option))
                {
                    last = new PersistedValue(o.Value, file, root.Full(file), o.Line);
                }
            }
            catch (ConntrackException e)
            {
                SkippedUnparsable(root, e, "options");
            }
        }

        return last;
    }

    /// <summary>
    /// The modules loaded early at boot, before systemd-sysctl: every name in the modules-load.d files (a name in
    /// an earlier folder hiding the same name in a later one) and Debian's etc/modules, each with its file.
    /// </summary>
    internal static IReadOnlyList<(string Module, string Source)> ModulesLoadedAtBoot(SystemRoot root)
    {
        var loaded = new List<(string, string)>();
        foreach (string file in Sources(root, ModulesLoadDirectories, ["etc/modules"], legacyFirst: false, null))
        {
            (string? text, bool quote) = ReadTolerant(root, file, null);
            if (text is null)
            {
                continue;
            }

            try
            {
                loaded.AddRange(ModulesLoadFile.Parse(text, root.Full(file), quote).Select(m => (m, root.Full(file))));
            }
            catch (ConntrackException e)
            {
                SkippedUnparsable(root, e, "modules");
            }
        }

        return loaded;
    }

    /// <summary>
    /// An "install &lt;module&gt; ..." line of the modprobe configuration that runs sysctl when the module loads (the
    /// hook firewalld and some guides use to apply the keys of a late-loading module), with its file.
    /// </summary>
    internal static string? SysctlInstallHook(SystemRoot root, string module)
    {
        string wanted = ModprobeFile.NormalizeModule(module);
        foreach (string file in ModprobeSources(root))
        {
            foreach (string line in (ReadTolerant(root, file, null).Text ?? "").Split('\n'))
            {
                string[] words = line.Split((char[]?)null, 3, StringSplitOptions.RemoveEmptyEntries);
                if (words.Length == 3 && words[0] == "install" && ModprobeFile.NormalizeModule(words[1]) == wanted
                    && words[2].Contains("sysctl", StringComparison.Ordinal))
                {
                    return $"{root.Full(file)}: {line.Trim()}";
                }
            }
        }

        return null;
    }

    /// <summary>"nf_conntrack.hashsize=N" on the kernel command line this system booted with.</summary>
    internal static PersistedValue? CommandLineParameter(SystemRoot root, string module, string option)
    {
        string? cmdline = root.TryReadText("proc/cmdline");
        if (cmdline is null)
        {
            return null;
        }

        PersistedValue? last = null;
        string prefix = $"{module}.{option}=";
        foreach (string token in cmdline.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries))
        {
            if (token.StartsWith(prefix, StringComparison.Ordinal))
            {
                last = new PersistedValue(token[prefix.Length..], "proc/cmdline", root.Full("proc/cmdline") + " (the command line of this boot)", 0);
            }
        }

        return last;
    }

    /// <summary>
    /// Warns that a file that does not parse is left out of what the next boot applies. The parse error is worded for
    /// a command refusing to rewrite the file; here it is only read, so that ending gives way to what skipping means.
    /// </summary>
    private static void SkippedUnparsable(SystemRoot root, ConntrackException e, string what)
    {
        string reason = e.Message.EndsWith(ConfigLines.LeftAsItWas, StringComparison.Ordinal) ? e.Message[..^ConfigLines.LeftAsItWas.Length] : e.Message.TrimEnd('.');
        root.Log.Warning($"{reason}; its {what} were not taken into account.");
    }

    /// <summary>The text of a configuration file, or null with a warning; and whether its lines may be quoted.</summary>
    private static (string? Text, bool Quote) ReadTolerant(SystemRoot root, string file, IReadOnlyDictionary<string, string?>? proposed, List<string>? unreadable = null)
    {
        if (proposed is not null && proposed.TryGetValue(file, out string? text))
        {
            return (text, true);
        }

        try
        {
            return (root.ReadConfigFile(file, out bool everyoneMayRead), everyoneMayRead);
        }
        catch (ConntrackException e)
        {
            // The error is worded for a rewrite that stops; this file is only read and skipped, and the command goes on.
            string reason = e.Message.Replace("; it was left as it was and nothing was changed", "; it was not read", StringComparison.Ordinal)
                .Replace(" and nothing was changed", "", StringComparison.Ordinal).Replace("; nothing was changed", "", StringComparison.Ordinal);
            root.Log.Warning($"{reason} Its settings were not taken into account.");
            if (e.Kind == ErrorKind.PermissionDenied)
            {
                // Denied to this process only: the boot reads it as root. A FIFO or a folder the boot cannot read either.
                unreadable?.Add(root.Full(file));
            }

            return (null, true);
        }
    }
}
