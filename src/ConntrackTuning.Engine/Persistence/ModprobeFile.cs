namespace ConntrackTuning.Engine.Persistence;

/// <summary>A module option found in a modprobe configuration file.</summary>
internal sealed record ModuleOption(int Line, string Module, string Name, string Value);

/// <summary>
/// modprobe.d(5) text (also the old /etc/modprobe.conf and the 2.4 /etc/modules.conf, which share the
/// "options" syntax), as pure functions. Only the value of the option asked for changes; other options on the
/// same line, other modules, comments, continuation lines and line endings are kept byte for byte.
/// </summary>
internal static class ModprobeFile
{
    private static readonly HashSet<string> Commands = new(StringComparer.Ordinal)
    {
        "alias", "options", "install", "remove", "blacklist", "softdep", "softdeps", "include", "config", "keep",
        "above", "below", "probe", "probeall", "post-install", "pre-install", "post-remove", "pre-remove", "path", "depfile",
    };

    /// <summary>modprobe treats "-" and "_" in module names as the same character.</summary>
    internal static string NormalizeModule(string name) => name.Replace('-', '_');

    /// <summary>Every option of every "options" line, in file order. Binary data, unknown commands and the "hashsize = N" trap are errors naming the file.</summary>
    internal static IReadOnlyList<ModuleOption> Parse(string text, string path, bool quote = true)
    {
        ArgumentNullException.ThrowIfNull(text);
        List<ConfigLine> lines = ConfigLines.Split(text);
        var options = new List<ModuleOption>();
        foreach (LogicalLine logical in Analyse(lines, path, quote))
        {
            if (logical.Module is null)
            {
                continue;
            }

            foreach (Token token in logical.Tokens.Skip(2))
            {
                int eq = token.Text.IndexOf('=', StringComparison.Ordinal);
                options.Add(new ModuleOption(token.Line + 1, logical.Module,
                    Unquote(eq < 0 ? token.Text : token.Text[..eq]), eq < 0 ? "" : Unquote(token.Text[(eq + 1)..])));
            }
        }

        return options;
    }

    /// <summary>
    /// Sets one option of one module: every "name=" of that module's "options" lines gets the value in place (a bare
    /// "name", which the kernel refuses, becomes "name=value"); if there is none, it is added to the module's last "options" line, or a new "options module name=value" line
    /// is appended.
    /// </summary>
    internal static string Set(string? text, string module, string name, string value, string path, string? header = null, bool quote = true)
    {
        ArgumentNullException.ThrowIfNull(module);
        List<ConfigLine> lines = ConfigLines.Split(text ?? header ?? "");
        string wanted = NormalizeModule(module);
        bool found = false;
        LogicalLine? lastForModule = null;
        // Replacements go from the end so the earlier positions on a physical line stay valid.
        var edits = new List<(int Line, int Start, int End, string Text)>();
        foreach (LogicalLine logical in Analyse(lines, path, quote))
        {
            if (logical.Module != wanted)
            {
                continue;
            }

            lastForModule = logical;
            foreach (Token token in logical.Tokens.Skip(2))
            {
                int end = token.Start + token.Text.Length;
                if (token.Text.StartsWith(name + "=", StringComparison.Ordinal))
                {
                    found = true;
                    if (token.Text[(name.Length + 1)..] != value)
                    {
                        edits.Add((token.Line, token.Start + name.Length + 1, end, value));
                    }
                }
                else if (token.Text == name)
                {
                    // A bare "hashsize" makes the kernel refuse the module ("invalid for parameter"), so it is the
                    // option to fix, not one to add a second, valid copy after.
                    found = true;
                    edits.Add((token.Line, end, end, "=" + value));
                }
            }
        }

        foreach ((int line, int start, int end, string replacement) in edits.OrderByDescending(e => e.Line).ThenByDescending(e => e.Start))
        {
            string content = lines[line].Content;
            lines[line] = lines[line] with { Content = string.Concat(content.AsSpan(0, start), replacement, content.AsSpan(end)) };
        }

        if (!found && lastForModule is { } last)
        {
            Token lastToken = last.Tokens[^1];
            string content = lines[lastToken.Line].Content;
            int at = lastToken.Start + lastToken.Text.Length;
            lines[lastToken.Line] = lines[lastToken.Line] with { Content = string.Concat(content.AsSpan(0, at), $" {name}={value}", content.AsSpan(at)) };
        }
        else if (!found)
        {
            if (lines.Count > 0 && Continues(lines[^1].Content, lines.Count == 1))
            {
                // A last line ending in "\" would swallow the new line into its own command; a blank line ends it.
                ConfigLines.Append(lines, "");
            }

            ConfigLines.Append(lines, $"options {module} {name}={value}");
        }

        return ConfigLines.Join(lines);
    }

    private static bool Continues(string content, bool firstLine)
    {
        int start = ConfigLines.ContentStart(content, firstLine);
        int end = ConfigLines.ContentEnd(content);
        return end > start && content[end - 1] == '\\';
    }

    private sealed record Token(int Line, int Start, string Text);

    private sealed record LogicalLine(int FirstLine, List<Token> Tokens, string? Module);

    private static List<LogicalLine> Analyse(List<ConfigLine> lines, string path, bool quote)
    {
        ConfigLines.RejectBinary(lines, path, "modprobe configuration");
        var result = new List<LogicalLine>();
        int n = 0;
        while (n < lines.Count)
        {
            int first = n;
            var tokens = new List<Token>();
            bool comment = false;
            while (true)
            {
                string content = lines[n].Content;
                int start = ConfigLines.ContentStart(content, n == 0);
                int end = ConfigLines.ContentEnd(content);
                bool continues = Continues(content, n == 0);
                if (n == first && start < end && content[start] == '#')
                {
                    comment = true;
                }

                if (!comment)
                {
                    Tokenize(content, start, continues ? end - 1 : end, n, tokens);
                }

                n++;
                if (!continues || n >= lines.Count)
                {
                    break;
                }
            }

            if (comment || tokens.Count == 0)
            {
                continue;
            }

            string command = tokens[0].Text;
            if (!Commands.Contains(command))
            {
                throw ConfigLines.Invalid(path, first + 1, quote ? $"starts with '{command}', which is not a modprobe command" : $"starts with a word that is not a modprobe command {ConfigLines.NotQuoted}");
            }

            string? module = null;
            if (command == "options")
            {
                if (tokens.Count < 2)
                {
                    throw ConfigLines.Invalid(path, first + 1, "is an 'options' line without a module name");
                }

                module = NormalizeModule(tokens[1].Text);
                for (int t = 2; t < tokens.Count; t++)
                {
                    // "hashsize = 262144" passes three parameters, "hashsize", "=" and "262144": the module then
                    // refuses to load, and with it every firewall rule that needs it.
                    if (tokens[t].Text.StartsWith('=') || (tokens[t].Text.EndsWith('=') && t + 1 < tokens.Count && !tokens[t + 1].Text.Contains('=', StringComparison.Ordinal)))
                    {
                        throw ConfigLines.Invalid(path, tokens[t].Line + 1,
                            $"has a space around '=' in the options of {(quote ? tokens[1].Text : "its module " + ConfigLines.NotQuoted)}; modprobe would pass the pieces as separate parameters and the module would fail to load");
                    }
                }
            }

            result.Add(new LogicalLine(first, tokens, module));
        }

        return result;
    }

    /// <summary>The kernel drops the quotes around a value (or a whole parameter): foo="x y" sets foo to x y.</summary>
    private static string Unquote(string text) =>
        text.Length >= 1 && text[0] == '"' ? text[1..^(text.Length >= 2 && text[^1] == '"' ? 1 : 0)] : text.Length >= 1 && text[^1] == '"' && !text.Contains('=', StringComparison.Ordinal) ? text[..^1] : text;

    private static void Tokenize(string content, int start, int end, int line, List<Token> tokens)
    {
        int i = start;
        while (i < end)
        {
            while (i < end && (content[i] == ' ' || content[i] == '\t'))
            {
                i++;
            }

            // As the kernel's parameter parser (kernel/params.c, next_arg): a double quote opens or closes a quoted
            // stretch, and a space inside one does not end the parameter.
            int s = i;
            bool quoted = false;
            while (i < end && (quoted || (content[i] != ' ' && content[i] != '\t')))
            {
                if (content[i] == '"')
                {
                    quoted = !quoted;
                }

                i++;
            }

            if (i > s)
            {
                tokens.Add(new Token(line, s, content[s..i]));
            }
        }
    }
}
