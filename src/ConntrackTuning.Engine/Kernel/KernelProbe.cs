using ConntrackTuning.Engine.Images;

namespace ConntrackTuning.Engine.Kernel;

/// <summary>
/// Works out, from files alone, what kernel lives under a root and where its conntrack values are. Probing
/// what exists wins over what the version number suggests, because vendors backport.
/// </summary>
internal static class KernelProbe
{
    private static readonly string[] ReleaseFiles =
    [
        "proc/sys/kernel/osrelease",
        "proc/version",
        "uname",
        "sos_commands/kernel/uname_-a",
    ];

    /// <param name="kernelRelease">Images only: which installed kernel to read (the newest when null).</param>
    /// <param name="memoryBytes">The RAM to size kernel defaults for instead of MemTotal (an image has no MemTotal).</param>
    public static ConntrackKernel Probe(SystemRoot root, string? kernelRelease = null, long? memoryBytes = null)
    {
        ArgumentNullException.ThrowIfNull(root);
        string kind = RootKinds.Detect(root);
        if (kind == RootKinds.Image)
        {
            return ImageProbe.Probe(root, kernelRelease, memoryBytes);
        }

        (string? release, string? releaseSource) = ReadRelease(root);
        KernelVersion? version = KernelVersion.TryParse(release, out KernelVersion v) ? v : null;
        if (release is null)
        {
            root.Log.Warning($"No kernel release found under {root.Path} (looked for {string.Join(", ", ReleaseFiles)}); the era is guessed from the files present.");
        }

        (Tracker? present, string state) = DetectTracker(root, release);
        Tracker tracker = present ?? GuessTracker(root, release, version);
        KernelEra era = version is { } known ? EraTable.Find(tracker, known) : EraTable.Newest(tracker);
        root.Log.Verbose(present is null
            ? $"Neither nf_conntrack nor ip_conntrack is loaded; a kernel {release ?? "of unknown version"} would use {EraTable.TrackerName(tracker)} (era {era.Id})."
            : $"Tracker {EraTable.TrackerName(tracker)} ({state}), era {era.Id}.");

        var kernel = new ConntrackKernel(root, era, version, tracker)
        {
            KernelRelease = release,
            KernelReleaseSource = releaseSource is null ? null : root.SourceOf(releaseSource),
            ModuleState = state,
            RootKind = kind,
        };

        (kernel.PointerBits, kernel.PointerBitsSource) = MachineProbe.DetectPointerBits(root, release);
        kernel.MemoryBytes = memoryBytes ?? MachineProbe.ReadMemTotal(root);
        kernel.MemoryBytesSource = memoryBytes is not null ? "-MemoryBytes" : kernel.MemoryBytes is null ? null : root.Full("proc/meminfo");
        SettingFileProbe.ResolvePaths(root, kernel, era);
        SettingFileProbe.DetectNamespace(root, kernel);
        SettingFileProbe.DecideWritability(root, kernel, era);
        kernel.HashSizePersistence = TrackerModule.DecideHashPersistence(kernel, out _);
        return kernel;
    }

    private static (string? Release, string? Source) ReadRelease(SystemRoot root)
    {
        foreach (string file in ReleaseFiles)
        {
            string? text = root.TryReadText(file);
            if (string.IsNullOrWhiteSpace(text))
            {
                continue;
            }

            string? release = file switch
            {
                "proc/sys/kernel/osrelease" => text.Trim(),
                // "Linux version 6.18.44-fc-v782 (builder@host) (gcc ...) #1 SMP ..."
                "proc/version" => TokenAfter(text, "Linux version "),
                // uname -a: "Linux host 3.10.0-1160.el7.x86_64 #1 SMP ... x86_64 GNU/Linux"
                _ => Tokens(text).Skip(2).FirstOrDefault(),
            };
            if (release is not null && KernelVersion.TryParse(release, out _))
            {
                return (release, file);
            }
        }

        return (null, null);
    }

    private static string? TokenAfter(string text, string marker)
    {
        int i = text.IndexOf(marker, StringComparison.Ordinal);
        return i < 0 ? null : Tokens(text[(i + marker.Length)..]).FirstOrDefault();
    }

    internal static string[] Tokens(string text) =>
        text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    private static (Tracker? Tracker, string State) DetectTracker(SystemRoot root, string? release)
    {
        string[] modules = root.ReadLines("proc/modules").Select(l => Tokens(l).FirstOrDefault() ?? "").ToArray();
        bool modulesFileExists = root.FileExists("proc/modules");

        bool nf = root.DirectoryExists("sys/module/nf_conntrack")
            || root.FileExists("proc/sys/net/netfilter/nf_conntrack_max")
            || root.FileExists("proc/sys/net/nf_conntrack_max")
            || modules.Contains("nf_conntrack");
        bool ip = !nf && (root.DirectoryExists("sys/module/ip_conntrack")
            || root.FileExists("proc/sys/net/ipv4/netfilter/ip_conntrack_max")
            || root.FileExists("proc/sys/net/ipv4/ip_conntrack_max")
            || modules.Contains("ip_conntrack"));
        if (!nf && !ip)
        {
            return (null, "NotLoaded");
        }

        Tracker tracker = nf ? Tracker.NfConntrack : Tracker.IpConntrack;
        string name = EraTable.TrackerName(tracker);
        string state;
        if (root.FileExists($"sys/module/{name}/initstate") || modules.Contains(name))
        {
            state = "Module";
        }
        else if (root.DirectoryExists($"sys/module/{name}") || IsListedBuiltIn(root, release, name))
        {
            // Built-in code gets a sys/module folder for its parameters but never an initstate file.
            state = "BuiltIn";
        }
        else if (modulesFileExists || (root.IsLive && !root.FileExists("proc/modules")))
        {
            // The tracker is there but not in the module list, or the kernel has no module support at all.
            state = "BuiltIn";
        }
        else
        {
            state = "Unknown";
        }

        return (tracker, state);
    }

    private static bool IsListedBuiltIn(SystemRoot root, string? release, string name) =>
        release is not null && root.ReadLines($"lib/modules/{release}/modules.builtin")
            .Any(l => l.EndsWith("/" + name + ".ko", StringComparison.Ordinal));

    private static Tracker GuessTracker(SystemRoot root, string? release, KernelVersion? version)
    {
        if (release is not null)
        {
            foreach (string line in root.ReadLines($"lib/modules/{release}/modules.dep"))
            {
                if (line.Contains("/nf_conntrack.ko", StringComparison.Ordinal))
                {
                    return Tracker.NfConntrack;
                }

                if (line.Contains("/ip_conntrack.ko", StringComparison.Ordinal) || line.Contains("/ip_conntrack.o", StringComparison.Ordinal))
                {
                    return Tracker.IpConntrack;
                }
            }
        }

        return version is { } v ? EraTable.ExpectedTracker(v) : Tracker.NfConntrack;
    }
}
