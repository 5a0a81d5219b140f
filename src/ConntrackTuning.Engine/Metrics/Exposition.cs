namespace ConntrackTuning.Engine.Metrics;

/// <summary>
/// The Prometheus text exposition format (version 0.0.4), the one node_exporter's textfile collector reads:
/// names, escaping, numbers, and families written as # HELP, # TYPE, then their samples.
/// </summary>
internal static class Exposition
{
    /// <summary>Whether a metric name is [a-zA-Z_:][a-zA-Z0-9_:]*.</summary>
    public static bool IsValidMetricName(string name) =>
        !string.IsNullOrEmpty(name) && !char.IsAsciiDigit(name[0]) && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or ':');

    /// <summary>Whether a label name is [a-zA-Z_][a-zA-Z0-9_]* and not reserved (a leading __ belongs to Prometheus).</summary>
    public static bool IsValidLabelName(string name) =>
        !string.IsNullOrEmpty(name) && !char.IsAsciiDigit(name[0]) && !name.StartsWith("__", StringComparison.Ordinal)
        && name.All(c => char.IsAsciiLetterOrDigit(c) || c == '_');

    /// <summary>
    /// A kernel column name made fit for a metric name: lower case, every other character an underscore. Kernel
    /// columns are already such names; this guards against what a future or vendor kernel might print.
    /// </summary>
    public static string SanitizeName(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        var builder = new StringBuilder(name.Length);
        foreach (char c in name)
        {
            builder.Append(char.IsAsciiLetterOrDigit(c) ? char.ToLowerInvariant(c) : '_');
        }

        return builder.ToString();
    }

    /// <summary>A label value between double quotes: backslash, double quote and line feed escaped.</summary>
    public static string EscapeLabelValue(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        return value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);
    }

    /// <summary>A # HELP text: backslash and line feed escaped (a double quote stays as it is there).</summary>
    public static string EscapeHelp(string help)
    {
        ArgumentNullException.ThrowIfNull(help);
        return help.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);
    }

    /// <summary>A value as Go's ParseFloat reads it back exactly: whole numbers without a fraction, NaN, +Inf and -Inf.</summary>
    public static string FormatValue(double value)
    {
        if (double.IsNaN(value))
        {
            return "NaN";
        }

        if (double.IsInfinity(value))
        {
            return value > 0 ? "+Inf" : "-Inf";
        }

        // Whole numbers below 2^53 print as digits; "R" would give 1E+15 for some of them, which parses but reads worse.
        return Math.Abs(value) < 9007199254740992d && value == Math.Floor(value)
            ? ((long)value).ToString(CultureInfo.InvariantCulture)
            : value.ToString("R", CultureInfo.InvariantCulture);
    }

    /// <summary>{a="1",b="2"} in the order given, or "" without labels.</summary>
    public static string FormatLabels(IReadOnlyDictionary<string, string> labels)
    {
        ArgumentNullException.ThrowIfNull(labels);
        if (labels.Count == 0)
        {
            return "";
        }

        return "{" + string.Join(",", labels.Select(l => $"{l.Key}=\"{EscapeLabelValue(l.Value)}\"")) + "}";
    }

    /// <summary>
    /// The exposition text of the samples: each family once, in the order its first sample comes, with its
    /// # HELP and # TYPE lines before its samples. A family declared twice with another type or help, or a series
    /// given twice, is a defect of the caller and throws: a file with either is refused by node_exporter.
    /// </summary>
    public static string Render(IEnumerable<ConntrackMetric> samples)
    {
        ArgumentNullException.ThrowIfNull(samples);
        var families = new List<(string Name, string Type, string Help, List<ConntrackMetric> Samples)>();
        var index = new Dictionary<string, int>(StringComparer.Ordinal);
        var series = new HashSet<string>(StringComparer.Ordinal);
        foreach (ConntrackMetric sample in samples)
        {
            if (!series.Add(sample.Series))
            {
                throw new InvalidOperationException($"The series {sample.Series} is given twice.");
            }

            if (index.TryGetValue(sample.Name, out int at))
            {
                (string _, string type, string help, List<ConntrackMetric> list) = families[at];
                if (type != sample.Type || help != sample.Help)
                {
                    throw new InvalidOperationException($"The family {sample.Name} is declared with two types or help texts.");
                }

                list.Add(sample);
            }
            else
            {
                index[sample.Name] = families.Count;
                families.Add((sample.Name, sample.Type, sample.Help, [sample]));
            }
        }

        var text = new StringBuilder();
        foreach ((string name, string type, string help, List<ConntrackMetric> list) in families)
        {
            text.Append("# HELP ").Append(name).Append(' ').Append(EscapeHelp(help)).Append('\n');
            text.Append("# TYPE ").Append(name).Append(' ').Append(type.ToLowerInvariant()).Append('\n');
            foreach (ConntrackMetric sample in list)
            {
                text.Append(sample.Series).Append(' ').Append(FormatValue(sample.Value)).Append('\n');
            }
        }

        return text.ToString();
    }
}
