using ConntrackTuning.Engine.Metrics;

namespace ConntrackTuning;

/// <summary>
/// One sample of the Prometheus metrics Export-ConntrackMetric writes: a metric name, its labels and a value,
/// with the type and help text its family is declared with. Output of Export-ConntrackMetric without -Path
/// (and with -PassThru); the exposition line is <see cref="Series"/> followed by the value.
/// </summary>
public sealed class ConntrackMetric
{
    internal ConntrackMetric(string name, string type, string help, IReadOnlyDictionary<string, string> labels, double value, string root)
    {
        Name = name;
        Type = type;
        Help = help;
        Labels = labels;
        Value = value;
        Root = root;
        Series = name + Exposition.FormatLabels(labels);
    }

    /// <summary>The metric name, such as conntrack_tuning_entries or conntrack_tuning_stat_drop_total.</summary>
    public string Name { get; }

    /// <summary>Gauge (a value that goes up and down) or Counter (only grows, until a reset: a reboot, or a namespace created anew).</summary>
    public string Type { get; }

    /// <summary>What the metric means: the # HELP line of its family.</summary>
    public string Help { get; }

    /// <summary>The labels of this sample (cpu, netns, source, ...), sorted by name; empty for most.</summary>
    public IReadOnlyDictionary<string, string> Labels { get; }

    public double Value { get; }

    /// <summary>The name with its labels as the exposition format writes them: conntrack_tuning_stat_drop_total{cpu="1"}.</summary>
    public string Series { get; }

    /// <summary>The folder the values were read from: "/" for this machine.</summary>
    public string Root { get; }

    /// <summary>The sample's line in the exposition format.</summary>
    public override string ToString() => Series + " " + Exposition.FormatValue(Value);
}
