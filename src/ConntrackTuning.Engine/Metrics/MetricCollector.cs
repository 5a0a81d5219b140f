using System.Diagnostics;
using ConntrackTuning.Engine.KernelLog;
using ConntrackTuning.Engine.Limits;
using ConntrackTuning.Engine.Statistics;

namespace ConntrackTuning.Engine.Metrics;

/// <summary>What to export and, for tests, where to read from.</summary>
internal sealed class MetricOptions
{
    /// <summary>The statistics counters one series per CPU (label cpu) instead of their sum.</summary>
    public bool PerCpu { get; init; }

    /// <summary>Stands in for <see cref="StatisticsReader.DefaultSources"/>.</summary>
    public IReadOnlyList<ICpuStatisticsSource>? StatisticsSources { get; init; }

    /// <summary>Stands in for <see cref="DropEventReader.DefaultInputs"/>.</summary>
    public Func<SystemRoot, TimeWindow, IReadOnlyList<LogInput>>? LogInputs { get; init; }

    public Func<DateTimeOffset> Clock { get; init; } = () => DateTimeOffset.UtcNow;

    /// <summary>How many network namespaces get a series of their own in namespace_entries; the rest are summed into one.</summary>
    public int TopNamespaces { get; init; } = 20;
}

/// <summary>How reading one source went.</summary>
internal sealed record MetricSourceResult(string Source, bool Success, double Seconds, string? Error);

/// <summary>The samples of one export and how each source went.</summary>
internal sealed class MetricExport(IReadOnlyList<ConntrackMetric> samples, IReadOnlyList<MetricSourceResult> sources)
{
    public IReadOnlyList<ConntrackMetric> Samples { get; } = samples;

    public IReadOnlyList<MetricSourceResult> Sources { get; } = sources;

    /// <summary>The file's content: the exposition format, UTF-8.</summary>
    public string Text => Exposition.Render(Samples);
}

/// <summary>
/// Reads everything the metrics say (limits and what the next boot applies, the statistics counters from the
/// procfs file or ctnetlink, the table-full messages of the kernel log) and turns it into Prometheus samples.
/// Each source is read on its own: one that fails leaves out its own metrics and says so in
/// conntrack_tuning_export_source_success, and the others are still exported.
/// </summary>
internal static partial class MetricCollector
{
    internal const string Prefix = "conntrack_tuning_";

    internal const string Gauge = "Gauge";

    internal const string Counter = "Counter";

    /// <summary>The sources, in the order they are read and listed.</summary>
    internal static readonly string[] SourceNames = ["limits", "statistics", "kernel_log"];

    // The help of the table's size families, which Export-ConntrackMetric and Watch-Conntrack's textfile both write.
    internal const string EntriesHelp = "Entries in the conntrack table of this network namespace (nf_conntrack_count).";

    internal const string EntriesLimitHelp = "CONNTRACK_MAX (nf_conntrack_max): the most entries the table may hold; new connections are dropped beyond it. 0 means no limit.";

    internal const string UsageRatioHelp = "Entries as a fraction of the limit (entries / entries_limit); left out when there is no limit.";

    private const string StatHelpTail = " Per network namespace, from 0 when it was created; the sum over the CPUs, or one series per CPU (label cpu) with -PerCpu.";

    /// <summary>
    /// The counters of the statistics (every column but entries), by a name that does not depend on where they were
    /// read: the property's, in snake case (procfs column names and ctnetlink attribute names differ: clashres and
    /// clash_resolve, chainlength and chaintoolong).
    /// </summary>
    internal static readonly (string Name, string Help, Func<ConntrackStatistic, long?> Value)[] StatCounters =
        ConntrackStatistic.Columns.Where(c => c.Name != nameof(ConntrackStatistic.Entries))
            .Select(c => (SnakeCase(c.Name), $"Conntrack statistics counter {KernelNames(c.Keys)}: {c.Meaning}.{StatHelpTail}", c.Value))
            .ToArray();

    /// <summary>InsertFailed as insert_failed.</summary>
    private static string SnakeCase(string property) =>
        string.Concat(property.Select((ch, i) => char.IsAsciiLetterUpper(ch) ? (i > 0 ? "_" : "") + char.ToLowerInvariant(ch) : ch.ToString()));

    /// <summary>The procfs column, and the 'conntrack -S' attribute where that differs: "clashres, clash_resolve in conntrack -S".</summary>
    private static string KernelNames(string[] keys) => keys.Length == 1 ? keys[0] : $"{string.Join(", ", keys)} in conntrack -S";

    public static MetricExport Collect(ConntrackKernel kernel, MetricOptions options)
    {
        ArgumentNullException.ThrowIfNull(kernel);
        ArgumentNullException.ThrowIfNull(options);
        DateTimeOffset now = options.Clock();
        var values = new List<ConntrackMetric>();
        var results = new List<MetricSourceResult>
        {
            Read("limits", () => AddLimits(values, kernel)),
            Read("statistics", () => AddStatistics(values, kernel, options)),
            Read("kernel_log", () => AddKernelLog(values, kernel, options)),
        };
        if (WantsNamespaces(kernel))
        {
            results.Add(Read("namespaces", () => AddNamespaces(values, kernel, options)));
        }


        var samples = new List<ConntrackMetric>
        {
            Sample(kernel, "kernel_info", Gauge,
                "The kernel read: release, tracker (nf_conntrack or ip_conntrack), era (a row of ConntrackTuning's era table), module state, network namespace inode and whether it is the initial one. Always 1.",
                1, ("release", kernel.KernelRelease ?? ""), ("tracker", kernel.Tracker), ("era", kernel.Era), ("module_state", kernel.ModuleState),
                ("netns", kernel.NetworkNamespace ?? ""), ("initial_namespace", kernel.IsInitialNamespace ? "true" : "false")),
            Sample(kernel, "export_timestamp_seconds", Gauge,
                "When Export-ConntrackMetric read these values, in seconds since the Unix epoch. Alert when it grows old: the export has stopped and the file holds stale values.",
                now.ToUnixTimeMilliseconds() / 1000.0),
        };
        foreach (MetricSourceResult result in results)
        {
            samples.Add(Sample(kernel, "export_source_success", Gauge,
                "1 when the source (limits, statistics, kernel_log, and namespaces on a host read as root) was read, 0 when it failed; the metrics of a failed source are left out, and Export-ConntrackMetric warns with the reason.",
                result.Success ? 1 : 0, ("source", result.Source)));
        }

        foreach (MetricSourceResult result in results)
        {
            samples.Add(Sample(kernel, "export_source_duration_seconds", Gauge,
                "How long reading the source took, in seconds.", Math.Round(result.Seconds, 6), ("source", result.Source)));
        }

        samples.AddRange(values);
        return new MetricExport(samples, results);
    }

    private static MetricSourceResult Read(string source, Action read)
    {
        var clock = Stopwatch.StartNew();
        try
        {
            read();
            return new MetricSourceResult(source, true, clock.Elapsed.TotalSeconds, null);
        }
        catch (Exception e) when (e is ConntrackException or IOException or UnauthorizedAccessException)
        {
            return new MetricSourceResult(source, false, clock.Elapsed.TotalSeconds, e.Message);
        }
    }

    private static void AddLimits(List<ConntrackMetric> samples, ConntrackKernel kernel)
    {
        // Read whole before anything is added: a source that fails adds nothing.
        ConntrackLimit limit = LimitReader.Read(kernel);
        var added = new List<ConntrackMetric>();
        if (limit.Count is { } count)
        {
            added.Add(Sample(kernel, "entries", Gauge, EntriesHelp, count));
        }

        if (limit.Max is { } max)
        {
            added.Add(Sample(kernel, "entries_limit", Gauge, EntriesLimitHelp, max));
        }

        if (TableRatios.UsageRatio(limit.Count, limit.Max) is { } ratio)
        {
            added.Add(Sample(kernel, "usage_ratio", Gauge, UsageRatioHelp, ratio));
        }

        if (limit.ExpectCount is { } expectations)
        {
            added.Add(Sample(kernel, "expectations", Gauge, "Entries in the expectation table of this network namespace (connections helpers such as ftp and sip announced).", expectations));
        }

        if (limit.ExpectMax is { } expectMax)
        {
            added.Add(Sample(kernel, "expectations_limit", Gauge, "nf_conntrack_expect_max: the most expectations the table may hold; a helper drops the packet whose expectation does not fit.", expectMax));
        }

        if (limit.HashSize is { } buckets)
        {
            added.Add(Sample(kernel, "hash_buckets", Gauge, "HASHSIZE: buckets of the conntrack hash table (nf_conntrack_buckets, the hashsize module parameter).", buckets));
        }

        if (limit.PersistedMax is { } persistedMax)
        {
            added.Add(Sample(kernel, "persisted_entries_limit", Gauge,
                "The limit the next boot applies, from the sysctl configuration (or 8 x a hash size given at load time); left out when nothing persists it.", persistedMax));
        }

        if (limit.PersistedHashSize is { } persistedHash)
        {
            added.Add(Sample(kernel, "persisted_hash_buckets", Gauge,
                "The hash size the next boot applies (buckets sysctl, kernel command line or modprobe option, as the kernel rounds it); left out when nothing persists it.", persistedHash));
        }

        const string driftHelp = "1 when the next boot would change the setting (entries_limit or hash_buckets): what is persisted, or for a value nothing persists the kernel's own default for this memory, differs from the running value; left out when a configuration file could not be read.";
        // A 0 would say the next boot keeps the values, which nobody can tell without the unreadable file.
        if (limit.NextBootUnknown is null)
        {
            added.Add(Sample(kernel, "drift", Gauge, driftHelp, limit.MaxDrift ? 1 : 0, ("setting", "entries_limit")));
            added.Add(Sample(kernel, "drift", Gauge, driftHelp, limit.HashSizeDrift ? 1 : 0, ("setting", "hash_buckets")));
        }
        samples.AddRange(added);
    }

    private static void AddStatistics(List<ConntrackMetric> samples, ConntrackKernel kernel, MetricOptions options)
    {
        CpuStatistics statistics = StatisticsReader.Read(kernel, options.StatisticsSources);
        IReadOnlyList<ConntrackStatistic> rows = options.PerCpu
            ? ConntrackStatistic.PerCpu(statistics, kernel).ToArray()
            : [ConntrackStatistic.Sum(statistics, kernel)];
        var added = new List<ConntrackMetric>
        {
            Sample(kernel, "statistics_source_info", Gauge,
                "Where the statistics counters were read: the procfs file, or ctnetlink (as conntrack -S reads them) on kernels built without it. Always 1.",
                1, ("source", statistics.Source)),
        };
        var names = new HashSet<string>(StatCounters.Select(c => c.Name), StringComparer.Ordinal);
        foreach ((string name, string help, Func<ConntrackStatistic, long?> value) in StatCounters)
        {
            foreach (ConntrackStatistic row in rows)
            {
                if (value(row) is { } v)
                {
                    added.Add(StatSample(kernel, name, help, v, row));
                }
            }
        }

        // Columns this module does not know (a newer or vendor kernel): kept under their own names, as counters,
        // which every column of the file but entries has always been.
        foreach (string column in rows.SelectMany(r => r.Other.Keys).Distinct().Order(StringComparer.Ordinal))
        {
            string name = Exposition.SanitizeName(column);
            if (!names.Add(name) || name == "entries")
            {
                kernel.SystemRoot.Log.Verbose($"The statistics column '{column}' is left out of the metrics: its name is taken.");
                continue;
            }

            foreach (ConntrackStatistic row in rows)
            {
                if (row.Other.TryGetValue(column, out long v))
                {
                    added.Add(StatSample(kernel, name, $"Conntrack statistics column {column}, which this version of ConntrackTuning does not know; exported as the kernel names it.{StatHelpTail}", v, row));
                }
            }
        }

        samples.AddRange(added);
    }

    private static ConntrackMetric StatSample(ConntrackKernel kernel, string name, string help, long value, ConntrackStatistic row) =>
        row.Cpu is { } cpu
            ? Sample(kernel, $"stat_{name}_total", Counter, help, value, ("cpu", cpu.ToString(System.Globalization.CultureInfo.InvariantCulture)))
            : Sample(kernel, $"stat_{name}_total", Counter, help, value);

    /// <summary>
    /// The table-full messages of this boot (the whole log of a tree under -Root). On the running system the
    /// live sources are the journal and the ring buffer, never the rotated text files, so a count only grows
    /// during a boot and starts at 0 again at the next: the reset Prometheus expects of a counter.
    /// </summary>
    private static void AddKernelLog(List<ConntrackMetric> samples, ConntrackKernel kernel, MetricOptions options)
    {
        SystemRoot root = kernel.SystemRoot;
        TimeWindow window = root.IsLive && KernelLogSources.BootTime(root) is { } boot ? new TimeWindow(boot.AddSeconds(-1), null) : TimeWindow.All;
        IReadOnlyList<LogInput> inputs = options.LogInputs is { } custom ? custom(root, window) : DropEventReader.DefaultInputs(root, window);
        DropEventScanner scanner = DropEventReader.Scan(inputs, window, root.Log);
        ConntrackDropSummary summary = scanner.Summary();
        const string loggedHelp = "Table-full messages (nf_conntrack: table full, dropping packet, and every older form) in the kernel log since boot, or in every log of a tree under -Root; each is one dropped packet. "
            + "Label netns: the network namespace the message names (kernels from 6.18 name every namespace but the initial one); no label for messages that name none.";
        var added = new List<ConntrackMetric>
        {
            Sample(kernel, "log_table_full_messages_total", Counter, loggedHelp, scanner.ByNamespace.TryGetValue("", out long unnamed) ? unnamed : 0),
        };
        foreach ((string ns, long count) in scanner.ByNamespace.Where(kv => kv.Key.Length > 0).OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            added.Add(Sample(kernel, "log_table_full_messages_total", Counter, loggedHelp, count, ("netns", ns)));
        }

        added.Add(Sample(kernel, "log_suppressed_messages_total", Counter,
            "Messages the kernel's rate limit suppressed around the table-full messages (net_ratelimit: N callbacks suppressed): they may have been more drops, so logged + suppressed is the upper bound of the packets dropped.",
            summary.Suppressed));
        if (summary.LastTimeStamp is { } last)
        {
            added.Add(Sample(kernel, "log_table_full_last_timestamp_seconds", Gauge,
                "When the last table-full message was logged, in seconds since the Unix epoch; left out while there is none. Unlike the counters it never depends on how much of the log is kept.",
                new DateTimeOffset(last).ToUnixTimeMilliseconds() / 1000.0));
        }

        samples.AddRange(added);
    }

    internal static ConntrackMetric Sample(ConntrackKernel kernel, string name, string type, string help, double value, params (string Name, string Value)[] labels)
    {
        var sorted = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach ((string label, string text) in labels)
        {
            sorted.Add(label, text);
        }

        return new ConntrackMetric(Prefix + name, type, help, sorted, value, kernel.Root);
    }
}
