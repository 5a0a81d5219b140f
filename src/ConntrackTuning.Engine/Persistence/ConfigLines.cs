namespace ConntrackTuning.Engine.Persistence;

/// <summary>One physical line of a configuration file: its text and the terminator it had ("\n", "\r\n" or none).</summary>
internal readonly record struct ConfigLine(string Content, string Ending);

/// <summary>A line of a systemd drop-in that holds something: its number from 1, and where its text starts and ends.</summary>
internal readonly record struct ContentLine(int Number, string Content, int Start, int End);

/// <summary>
/// Splitting and joining configuration text so that joining the lines gives back the input exactly. The
/// rewriters work on these lines and touch only the ones they must; everything else round-trips byte for byte.
/// </summary>
internal static class ConfigLines
{
    /// <summary>The three bytes of a UTF-8 byte-order mark as Latin-1 chars (the text is decoded byte for char).</summary>
    internal const string ByteOrderMark = "\u00EF\u00BB\u00BF";

    internal static List<ConfigLine> Split(string text)
    {
        var lines = new List<ConfigLine>();
        int start = 0;
        for (int i = 0; i < text.Length; i++)
        {
            if (text[i] == '\n')
            {
                bool crlf = i > start && text[i - 1] == '\r';
                lines.Add(new ConfigLine(text[start..(crlf ? i - 1 : i)], crlf ? "\r\n" : "\n"));
                start = i + 1;
            }
        }

        if (start < text.Length)
        {
            lines.Add(new ConfigLine(text[start..], ""));
        }

        return lines;
    }

    internal static string Join(IEnumerable<ConfigLine> lines)
    {
        var builder = new StringBuilder();
        foreach (ConfigLine line in lines)
        {
            builder.Append(line.Content).Append(line.Ending);
        }

        return builder.ToString();
    }

    /// <summary>The terminator new lines get: CRLF when the file mostly uses it, LF otherwise.</summary>
    internal static string DominantEnding(IReadOnlyList<ConfigLine> lines)
    {
        int crlf = 0;
        int lf = 0;
        foreach (ConfigLine line in lines)
        {
            if (line.Ending == "\r\n")
            {
                crlf++;
            }
            else if (line.Ending == "\n")
            {
                lf++;
            }
        }

        return crlf > lf ? "\r\n" : "\n";
    }

    /// <summary>
    /// Appends a line. A last line without a terminator first gets the file's terminator, the only change ever
    /// made to a line the rewriters do not own (without it the new line would be glued onto the old one).
    /// </summary>
    internal static void Append(List<ConfigLine> lines, string content)
    {
        string ending = DominantEnding(lines);
        if (lines.Count > 0 && lines[^1].Ending.Length == 0)
        {
            lines[^1] = lines[^1] with { Ending = ending };
        }

        lines.Add(new ConfigLine(content, ending));
    }

    /// <summary>Where the text of a line starts once a leading byte-order mark (first line only) and blanks are skipped.</summary>
    internal static int ContentStart(string content, bool firstLine)
    {
        int i = firstLine && content.StartsWith(ByteOrderMark, StringComparison.Ordinal) ? ByteOrderMark.Length : 0;
        while (i < content.Length && (content[i] == ' ' || content[i] == '\t'))
        {
            i++;
        }

        return i;
    }

    /// <summary>End of the line's text without trailing blanks (and a lone carriage return some editors leave).</summary>
    internal static int ContentEnd(string content)
    {
        int end = content.Length;
        while (end > 0 && (content[end - 1] == ' ' || content[end - 1] == '\t' || content[end - 1] == '\r'))
        {
            end--;
        }

        return end;
    }

    /// <summary>
    /// The lines of a systemd drop-in (sysctl.d, modules-load.d) that hold a setting, once binary content is
    /// refused: blank lines and comments ("#" or ";" first) are passed over, as systemd does.
    /// </summary>
    internal static IEnumerable<ContentLine> SettingLines(List<ConfigLine> lines, string path, string format)
    {
        RejectBinary(lines, path, format);
        return Settings(lines);

        static IEnumerable<ContentLine> Settings(List<ConfigLine> lines)
        {
            for (int n = 0; n < lines.Count; n++)
            {
                string content = lines[n].Content;
                int start = ContentStart(content, n == 0);
                int end = ContentEnd(content);
                if (start < end && content[start] != '#' && content[start] != ';')
                {
                    yield return new ContentLine(n + 1, content, start, end);
                }
            }
        }
    }

    /// <summary>
    /// Refuses binary content: a NUL or another control character (tab, CR, LF and form feed aside) means the file
    /// is not the text format it should be, and rewriting it would only spread the damage. A CR is accepted only at
    /// the end of a line (CRLF files, and the stray CR some editors leave before it).
    /// </summary>
    internal static void RejectBinary(IReadOnlyList<ConfigLine> lines, string path, string format)
    {
        for (int n = 0; n < lines.Count; n++)
        {
            string content = lines[n].Content;
            int end = ContentEnd(content);
            for (int i = 0; i < content.Length; i++)
            {
                char c = content[i];
                if ((c < ' ' && c != '\t' && c != '\r' && c != '\f') || c == '\u007F')
                {
                    throw Invalid(path, n + 1, $"holds binary data (byte 0x{(int)c:X2}), not {format}");
                }

                // A carriage return inside a line ends the line for systemd (sysctl.d, modules-load.d) and separates
                // parameters for the kernel, but not for procps or kmod: a rewrite of a value next to one could drop
                // what one of them reads as a separate setting.
                if (c == '\r' && i < end)
                {
                    throw Invalid(path, n + 1, $"holds a carriage return inside the line (old Mac line endings?), which the programs reading {format} split differently");
                }
            }
        }
    }

    /// <summary>What a message says instead of a line of a file that not every user may read.</summary>
    internal const string NotQuoted = "(not quoted: not every user may read the file)";

    /// <summary>
    /// A line's text for a message, shortened, or <see cref="NotQuoted"/>: the content of a private file (a link to
    /// /etc/shadow among the configuration files) must not be copied into warnings and errors.
    /// </summary>
    internal static string Quote(string text, bool quote) => quote ? $"('{(text.Length > 60 ? text[..60] + "..." : text)}')" : NotQuoted;

    /// <summary>How <see cref="Invalid"/> messages end: the outcome for a command that refuses to rewrite the file.</summary>
    internal const string LeftAsItWas = "; the file was left as it was and nothing was changed.";

    internal static ConntrackException Invalid(string path, int line, string what) =>
        new(ErrorIds.PersistenceFileInvalid, ErrorKind.InvalidData,
            $"'{path}' line {line} {what}{LeftAsItWas}",
            path, $"Repair or remove '{path}' (line {line}), then run the command again.");
}
