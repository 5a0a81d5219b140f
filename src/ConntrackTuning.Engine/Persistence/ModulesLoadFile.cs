namespace ConntrackTuning.Engine.Persistence;

/// <summary>
/// modules-load.d(5) text: one module name per line, "#" and ";" comments. Pure functions; a module already
/// listed leaves the text exactly as it was.
/// </summary>
internal static class ModulesLoadFile
{
    /// <summary>The module names listed, in order (normalised: "-" read as "_").</summary>
    internal static IReadOnlyList<string> Parse(string text, string path, bool quote = true)
    {
        ArgumentNullException.ThrowIfNull(text);
        List<ConfigLine> lines = ConfigLines.Split(text);
        var modules = new List<string>();
        foreach ((int number, string content, int start, int end) in ConfigLines.SettingLines(lines, path, "a list of module names"))
        {
            string name = content[start..end];
            if (name.Any(c => c == ' ' || c == '\t'))
            {
                throw ConfigLines.Invalid(path, number, $"{ConfigLines.Quote(name, quote)} is not one module name");
            }

            modules.Add(ModprobeFile.NormalizeModule(name));
        }

        return modules;
    }

    /// <summary>Adds the module on a line of its own unless it is listed already.</summary>
    internal static string Ensure(string? text, string module, string path, string? header = null, bool quote = true)
    {
        ArgumentNullException.ThrowIfNull(module);
        string start = text ?? header ?? "";
        if (Parse(start, path, quote).Contains(ModprobeFile.NormalizeModule(module)))
        {
            return start;
        }

        List<ConfigLine> lines = ConfigLines.Split(start);
        ConfigLines.Append(lines, module);
        return ConfigLines.Join(lines);
    }
}
