namespace ConntrackTuning.Engine.Kernel;

/// <summary>
/// The network namespaces under a root, counted from the processes in them (proc/PID/ns/net), and how many of
/// them hold conntrack entries now (the entries column of each one's proc/PID/net/stat file). Every namespace
/// has its own table, each allowed up to the global max, so this is the multiplier of the worst case.
/// </summary>
/// <param name="Count">Distinct network namespaces that have at least one process.</param>
/// <param name="WithEntries">Of those, how many hold entries now; null when a statistics file could not be read.</param>
internal sealed record NamespaceCensus(int Count, int? WithEntries)
{
    /// <summary>
    /// Counts the namespaces; null when the root has no readable proc/PID/ns/net links (a sosreport, a
    /// planning run, or a user who may not read other users' links).
    /// </summary>
    public static NamespaceCensus? Take(SystemRoot root, Tracker tracker)
    {
        ArgumentNullException.ThrowIfNull(root);
        if (root.IsLive && !ProcessIdentity.IsRoot)
        {
            // Other users' namespace links are unreadable: a count of one's own would understate the worst case.
            root.Log.Verbose("Network namespaces are not counted: reading other users' /proc/PID/ns/net needs root.");
            return null;
        }

        var firstPid = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (string dir in root.DirectoryNames("proc"))
        {
            if (dir.Length == 0 || !char.IsAsciiDigit(dir[0]) || !IsAllDigits(dir))
            {
                continue;
            }

            // Processes come and go while the folder is listed; a vanished one simply has no link.
            string? link = root.LinkTarget($"proc/{dir}/ns/net");
            if (link is not null && link.StartsWith("net:[", StringComparison.Ordinal))
            {
                firstPid.TryAdd(link, dir);
            }
        }

        if (firstPid.Count == 0)
        {
            return null;
        }

        string statName = EraTable.TrackerName(tracker);
        int withEntries = 0;
        foreach (string pid in firstPid.Values)
        {
            long? entries = ReadEntries(root, $"proc/{pid}/net/stat/{statName}");
            if (entries is null)
            {
                root.Log.Verbose($"No readable {root.Full($"proc/{pid}/net/stat/{statName}")}: the namespaces holding entries are not counted.");
                return new NamespaceCensus(firstPid.Count, null);
            }

            if (entries > 0)
            {
                withEntries++;
            }
        }

        root.Log.Verbose($"{firstPid.Count} network namespaces have processes under {root.Full("proc")}; {withEntries} hold conntrack entries now.");
        return new NamespaceCensus(firstPid.Count, withEntries);
    }

    /// <summary>The namespace-wide count: the first column of any CPU row (every row repeats it), in hex.</summary>
    private static long? ReadEntries(SystemRoot root, string relative)
    {
        bool header = true;
        foreach (string line in root.ReadLines(relative))
        {
            if (header)
            {
                header = false;
                if (line.TrimStart().StartsWith("entries", StringComparison.Ordinal))
                {
                    continue;
                }

                return null;
            }

            string first = line.TrimStart().Split(' ', 2)[0];
            return long.TryParse(first, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out long entries) ? entries : null;
        }

        return null;
    }

    private static bool IsAllDigits(string s)
    {
        foreach (char c in s)
        {
            if (!char.IsAsciiDigit(c))
            {
                return false;
            }
        }

        return true;
    }
}
