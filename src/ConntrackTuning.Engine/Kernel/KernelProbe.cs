using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using ConntrackTuning.Engine.Images;
using ConntrackTuning.Engine.Platform;

namespace ConntrackTuning.Engine.Kernel;

/// <summary>
/// Works out, from files alone, what kernel lives under a root and where its conntrack values are. Probing
/// what exists wins over what the version number suggests, because vendors backport.
/// </summary>
public static class KernelProbe
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

        (kernel.PointerBits, kernel.PointerBitsSource) = DetectPointerBits(root, release);
        kernel.MemoryBytes = memoryBytes ?? ReadMemTotal(root);
        kernel.MemoryBytesSource = memoryBytes is not null ? "-MemoryBytes" : kernel.MemoryBytes is null ? null : root.Full("proc/meminfo");
        ResolvePaths(root, kernel, era);
        DetectNamespace(root, kernel);
        DecideWritability(root, kernel, era);
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

    private static string[] Tokens(string text) =>
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

    private static readonly Dictionary<string, int> ArchBits = new(StringComparer.OrdinalIgnoreCase)
    {
        ["x86_64"] = 64, ["amd64"] = 64, ["aarch64"] = 64, ["arm64"] = 64, ["ppc64"] = 64, ["ppc64le"] = 64,
        ["s390x"] = 64, ["mips64"] = 64, ["riscv64"] = 64, ["sparc64"] = 64, ["ia64"] = 64,
        ["loongarch64"] = 64, ["alpha"] = 64,
        ["i386"] = 32, ["386"] = 32, ["486"] = 32, ["586"] = 32, ["i486"] = 32, ["i586"] = 32, ["i686"] = 32, ["x86"] = 32, ["686"] = 32, ["686-pae"] = 32,
        ["PAE"] = 32, ["armv6l"] = 32, ["armv7l"] = 32, ["armhf"] = 32, ["armel"] = 32, ["arm"] = 32,
        ["ppc"] = 32, ["s390"] = 32, ["mips"] = 32, ["mipsel"] = 32, ["riscv32"] = 32,
    };

    private static (int Bits, string Source) DetectPointerBits(SystemRoot root, string? release)
    {
        string? arch = root.TryReadText("proc/sys/kernel/arch")?.Trim();
        if (arch is not null && ArchBits.TryGetValue(arch, out int bits))
        {
            return (bits, root.Full("proc/sys/kernel/arch"));
        }

        foreach (string file in new[] { "uname", "sos_commands/kernel/uname_-a" })
        {
            string? uname = root.TryReadText(file);
            if (uname is not null && ArchBitsIn(Tokens(uname).Skip(3)) is int fromUname)
            {
                return (fromUname, root.Full(file));
            }
        }

        if (release is not null && PointerBitsFromRelease(release) is int fromRelease)
        {
            return (fromRelease, "kernel release " + release);
        }

        // Kernel symbol addresses are as wide as a pointer: 8 hex digits on 32-bit, 16 on 64-bit. 2.4 calls the
        // file ksyms; kallsyms may show zeros to other users, but zeros keep the width.
        foreach (string file in new[] { "proc/kallsyms", "proc/ksyms" })
        {
            foreach (string line in root.ReadLines(file).Take(1))
            {
                int width = line.IndexOf(' ', StringComparison.Ordinal);
                if (width is 8 or 16)
                {
                    return (width * 4, root.Full(file) + " (symbol address width)");
                }
            }
        }

        // A 64-bit kernel reserves terabytes of vmalloc space; a 32-bit one less than 4 GiB.
        foreach (string line in root.ReadLines("proc/meminfo"))
        {
            if (line.StartsWith("VmallocTotal:", StringComparison.Ordinal)
                && long.TryParse(Tokens(line).ElementAtOrDefault(1), NumberStyles.None, CultureInfo.InvariantCulture, out long kb))
            {
                return (kb > 4L * 1024 * 1024 ? 64 : 32, root.Full("proc/meminfo") + " (VmallocTotal)");
            }
        }

        if (root.IsLive)
        {
            return (Environment.Is64BitOperatingSystem ? 64 : 32, "this process");
        }

        return (64, "assumed (nothing under the root tells)");
    }

    /// <summary>
    /// The pointer width a release string names, or null: vendor releases often end in the architecture
    /// (3.10.0-1160.el7.x86_64, 4.19.0-6-amd64, 2.6.18-419.el5PAE). Not split at '_', or x86_64 reads as x86.
    /// </summary>
    internal static int? PointerBitsFromRelease(string release)
    {
        ArgumentNullException.ThrowIfNull(release);
        if (ArchBitsIn(release.Split('.', '-')) is int bits)
        {
            return bits;
        }

        return release.EndsWith("PAE", StringComparison.Ordinal) ? 32 : null;
    }

    private static int? ArchBitsIn(IEnumerable<string> tokens)
    {
        foreach (string token in tokens)
        {
            if (ArchBits.TryGetValue(token, out int bits))
            {
                return bits;
            }
        }

        return null;
    }

    /// <summary>MemTotal in bytes. The 2.4 format puts a byte table before the kB lines; either is accepted.</summary>
    internal static long? ReadMemTotal(SystemRoot root)
    {
        long? memLine = null;
        foreach (string line in root.ReadLines("proc/meminfo"))
        {
            string[] t = Tokens(line).ToArray();
            if (t.Length >= 2 && t[0] == "MemTotal:" && long.TryParse(t[1], NumberStyles.None, CultureInfo.InvariantCulture, out long kb))
            {
                return kb <= long.MaxValue / 1024 ? kb * 1024 : null;
            }

            if (t.Length >= 2 && t[0] == "Mem:" && long.TryParse(t[1], NumberStyles.None, CultureInfo.InvariantCulture, out long bytes))
            {
                memLine = bytes;
            }
        }

        return memLine;
    }

    private static void ResolvePaths(SystemRoot root, ConntrackKernel kernel, KernelEra era)
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

    private static void DetectNamespace(SystemRoot root, ConntrackKernel kernel)
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

    private static void DecideWritability(SystemRoot root, ConntrackKernel kernel, KernelEra era)
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
