namespace ConntrackTuning.Engine.Persistence;

/// <summary>One key to set in a sysctl file, with the other names of the same kernel variable.</summary>
/// <param name="Key">The name written when the key is added, such as net.netfilter.nf_conntrack_max.</param>
/// <param name="Aliases">
/// Other names of the same variable (net.nf_conntrack_max, net.ipv4.netfilter.ip_conntrack_max): a line with any
/// of them is updated too, or it would set the variable back at boot.
/// </param>
/// <param name="Value">The value text.</param>
internal sealed record SysctlSetting(string Key, IReadOnlyList<string> Aliases, string Value)
{
    internal bool Matches(string normalizedKey) =>
        normalizedKey == Key || Aliases.Any(a => a == normalizedKey);
}

/// <summary>An assignment found in a sysctl file.</summary>
/// <param name="Line">1-based line number.</param>
/// <param name="Key">The key, normalised to dots.</param>
/// <param name="Value">The value text, trimmed.</param>
/// <param name="IgnoreFailure">The line starts with "-": a missing key is not an error.</param>
internal sealed record SysctlAssignment(int Line, string Key, string Value, bool IgnoreFailure);

/// <summary>
/// sysctl.conf(5) and sysctl.d(5) text, as pure functions: content in, content out. Comments (# and ;), blank
/// lines, other keys, the spacing around "=", the "-" prefix, CRLF endings, a byte-order mark and duplicate keys
/// are all kept; a matching key has only its value replaced, wherever and however often it appears.
/// </summary>
internal static class SysctlFile
{
    /// <summary>
    /// "net/netfilter/nf_conntrack_max" to "net.netfilter.nf_conntrack_max". As systemd and procps do, a key
    /// whose first separator is "/" has "/" and "." swapped, so a dot inside a component survives.
    /// </summary>
    internal static string NormalizeKey(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        int slash = key.IndexOf('/', StringComparison.Ordinal);
        int dot = key.IndexOf('.', StringComparison.Ordinal);
        if (slash < 0 || (dot >= 0 && dot < slash))
        {
            return key;
        }

        char[] chars = key.ToCharArray();
        for (int i = 0; i < chars.Length; i++)
        {
            chars[i] = chars[i] switch { '/' => '.', '.' => '/', var c => c };
        }

        return new string(chars).Trim('.');
    }

    /// <summary>
    /// Every assignment, in file order, as systemd-sysctl reads the file: a line that is neither blank, a comment,
    /// "key = value" nor an exclusion ("-key", sysctl.d(5)) is skipped alone and described in
    /// <paramref name="skipped"/>, so it never hides the file's other lines (only binary content fails the whole
    /// file). Without a list, such a line is an error naming the file and line, as for a rewrite. With
    /// <paramref name="quote"/> false (a file not every user may read) the messages name lines without quoting them.
    /// </summary>
    internal static IReadOnlyList<SysctlAssignment> Parse(string text, string path, List<string>? skipped = null, bool quote = true)
    {
        ArgumentNullException.ThrowIfNull(text);
        List<ConfigLine> lines = ConfigLines.Split(text);
        return Analyse(lines, path, skipped, quote).Select(a => a.Assignment).ToList();
    }

    /// <summary>Whether a key is a glob (systemd 238 and later apply such an assignment to every key it matches).</summary>
    internal static bool IsGlob(string key) => key.AsSpan().IndexOfAny("*?[") >= 0;

    /// <summary>fnmatch(3) without flags, as systemd-sysctl matches a glob key: * and ? match any character, [...] a set.</summary>
    internal static bool GlobMatches(string pattern, string key)
    {
        ArgumentNullException.ThrowIfNull(pattern);
        ArgumentNullException.ThrowIfNull(key);
        var regex = new System.Text.StringBuilder("^");
        for (int i = 0; i < pattern.Length; i++)
        {
            char c = pattern[i];
            int close = c == '[' ? pattern.IndexOf(']', i + 2) : -1;
            regex.Append(c switch
            {
                '*' => ".*",
                '?' => ".",
                '[' when close > 0 => "[" + (pattern[i + 1] == '!' ? "^" + System.Text.RegularExpressions.Regex.Escape(pattern[(i + 2)..close]) : System.Text.RegularExpressions.Regex.Escape(pattern[(i + 1)..close])) + "]",
                _ => System.Text.RegularExpressions.Regex.Escape(c.ToString()),
            });
            if (c == '[' && close > 0)
            {
                i = close;
            }
        }

        return System.Text.RegularExpressions.Regex.IsMatch(key, regex.Append('$').ToString(), System.Text.RegularExpressions.RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1));
    }

    /// <summary>
    /// Sets every key: each line holding it (under any of its names) gets the new value in place, and a key found
    /// nowhere is appended as "key = value". With no text (the file does not exist) the header starts the file.
    /// </summary>
    internal static string Set(string? text, IReadOnlyList<SysctlSetting> settings, string path, string? header = null, bool quote = true)
    {
        ArgumentNullException.ThrowIfNull(settings);
        List<ConfigLine> lines = ConfigLines.Split(text ?? header ?? "");
        var found = new HashSet<SysctlSetting>();
        foreach ((SysctlAssignment assignment, int valueStart, int valueEnd) in Analyse(lines, path, null, quote))
        {
            SysctlSetting? setting = settings.FirstOrDefault(s => s.Matches(assignment.Key));
            if (setting is null)
            {
                continue;
            }

            found.Add(setting);
            if (assignment.Value != setting.Value)
            {
                ConfigLine line = lines[assignment.Line - 1];
                lines[assignment.Line - 1] = line with
                {
                    Content = string.Concat(line.Content.AsSpan(0, valueStart), setting.Value, line.Content.AsSpan(valueEnd)),
                };
            }
        }

        foreach (SysctlSetting setting in settings.Where(s => !found.Contains(s)))
        {
            ConfigLines.Append(lines, $"{setting.Key} = {setting.Value}");
        }

        return ConfigLines.Join(lines);
    }

    private static List<(SysctlAssignment Assignment, int ValueStart, int ValueEnd)> Analyse(List<ConfigLine> lines, string path, List<string>? skipped, bool quote)
    {
        var result = new List<(SysctlAssignment, int, int)>();
        foreach ((int number, string content, int start, int end) in ConfigLines.SettingLines(lines, path, "sysctl settings"))
        {
            bool ignoreFailure = content[start] == '-';
            int keyStart = ignoreFailure ? start + 1 : start;
            int equals = content.IndexOf('=', keyStart);
            if (equals < 0 || equals >= end)
            {
                // "-key" alone excludes the key from a glob assignment (systemd 254); anything else is skipped alone, as systemd does.
                if (!ignoreFailure || content[keyStart..end].Trim(' ', '\t') is not { Length: > 0 } excluded || excluded.Any(c => c == ' ' || c == '\t'))
                {
                    Skip(skipped, path, number, $"{ConfigLines.Quote(content[start..end], quote)} is not a 'key = value' assignment");
                }

                continue;
            }

            string key = content[keyStart..equals].Trim(' ', '\t');
            if (key.Length == 0 || key.Any(c => c == ' ' || c == '\t'))
            {
                Skip(skipped, path, number, $"{ConfigLines.Quote(content[start..end], quote)} has no valid key before '='");
                continue;
            }

            int valueStart = equals + 1;
            while (valueStart < end && (content[valueStart] == ' ' || content[valueStart] == '\t'))
            {
                valueStart++;
            }

            int valueEnd = Math.Max(valueStart, end);
            result.Add((new SysctlAssignment(number, NormalizeKey(key), content[valueStart..valueEnd], ignoreFailure), valueStart, valueEnd));
        }

        return result;
    }

    /// <summary>
    /// A line systemd-sysctl would skip: a reader (<paramref name="skipped"/> given) notes it and goes on; a rewrite
    /// refuses the file, since writing next to lines nobody can read is guessing what they meant.
    /// </summary>
    private static void Skip(List<string>? skipped, string path, int line, string why)
    {
        if (skipped is null)
        {
            throw ConfigLines.Invalid(path, line, why);
        }

        skipped.Add($"{path}:{line} {why}");
    }
}
