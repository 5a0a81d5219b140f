namespace ConntrackTuning.Engine.Kernel;

/// <summary>
/// What the probe learns about the machine rather than the tracker: its pointer size (from the architecture the
/// root states, else the release string) and its memory (MemTotal).
/// </summary>
internal static class MachineProbe
{
    private static readonly Dictionary<string, int> ArchBits = new(StringComparer.OrdinalIgnoreCase)
    {
        ["x86_64"] = 64, ["amd64"] = 64, ["aarch64"] = 64, ["arm64"] = 64, ["ppc64"] = 64, ["ppc64le"] = 64,
        ["s390x"] = 64, ["mips64"] = 64, ["riscv64"] = 64, ["sparc64"] = 64, ["ia64"] = 64,
        ["loongarch64"] = 64, ["alpha"] = 64,
        ["i386"] = 32, ["386"] = 32, ["486"] = 32, ["586"] = 32, ["i486"] = 32, ["i586"] = 32, ["i686"] = 32, ["x86"] = 32, ["686"] = 32, ["686-pae"] = 32,
        ["PAE"] = 32, ["armv6l"] = 32, ["armv7l"] = 32, ["armhf"] = 32, ["armel"] = 32, ["arm"] = 32,
        ["ppc"] = 32, ["s390"] = 32, ["mips"] = 32, ["mipsel"] = 32, ["riscv32"] = 32,
    };

    internal static (int Bits, string Source) DetectPointerBits(SystemRoot root, string? release)
    {
        string? arch = root.TryReadText("proc/sys/kernel/arch")?.Trim();
        if (arch is not null && ArchBits.TryGetValue(arch, out int bits))
        {
            return (bits, root.Full("proc/sys/kernel/arch"));
        }

        foreach (string file in new[] { "uname", "sos_commands/kernel/uname_-a" })
        {
            string? uname = root.TryReadText(file);
            if (uname is not null && ArchBitsIn(KernelProbe.Tokens(uname).Skip(3)) is int fromUname)
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
                && long.TryParse(KernelProbe.Tokens(line).ElementAtOrDefault(1), NumberStyles.None, CultureInfo.InvariantCulture, out long kb))
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
            string[] t = KernelProbe.Tokens(line).ToArray();
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
}
