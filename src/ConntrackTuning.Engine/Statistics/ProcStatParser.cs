namespace ConntrackTuning.Engine.Statistics;

/// <summary>
/// Parses proc/net/stat/nf_conntrack (or ip_conntrack): a header of column names, then one row of 8-digit hex
/// values per possible CPU. The header changed across kernels (16 columns on 2.6.11, search_restart from
/// 2.6.35, clashres and chainlength replacing searched and delete_list in 5.10 and 5.15), so values are read by
/// the name in the header, never by position, and names this parser has never heard of are carried through.
/// </summary>
internal static class ProcStatParser
{
    /// <summary>Rows longer than this are not statistics rows; a damaged file must not cost memory.</summary>
    private const int MaxLineLength = 4096;

    /// <summary>
    /// The CPUs of the file. <paramref name="cpuIds"/> maps row k to a CPU number (the kernel prints one row per
    /// possible CPU, in order); without it row k is CPU k. Damaged rows are skipped with a warning naming them;
    /// a file with no header or no row at all is an error.
    /// </summary>
    public static IReadOnlyList<CpuCounters> Parse(IEnumerable<string> lines, string path, IEngineLog log, IReadOnlyList<int>? cpuIds = null)
    {
        ArgumentNullException.ThrowIfNull(lines);
        ArgumentNullException.ThrowIfNull(log);
        string[]? header = null;
        var cpus = new List<CpuCounters>();
        int lineNumber = 0;
        foreach (string raw in lines)
        {
            lineNumber++;
            if (raw.Length > MaxLineLength)
            {
                log.Warning($"{path} line {lineNumber} is {raw.Length} characters long, not a statistics row; skipped.");
                continue;
            }

            string[] tokens = raw.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            if (tokens.Length == 0)
            {
                continue;
            }

            if (header is null)
            {
                if (!IsHeader(tokens))
                {
                    throw Malformed(path, $"its first line '{Shorten(raw)}' is not a header of column names");
                }

                header = UniqueNames(tokens);
                continue;
            }

            if (tokens.Length < header.Length)
            {
                log.Warning($"{path} line {lineNumber} has {tokens.Length} values for {header.Length} columns (a truncated row); skipped, so the sums leave out one CPU.");
                continue;
            }

            var values = new Dictionary<string, long>(tokens.Length, StringComparer.Ordinal);
            bool valid = true;
            for (int i = 0; i < tokens.Length; i++)
            {
                if (tokens[i].Length > 16 || !long.TryParse(tokens[i], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out long value) || value < 0)
                {
                    log.Warning($"{path} line {lineNumber}: '{Shorten(tokens[i])}' in column {(i < header.Length ? header[i] : (i + 1).ToString(CultureInfo.InvariantCulture))} is not a hexadecimal counter; row skipped.");
                    valid = false;
                    break;
                }

                // A value past the header has no name; keep it under its position so nothing is silently lost.
                values[i < header.Length ? header[i] : "column" + (i + 1).ToString(CultureInfo.InvariantCulture)] = value;
            }

            if (!valid)
            {
                continue;
            }

            int row = cpus.Count;
            int cpu = cpuIds is not null && row < cpuIds.Count ? cpuIds[row] : row;
            cpus.Add(new CpuCounters(cpu, values));
        }

        if (header is null)
        {
            throw Malformed(path, "it is empty");
        }

        if (cpus.Count == 0)
        {
            throw Malformed(path, "it has a header but no readable CPU row");
        }

        return cpus;
    }

    /// <summary>
    /// "0-3,8-11" (sys/devices/system/cpu/possible) to [0,1,2,3,8,9,10,11]; null when the text is not such a list.
    /// </summary>
    public static IReadOnlyList<int>? ParseCpuList(string? text)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return null;
        }

        var ids = new List<int>();
        foreach (string part in text.Trim().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            string[] range = part.Split('-');
            if (range.Length is < 1 or > 2
                || !int.TryParse(range[0], NumberStyles.None, CultureInfo.InvariantCulture, out int first)
                || (range.Length == 2 && !int.TryParse(range[1], NumberStyles.None, CultureInfo.InvariantCulture, out _)))
            {
                return null;
            }

            int last = range.Length == 2 ? int.Parse(range[1], NumberStyles.None, CultureInfo.InvariantCulture) : first;
            if (last < first || last - first > 65536 || ids.Count > 65536)
            {
                return null;
            }

            // A long counter: an int one wraps past int.MaxValue and never ends ("2147483647" in cpu/possible).
            for (long cpu = first; cpu <= last; cpu++)
            {
                ids.Add((int)cpu);
            }
        }

        return ids.Count == 0 ? null : ids;
    }

    private static bool IsHeader(string[] tokens)
    {
        foreach (string token in tokens)
        {
            if (token.Length == 0 || token.Length > 64 || !char.IsAsciiLetter(token[0]))
            {
                return false;
            }

            foreach (char c in token)
            {
                if (!char.IsAsciiLetterOrDigit(c) && c != '_')
                {
                    return false;
                }
            }
        }

        return true;
    }

    // A header naming one column twice would make the second overwrite the first; keep both.
    private static string[] UniqueNames(string[] tokens)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var names = new string[tokens.Length];
        for (int i = 0; i < tokens.Length; i++)
        {
            string name = tokens[i];
            for (int n = 2; !seen.Add(name); n++)
            {
                name = tokens[i] + "_" + n.ToString(CultureInfo.InvariantCulture);
            }

            names[i] = name;
        }

        return names;
    }

    private static string Shorten(string text)
    {
        string clean = text.Length > 60 ? text[..60] + "..." : text;
        return clean.Replace('\0', '?');
    }

    private static ConntrackException Malformed(string path, string why) =>
        new(ErrorIds.StatisticsMalformed, ErrorKind.InvalidData,
            $"The statistics file '{path}' cannot be read: {why}.", path,
            "Check that the file is the kernel's proc/net/stat/nf_conntrack (or ip_conntrack) and was captured completely; on a live system, 'conntrack -S' shows the same counters over netlink.");
}
