using ConntrackTuning.Engine.Kernel;

namespace ConntrackTuning.Engine.Images;

/// <summary>One kernel installed in an image: its module folder, and how it builds the tracker.</summary>
/// <param name="Release">The folder name under lib/modules, which is what uname -r prints once it boots.</param>
/// <param name="ModulesFolder">Root-relative: lib/modules/&lt;release&gt; or usr/lib/modules/&lt;release&gt;.</param>
/// <param name="TrackerState">Module, BuiltIn, NotBuilt (the config leaves it out) or Unknown.</param>
/// <param name="TrackerStateSource">The file and line that told the state.</param>
/// <param name="Procfs">CONFIG_NF_CONNTRACK_PROCFS from the kernel's config: true, false, or null without a config file.</param>
/// <param name="PointerBits">64 or 32 from CONFIG_64BIT, else from the release's architecture suffix; null when neither tells.</param>
internal sealed record InstalledKernel(string Release, string ModulesFolder, string TrackerState, string? TrackerStateSource,
    bool? Procfs, string? ConfigFile, KernelVersion? Version, int? PointerBits = null);

/// <summary>
/// Reads the kernels an image has installed (lib/modules/&lt;release&gt;/ and usr/lib/modules, modules.dep,
/// modules.builtin, boot/config-&lt;release&gt;), without any running kernel: what the image will boot.
/// </summary>
internal static class InstalledKernels
{
    internal static readonly string[] ModuleRoots = ["lib/modules", "usr/lib/modules"];

    /// <summary>Every installed kernel, newest first (by version, then by the release's numbers: 6.1.0-50 after 6.1.0-9).</summary>
    public static IReadOnlyList<InstalledKernel> Find(SystemRoot root, string tracker = "nf_conntrack")
    {
        ArgumentNullException.ThrowIfNull(root);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var kernels = new List<InstalledKernel>();
        foreach (string modules in ModuleRoots)
        {
            foreach (string release in root.DirectoryNames(modules))
            {
                root.Cancellation.ThrowIfCancellationRequested();
                // Merged /usr makes lib a link to usr/lib: the same kernel seen twice is one kernel.
                if (!KernelVersion.TryParse(release, out KernelVersion version) || !seen.Add(release))
                {
                    continue;
                }

                kernels.Add(Describe(root, release, $"{modules}/{release}", tracker, version));
            }
        }

        kernels.Sort((a, b) => -Compare(a, b));
        return kernels;
    }

    /// <summary>The kernel the image boots by default (the newest), or the one asked for; null when none is installed.</summary>
    public static InstalledKernel? Choose(IReadOnlyList<InstalledKernel> installed, string? release, string rootPath)
    {
        ArgumentNullException.ThrowIfNull(installed);
        if (release is null)
        {
            return installed.Count > 0 ? installed[0] : null;
        }

        return installed.FirstOrDefault(k => k.Release == release)
            ?? throw new ConntrackException(ErrorIds.KernelReleaseNotInstalled, ErrorKind.ObjectNotFound,
                installed.Count == 0
                    ? $"No kernel is installed under {rootPath} (lib/modules and usr/lib/modules hold no release folder), so there is no kernel release '{release}' to read."
                    : $"Kernel release '{release}' is not installed under {rootPath}; installed: {string.Join(", ", installed.Select(k => k.Release))}.",
                release, "Give -KernelRelease one of the installed releases (tab completes them), or omit it for the newest.");
    }

    private static InstalledKernel Describe(SystemRoot root, string release, string folder, string tracker, KernelVersion version)
    {
        (string? config, Dictionary<string, string> options) = ReadConfig(root, release);
        string key = tracker == "ip_conntrack" ? "CONFIG_IP_NF_CONNTRACK" : "CONFIG_NF_CONNTRACK";
        bool? procfs = config is null ? null : options.TryGetValue("CONFIG_NF_CONNTRACK_PROCFS", out string? p) && p == "y";
        int? bits = config is not null && options.ContainsKey("CONFIG_64BIT") ? options["CONFIG_64BIT"] == "y" ? 64 : 32
            : MachineProbe.PointerBitsFromRelease(release);
        InstalledKernel Make(string state, string? source) => new(release, folder, state, source, procfs, config, version, bits);

        // The module lists are what depmod wrote for this very kernel; the config file says what was built.
        string? builtinLine = root.ReadLines($"{folder}/modules.builtin").FirstOrDefault(l => IsModuleLine(l, tracker));
        if (builtinLine is not null)
        {
            return Make("BuiltIn", $"{root.Full(folder + "/modules.builtin")}: {builtinLine}");
        }

        string? depLine = root.ReadLines($"{folder}/modules.dep").FirstOrDefault(l => IsModuleLine(l.Split(':')[0], tracker));
        if (depLine is not null)
        {
            return Make("Module", $"{root.Full(folder + "/modules.dep")}: {depLine.Split(':')[0]}");
        }

        if (config is not null && options.TryGetValue(key, out string? value))
        {
            string state = value switch { "m" => "Module", "y" => "BuiltIn", _ => "NotBuilt" };
            return Make(state, $"{root.Full(config)}: {key}={value}");
        }

        if (config is not null)
        {
            return Make("NotBuilt", $"{root.Full(config)}: {key} is not set");
        }

        return Make("Unknown", null);
    }

    // modules.builtin lists "kernel/net/netfilter/nf_conntrack.ko"; modules.dep the same with .ko.xz or .ko.zst.
    private static bool IsModuleLine(string path, string module)
    {
        string name = path[(path.LastIndexOf('/') + 1)..];
        int ko = name.IndexOf(".ko", StringComparison.Ordinal);
        return ko > 0 && string.Equals(name[..ko].Replace('-', '_'), module, StringComparison.Ordinal);
    }

    private static (string? File, Dictionary<string, string> Options) ReadConfig(SystemRoot root, string release)
    {
        var options = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (string file in new[] { $"boot/config-{release}", $"lib/modules/{release}/config", $"usr/lib/modules/{release}/config" })
        {
            if (!root.FileExists(file))
            {
                continue;
            }

            foreach (string line in root.ReadLines(file))
            {
                if (line.StartsWith("CONFIG_", StringComparison.Ordinal) && line.IndexOf('=', StringComparison.Ordinal) is int eq and > 0)
                {
                    options[line[..eq]] = line[(eq + 1)..].Trim();
                }
                else if (line.StartsWith("# CONFIG_", StringComparison.Ordinal) && line.EndsWith(" is not set", StringComparison.Ordinal))
                {
                    options[line[2..^" is not set".Length]] = "n";
                }
            }

            return (file, options);
        }

        return (null, options);
    }

    private static int Compare(InstalledKernel a, InstalledKernel b)
    {
        int c = Nullable.Compare(a.Version, b.Version);
        return c != 0 ? c : NaturalCompare(a.Release, b.Release);
    }

    /// <summary>Compares runs of digits as numbers, the rest as text: 6.1.0-50-amd64 sorts after 6.1.0-9-amd64.</summary>
    internal static int NaturalCompare(string a, string b)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        int i = 0, j = 0;
        while (i < a.Length && j < b.Length)
        {
            if (char.IsAsciiDigit(a[i]) && char.IsAsciiDigit(b[j]))
            {
                int si = i, sj = j;
                while (i < a.Length && char.IsAsciiDigit(a[i])) i++;
                while (j < b.Length && char.IsAsciiDigit(b[j])) j++;
                string da = a[si..i].TrimStart('0'), db = b[sj..j].TrimStart('0');
                int c = da.Length != db.Length ? da.Length.CompareTo(db.Length) : string.CompareOrdinal(da, db);
                if (c != 0)
                {
                    return c;
                }
            }
            else
            {
                if (a[i] != b[j])
                {
                    return a[i].CompareTo(b[j]);
                }

                i++;
                j++;
            }
        }

        return (a.Length - i).CompareTo(b.Length - j);
    }

    /// <summary>The releases, newest first, as one line for messages.</summary>
    internal static string List(IReadOnlyList<InstalledKernel> installed) => string.Join(", ", installed.Select(k => k.Release));
}
