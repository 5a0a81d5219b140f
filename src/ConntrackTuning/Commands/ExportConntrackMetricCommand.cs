using ConntrackTuning.Engine.Metrics;

namespace ConntrackTuning.Commands;

/// <summary>
/// Export-ConntrackMetric: the conntrack limits, statistics counters, logged table-full messages and drift as
/// Prometheus metrics. With -Path it replaces a .prom file for node_exporter's textfile collector atomically;
/// without, it writes the samples as objects, or with -AsText the exposition lines for a pipe. It only reads the
/// roots it is given (by value too, so folders from Get-ChildItem work); the one file it writes is -Path.
/// </summary>
[Cmdlet(VerbsData.Export, "ConntrackMetric", SupportsShouldProcess = true, DefaultParameterSetName = ObjectSet)]
[OutputType(typeof(ConntrackMetric), ParameterSetName = [ObjectSet, PathSet, LiteralPathSet])]
[OutputType(typeof(string), ParameterSetName = [TextSet])]
public sealed class ExportConntrackMetricCommand : ConntrackReadCmdlet
{
    private const string ObjectSet = "Object";
    private const string PathSet = "Path";
    private const string LiteralPathSet = "LiteralPath";
    private const string TextSet = "Text";

    private string? _fullPath;
    private string? _firstRoot;

    /// <summary>
    /// The .prom file to replace, in the folder node_exporter's --collector.textfile.directory names; the folder must
    /// exist. Wildcards name the one existing file they match.
    /// </summary>
    [Parameter(Mandatory = true, Position = 0, ParameterSetName = PathSet)]
    [SupportsWildcards]
    [ValidateNotNullOrEmpty]
    public string Path { get; set; } = "";

    /// <summary>
    /// The .prom file to replace, named exactly as written (brackets, * and ? are part of the name). Not bound from
    /// the pipeline: piped folders bind to -Root by value.
    /// </summary>
    [Parameter(Mandatory = true, ParameterSetName = LiteralPathSet)]
    [Alias("PSPath", "LP")]
    [ValidateNotNullOrEmpty]
    public string LiteralPath { get; set; } = "";

    /// <summary>Also write the samples as objects after writing the file (under -WhatIf too, showing what would be written).</summary>
    [Parameter(ParameterSetName = PathSet)]
    [Parameter(ParameterSetName = LiteralPathSet)]
    public SwitchParameter PassThru { get; set; }

    /// <summary>Write the exposition format as lines of text, for a pipe or Out-File, instead of objects.</summary>
    [Parameter(Mandatory = true, ParameterSetName = TextSet)]
    public SwitchParameter AsText { get; set; }

    /// <summary>One series per CPU (label cpu) for each statistics counter, instead of the sum over the CPUs.</summary>
    [Parameter]
    public SwitchParameter PerCpu { get; set; }

    /// <summary>How many of the fullest network namespaces get a namespace_entries series of their own; the rest are summed into one.</summary>
    [Parameter]
    [ValidateRange(1, 10000)]
    public int TopNamespaces { get; set; } = 20;

    protected override void BeginProcessing()
    {
        bool literal = ParameterSetName == LiteralPathSet;
        if (!literal && ParameterSetName != PathSet)
        {
            return;
        }

        string full;
        try
        {
            full = ResolveDestinationPath(literal ? LiteralPath : Path, literal, PathUse.MetricFile);
            MetricFile.CheckDestination(full);
        }
        catch (ConntrackException e)
        {
            // The destination is the same for every root of the pipeline: nothing can be exported.
            ThrowTerminatingError(ToErrorRecord(e));
            return;
        }

        _fullPath = full;
        if (!full.EndsWith(".prom", StringComparison.Ordinal))
        {
            WriteWarning($"'{full}' does not end in .prom: node_exporter's textfile collector reads only *.prom files, so it will not see these metrics.");
        }
    }

    protected override void ProcessRecord() => Run(() =>
    {
        ConntrackKernel kernel = ProbeKernel();
        MetricExport export = MetricCollector.Collect(kernel, new MetricOptions { PerCpu = PerCpu, TopNamespaces = TopNamespaces });
        foreach (MetricSourceResult failed in export.Sources.Where(s => !s.Success))
        {
            WriteWarning($"The {failed.Source.Replace('_', ' ')} source could not be read, so its metrics are left out and conntrack_tuning_export_source_success{{source=\"{failed.Source}\"}} is 0: {failed.Error}");
        }

        switch (ParameterSetName)
        {
            case TextSet:
                string text = export.Text;
                foreach (string line in text.TrimEnd('\n').Split('\n'))
                {
                    WriteObject(line);
                }

                break;
            case PathSet or LiteralPathSet:
                WriteFile(kernel, export);
                break;
            default:
                WriteSamples(export.Samples);
                break;
        }
    });

    private void WriteFile(ConntrackKernel kernel, MetricExport export)
    {
        string full = _fullPath!;
        if (_firstRoot is null)
        {
            _firstRoot = kernel.Root;
        }
        else if (_firstRoot != kernel.Root)
        {
            WriteWarning($"'{full}' is replaced for each root: it now holds the metrics of {kernel.Root}, not those of {_firstRoot}. Give each root its own file.");
        }

        // Rendered before ShouldProcess, so -WhatIf meets the same failures a real run would.
        string text = export.Text;
        int families = export.Samples.Select(s => s.Name).Distinct(StringComparer.Ordinal).Count();
        string description = $"Replace {full} with {export.Samples.Count} samples of {families} metrics read from {kernel.Root}";
        if (ShouldProcess(description, $"{description}?", "Export conntrack metrics"))
        {
            // A stop that came while the metrics were read leaves the old file whole rather than starting the replace.
            Cancellation.ThrowIfCancellationRequested();
            MetricFile.Write(full, text, this);
        }

        if (PassThru)
        {
            WriteSamples(export.Samples);
        }
    }

    private void WriteSamples(IEnumerable<ConntrackMetric> samples)
    {
        foreach (ConntrackMetric sample in samples)
        {
            WriteObject(sample);
        }
    }
}
