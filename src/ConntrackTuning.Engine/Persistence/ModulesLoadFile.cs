namespace ConntrackTuning.Engine.Persistence;

/// <summary>
/// modules-load.d(5) text: one module name per line, "#" and ";" comments. Pure functions; a module already
/// listed leaves the text exactly as it was.
/// </summary>
internal static class ModulesLoadFile
{
    /// <summary>The module names listed, in order (normalised: "-" read as "_").</summary>
    internal static IReadOnlyList<string> Parse(string text, string path)
    {
        ArgumentNullException.ThrowIfNull(text);
        List<ConfigLine> lines = ConfigLines.Split(text);
        ConfigLines.RejectBinary(lines, path, "a list of module names");
        var modules = new List<string>();
        for (int n = 0; n < lines.Count; n++)
        {
            string content = lines[n].Content;
            int start = ConfigLines.ContentStart(content, n == 0);
            int end = ConfigLines.ContentEnd(content);
            if (start >= end || content[start] == '#' || content[start] == ';')
            {
                continue;
            }

            string name = content[start..end];
            if (name.Any(c => c == ' ' || c == '\t'))
            {
                throw ConfigLines.Invalid(path, n + 1, $"('{name}') is not one module name");
            }

            modules.Add(ModprobeFile.NormalizeModule(name));
        }

        return modules;
    }

    /// <summary>Adds the module on a line of its own unless it is listed already.</summary>
    internal static string Ensure(string? text, string module, string path, string? header = null)
    {
        ArgumentNullException.ThrowIfNull(module);
        string start = text ?? header ?? "";
        if (Parse(start, path).Contains(ModprobeFile.NormalizeModule(module)))
        {
            return start;
        }

        List<ConfigLine> lines = ConfigLines.Split(start);
        ConfigLines.Append(lines, module);
        return ConfigLines.Join(lines);
    }
}
