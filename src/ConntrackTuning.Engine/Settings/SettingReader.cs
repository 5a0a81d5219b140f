using ConntrackTuning.Engine.Kernel;
using ConntrackTuning.Engine.Persistence;

namespace ConntrackTuning.Engine.Settings;

/// <summary>A setting of this era: its row and its file under the root.</summary>
internal sealed record EraSettingFile(EraSetting Row, string Name, string Relative, string Key);

/// <summary>Lists and reads the tracker's other sysctls of a root's era (see <see cref="EraSettings"/>).</summary>
internal static class SettingReader
{
    /// <summary>
    /// The settings this kernel has: those whose file exists, or (with no running tracker: an image, or a tracker not
    /// loaded yet, whose files -PersistOnly can still write as Set-ConntrackLimit and Set-ConntrackTimeout do) those
    /// its version has.
    /// </summary>
    public static IReadOnlyList<EraSettingFile> List(ConntrackKernel kernel)
    {
        ArgumentNullException.ThrowIfNull(kernel);
        KernelEra era = kernel.EraRow;
        if (era.TimeoutDirectory is not { } directory || era.TimeoutPrefix is not { } prefix)
        {
            return [];
        }

        // The tracker's own folder, not proc/sys: a sosreport's sysctl -a stands in for its files but gives no
        // top-level folder, and what it lists is all the captured kernel had.
        bool byVersion = !kernel.IsLoaded || !kernel.SystemRoot.DirectoryExists(directory);
        var list = new List<EraSettingFile>();
        foreach (EraSetting row in EraSettings.Rows)
        {
            string relative = directory + "/" + prefix + row.Name;
            bool exists = kernel.SystemRoot.FileExists(relative);
            if (exists || (byVersion && row.ExistsIn(kernel.Version)))
            {
                list.Add(new EraSettingFile(row, prefix + row.Name, relative, EraTable.SysctlKey(relative) ?? relative));
            }
        }

        return list;
    }

    /// <summary>Finds a setting by its name with or without the prefix (tcp_be_liberal, nf_conntrack_tcp_be_liberal) or its key.</summary>
    public static EraSettingFile Find(ConntrackKernel kernel, string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        IReadOnlyList<EraSettingFile> list = List(kernel);
        string n = name.Trim();
        EraSettingFile? found = list.FirstOrDefault(s => string.Equals(s.Name, n, StringComparison.OrdinalIgnoreCase)
            || string.Equals(s.Row.Name, n, StringComparison.OrdinalIgnoreCase) || string.Equals(s.Key, n, StringComparison.OrdinalIgnoreCase));
        return found ?? throw new ConntrackException(ErrorIds.SettingNotFound, ErrorKind.ObjectNotFound,
            $"Kernel {kernel.KernelRelease ?? kernel.Era} has no conntrack setting '{name}'." + (list.Count > 0 ? $" It has: {string.Join(", ", list.Select(s => s.Row.Name))}." : ""),
            name, "Run Get-ConntrackSetting to list this kernel's settings (Tab completes -Name); the max, the hash size and the timeouts have their own Set- commands.");
    }

    public static ConntrackSetting Read(ConntrackKernel kernel, EraSettingFile s)
    {
        ArgumentNullException.ThrowIfNull(kernel);
        ArgumentNullException.ThrowIfNull(s);
        SystemRoot root = kernel.SystemRoot;
        long? value = root.FileExists(s.Relative) ? root.TryReadInt64(s.Relative) : null;
        (bool writable, string? why) = Writable(kernel, s);
        PersistedValue? persisted = BootConfig.LastSysctl(root, [s.Key]);
        long? persistedValue = persisted is not null && long.TryParse(persisted.Value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long p) ? p : null;
        return new ConntrackSetting
        {
            Name = s.Name,
            Key = s.Key,
            Value = value,
            Default = s.Row.Name == "expect_max" ? ExpectMaxDefault(kernel) : s.Row.DefaultFor(kernel.Version),
            Meaning = s.Row.Meaning,
            Scope = s.Row.PerNamespace ? "PerNamespace" : "Global",
            Writable = writable,
            NotWritableReason = why,
            PersistedValue = persistedValue,
            PersistedSource = persisted?.Source,
            Minimum = s.Row.Min,
            Maximum = s.Row.Max,
            Path = root.Full(s.Relative),
            Root = kernel.Root,
        };
    }

    /// <summary>
    /// What the kernel sets nf_conntrack_expect_max to when the tracker loads: four per bucket of the expectation
    /// hash, whose size is the expect_hashsize option when the command line or modprobe.d gives one, else the connection hash's buckets / 256
    /// (at least 1). sys/module/nf_conntrack/parameters/expect_hashsize cannot stand in for it: the kernel rounds the
    /// hash up to a page of buckets after the max is computed (512 buckets with 4 KiB pages, so a 1 GiB host reads
    /// 512 there and has a max of 128). Null where the hash size is unknown.
    /// </summary>
    internal static long? ExpectMaxDefault(ConntrackKernel kernel)
    {
        SystemRoot root = kernel.SystemRoot;
        PersistedValue? option = BootConfig.CommandLineParameter(root, "nf_conntrack", "expect_hashsize")
            ?? BootConfig.LastModuleOption(root, "nf_conntrack", "expect_hashsize");
        if (option is not null && long.TryParse(option.Value, NumberStyles.None, CultureInfo.InvariantCulture, out long given) && given > 0)
        {
            return 4 * given;
        }

        long? buckets = kernel.BucketsPathsFound.Count > 0 ? root.TryReadInt64(kernel.BucketsPathsFound[0]) : null;
        return buckets is > 0 ? 4 * Math.Max(1, buckets.Value / 256) : null;
    }

    /// <summary>Whether the running value can be changed here, and why not.</summary>
    public static (bool, string?) Writable(ConntrackKernel kernel, EraSettingFile s)
    {
        SystemRoot root = kernel.SystemRoot;
        if (!root.IsLive)
        {
            return (false, $"{root.Path} is not the running system; only -PersistOnly can write its sysctl files.");
        }

        if (!s.Row.PerNamespace && !kernel.IsInitialNamespace)
        {
            return (false, $"{s.Name} is global and belongs to the host: read-only in any network namespace but the initial one.");
        }

        if (!root.FileExists(s.Relative))
        {
            return (false, $"{root.Full(s.Relative)} does not exist.");
        }

        return root.IsWritable(s.Relative, out string? reason) ? (true, null) : (false, reason ?? $"{root.Full(s.Relative)} is read-only.");
    }
}
