using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using ConntrackTuning.Engine.Netlink;
using CsCheck;
using Xunit;
using ConntrackTuning.Engine.Kernel;
using ConntrackTuning.Engine.KernelLog;
using ConntrackTuning.Engine.Limits;
using ConntrackTuning.Engine.Metrics;
using ConntrackTuning.Engine.Platform;
using ConntrackTuning.Engine.Statistics;

namespace ConntrackTuning.Engine.Tests;

/// <summary>The text exposition format: names, escaping, numbers and the grouping of families.</summary>
public class ExpositionTests
{
    private static ConntrackMetric Sample(string name, double value, string type = "Gauge", string help = "h", params (string, string)[] labels) =>
        new(name, type, help, labels.ToDictionary(l => l.Item1, l => l.Item2), value, "/");

    [Theory]
    [InlineData(@"plain", @"plain")]
    [InlineData("a\"b", "a\\\"b")]
    [InlineData(@"c:\dir", @"c:\\dir")]
    [InlineData("two\nlines", "two\\nlines")]
    [InlineData("\\\"\n", "\\\\\\\"\\n")]
    [InlineData("日本語 ünïcode", "日本語 ünïcode")]
    public void Label_values_escape_backslash_quote_and_line_feed(string value, string escaped) =>
        Assert.Equal(escaped, Exposition.EscapeLabelValue(value));

    [Fact]
    public void Any_label_value_escapes_to_one_quoted_line_that_reads_back_unchanged() =>
        Gen.OneOf(Gen.String, Gen.String[Gen.Char["\\\"\nab{},= "], 0, 40]).Sample(value =>
        {
            string escaped = Exposition.EscapeLabelValue(value);
            Assert.DoesNotContain('\n', escaped);
            Assert.Equal(value, Unescape(escaped));
        });

    /// <summary>The reader's side of label escaping, as the text format defines it; an unescaped quote ends the value, so it fails here.</summary>
    private static string Unescape(string escaped)
    {
        var text = new StringBuilder();
        for (int i = 0; i < escaped.Length; i++)
        {
            char c = escaped[i];
            Assert.NotEqual('"', c);
            if (c != '\\')
            {
                text.Append(c);
                continue;
            }

            char next = escaped[++i];
            text.Append(next switch { '\\' => '\\', '"' => '"', 'n' => '\n', _ => throw new InvalidOperationException($"escape \\{next}") });
        }

        return text.ToString();
    }

    [Fact]
    public void Help_escapes_backslash_and_line_feed_but_not_quotes() =>
        Assert.Equal("a \\\\ \"b\"\\nc", Exposition.EscapeHelp("a \\ \"b\"\nc"));

    [Theory]
    [InlineData(0d, "0")]
    [InlineData(23d, "23")]
    [InlineData(-5d, "-5")]
    [InlineData(0.9765625, "0.9765625")]
    [InlineData(1795578394.979, "1795578394.979")]
    [InlineData(4294967296d * 4294967296d, "1.8446744073709552E+19")]
    [InlineData(double.NaN, "NaN")]
    [InlineData(double.PositiveInfinity, "+Inf")]
    [InlineData(double.NegativeInfinity, "-Inf")]
    public void Values_print_as_Go_reads_them(double value, string text) => Assert.Equal(text, Exposition.FormatValue(value));

    [Theory]
    [InlineData("conntrack_tuning_entries", true)]
    [InlineData("a:b_c9", true)]
    [InlineData("9a", false)]
    [InlineData("a-b", false)]
    [InlineData("", false)]
    public void Metric_names_follow_the_grammar(string name, bool valid) => Assert.Equal(valid, Exposition.IsValidMetricName(name));

    [Theory]
    [InlineData("cpu", true)]
    [InlineData("__name__", false)]
    [InlineData("a:b", false)]
    [InlineData("1x", false)]
    public void Label_names_follow_the_grammar(string name, bool valid) => Assert.Equal(valid, Exposition.IsValidLabelName(name));

    [Theory]
    [InlineData("chainlength", "chainlength")]
    [InlineData("Future-Thing.2", "future_thing_2")]
    public void Kernel_column_names_become_metric_names(string column, string name)
    {
        Assert.Equal(name, Exposition.SanitizeName(column));
        Assert.True(Exposition.IsValidMetricName("conntrack_tuning_stat_" + Exposition.SanitizeName(column) + "_total"));
    }

    [Fact]
    public void Families_are_written_once_with_help_and_type_before_their_samples_in_first_seen_order()
    {
        string text = Exposition.Render(
        [
            Sample("b_total", 1, "Counter", "B things.", ("cpu", "0")),
            Sample("a", 2, help: "A line\nand a \\."),
            Sample("b_total", 3, "Counter", "B things.", ("cpu", "1")),
        ]);
        Assert.Equal(
            "# HELP b_total B things.\n# TYPE b_total counter\nb_total{cpu=\"0\"} 1\nb_total{cpu=\"1\"} 3\n"
            + "# HELP a A line\\nand a \\\\.\n# TYPE a gauge\na 2\n",
            text);
    }

    [Fact]
    public void A_series_given_twice_or_a_family_declared_two_ways_is_refused()
    {
        Assert.Throws<InvalidOperationException>(() => Exposition.Render([Sample("a", 1, labels: ("x", "1")), Sample("a", 2, labels: ("x", "1"))]));
        Assert.Throws<InvalidOperationException>(() => Exposition.Render([Sample("a", 1, labels: ("x", "1")), Sample("a", 2, "Counter", labels: ("x", "2"))]));
        Assert.Throws<InvalidOperationException>(() => Exposition.Render([Sample("a", 1, help: "one", labels: ("x", "1")), Sample("a", 2, help: "two", labels: ("x", "2"))]));
    }
}

/// <summary>What the collector reads from each source, and how a failing source shows.</summary>
public class MetricCollectorTests
{
    private static Dictionary<string, double> Values(MetricExport export) => export.Samples.ToDictionary(s => s.Series, s => s.Value);

    private static MetricExport Collect(FixtureTree tree, MetricOptions? options = null, RecordingLog? log = null) =>
        MetricCollector.Collect(KernelProbe.Probe(tree.Open(log)), options ?? new MetricOptions());

    [Fact]
    public void Every_name_is_valid_prefixed_and_every_counter_ends_in_total()
    {
        using var tree = new FixtureTree("linux-6.18-overflow");
        MetricExport export = Collect(tree, new MetricOptions { PerCpu = true });
        foreach (ConntrackMetric sample in export.Samples)
        {
            Assert.True(Exposition.IsValidMetricName(sample.Name), sample.Name);
            Assert.StartsWith("conntrack_tuning_", sample.Name, StringComparison.Ordinal);
            Assert.Equal(sample.Type == "Counter", sample.Name.EndsWith("_total", StringComparison.Ordinal));
            Assert.All(sample.Labels.Keys, l => Assert.True(Exposition.IsValidLabelName(l), l));
        }

        // Rendering checks that no series comes twice and every family is declared one way.
        Assert.NotEmpty(export.Text);
    }

    [Fact]
    public void The_values_of_the_overflow_fixture()
    {
        using var tree = new FixtureTree("linux-6.18-overflow");
        Dictionary<string, double> v = Values(Collect(tree));
        Assert.Equal(64000, v["conntrack_tuning_entries"]);
        Assert.Equal(65536, v["conntrack_tuning_entries_limit"]);
        Assert.Equal(64000d / 65536, v["conntrack_tuning_usage_ratio"]);
        Assert.Equal(4096, v["conntrack_tuning_hash_buckets"]);
        Assert.Equal(23, v["conntrack_tuning_stat_drop_total"]);
        Assert.Equal(3, v["conntrack_tuning_stat_clash_resolve_total"]);
        Assert.Equal(1, v["conntrack_tuning_drift{setting=\"entries_limit\"}"]);
        Assert.Equal(1, v[$"conntrack_tuning_statistics_source_info{{source=\"{tree.File("proc/net/stat/nf_conntrack")}\"}}"]);
        Assert.Equal(1, v["conntrack_tuning_log_table_full_messages_total{netns=\"4026532177\"}"]);
        Assert.All(MetricCollector.SourceNames, s => Assert.Equal(1, v[$"conntrack_tuning_export_source_success{{source=\"{s}\"}}"]));
    }

    [Fact]
    public void No_limit_means_no_usage_ratio()
    {
        using var tree = new FixtureTree("linux-6.18-builtin");
        tree.Write("proc/sys/net/netfilter/nf_conntrack_max", "0\n");
        tree.Write("proc/sys/net/nf_conntrack_max", "0\n");
        Dictionary<string, double> v = Values(Collect(tree));
        Assert.Equal(0, v["conntrack_tuning_entries_limit"]);
        Assert.False(v.ContainsKey("conntrack_tuning_usage_ratio"));
    }

    [Fact]
    public void A_source_that_fails_leaves_out_only_its_own_metrics_and_keeps_the_reason()
    {
        using var tree = new FixtureTree("linux-6.18-overflow");
        MetricExport export = Collect(tree, new MetricOptions { StatisticsSources = [new Failing()] });
        Dictionary<string, double> v = Values(export);
        Assert.Equal(0, v["conntrack_tuning_export_source_success{source=\"statistics\"}"]);
        Assert.Equal(1, v["conntrack_tuning_export_source_success{source=\"limits\"}"]);
        Assert.DoesNotContain(v.Keys, k => k.Contains("_stat_", StringComparison.Ordinal) || k.Contains("statistics_source_info", StringComparison.Ordinal));
        Assert.Equal(64000, v["conntrack_tuning_entries"]);
        MetricSourceResult failed = Assert.Single(export.Sources, s => !s.Success);
        Assert.Equal("statistics", failed.Source);
        Assert.Contains("this test has no counters", failed.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void The_log_counts_by_namespace_the_suppressed_bound_and_the_last_time()
    {
        using var tree = new FixtureTree("linux-6.18-builtin");
        string[] lines =
        [
            "Nov 25 10:00:00 h kernel: [100.0] net_ratelimit: 40 callbacks suppressed",
            "Nov 25 10:00:01 h kernel: [101.0] nf_conntrack: nf_conntrack: table full, dropping packet",
            "Nov 25 10:00:02 h kernel: [102.0] nf_conntrack: nf_conntrack: table full in netns 4026532177, dropping packet",
            "Nov 25 10:00:03 h kernel: [103.0] nf_conntrack: nf_conntrack: table full in netns 4026532177, dropping packet",
            "Nov 25 10:00:08 h kernel: [108.0] net_ratelimit: 7 callbacks suppressed",
        ];
        var reference = new DateTime(2026, 11, 25, 12, 0, 0, DateTimeKind.Local);
        MetricExport export = Collect(tree, new MetricOptions
        {
            LogInputs = (_, _) => [new LogInput { Name = "test", Context = new LogContext { YearReference = reference }, Batches = () => [lines] }],
        });
        Dictionary<string, double> v = Values(export);
        Assert.Equal(1, v["conntrack_tuning_log_table_full_messages_total"]);
        Assert.Equal(2, v["conntrack_tuning_log_table_full_messages_total{netns=\"4026532177\"}"]);
        Assert.Equal(47, v["conntrack_tuning_log_suppressed_messages_total"]);
        Assert.Equal(new DateTimeOffset(new DateTime(2026, 11, 25, 10, 0, 3, DateTimeKind.Local)).ToUnixTimeSeconds(), v["conntrack_tuning_log_table_full_last_timestamp_seconds"]);
    }

    [Fact]
    public void An_empty_log_still_has_its_counters_at_zero_so_the_first_overflow_is_an_increase()
    {
        using var tree = new FixtureTree("linux-6.18-builtin");
        MetricExport export = Collect(tree, new MetricOptions
        {
            LogInputs = (_, _) => [new LogInput { Name = "empty", Context = new LogContext { YearReference = DateTime.Now }, Batches = () => [] }],
        });
        Dictionary<string, double> v = Values(export);
        Assert.Equal(0, v["conntrack_tuning_log_table_full_messages_total"]);
        Assert.Equal(0, v["conntrack_tuning_log_suppressed_messages_total"]);
        Assert.False(v.ContainsKey("conntrack_tuning_log_table_full_last_timestamp_seconds"));
    }

    [Fact]
    public void The_drift_is_told_per_setting()
    {
        using var sos = new FixtureTree("sosreport-rhel8-4.18");
        ConntrackLimit limit = LimitReader.Read(KernelProbe.Probe(sos.Open()));
        Assert.True(limit.MaxDrift);
        Assert.False(limit.HashSizeDrift);
        Dictionary<string, double> v = Values(Collect(sos));
        Assert.Equal(524288, v["conntrack_tuning_persisted_entries_limit"]);
        Assert.Equal(1, v["conntrack_tuning_drift{setting=\"entries_limit\"}"]);
        Assert.Equal(0, v["conntrack_tuning_drift{setting=\"hash_buckets\"}"]);

        using var stale = new FixtureTree("ubuntu-5.4-stale-buckets");
        Dictionary<string, double> s = Values(Collect(stale));
        Assert.Equal(524288, s["conntrack_tuning_persisted_entries_limit"]);
        Assert.Equal(131072, s["conntrack_tuning_persisted_hash_buckets"]);
        Assert.Equal(0, s["conntrack_tuning_drift{setting=\"entries_limit\"}"]);
        Assert.Equal(0, s["conntrack_tuning_drift{setting=\"hash_buckets\"}"]);
    }

    [Fact]
    public void The_export_time_is_the_clock_s()
    {
        using var tree = new FixtureTree("linux-6.18-builtin");
        MetricExport export = Collect(tree, new MetricOptions { Clock = () => DateTimeOffset.FromUnixTimeMilliseconds(1_795_000_000_250) });
        Assert.Equal(1795000000.25, Values(export)["conntrack_tuning_export_timestamp_seconds"]);
    }

    private sealed class Failing : ICpuStatisticsSource
    {
        public CpuStatistics? TryRead(ConntrackKernel kernel, out string? unavailableReason)
        {
            unavailableReason = "this test has no counters";
            return null;
        }
    }
}

/// <summary>
/// The statistics of a kernel without the procfs file, exported from ctnetlink. The replies are this kernel's
/// capture (Data/stats-cpu.hex) replayed through the process-wide <see cref="TestHooks"/>, hence the collection.
/// </summary>
[Collection(nameof(TestHooks))]
public sealed class MetricNetlinkTests : IDisposable
{
    public void Dispose() => TestHooks.NetlinkReplayPath = null;

    [Fact]
    public void Without_the_procfs_file_the_counters_come_from_ctnetlink_under_the_same_names()
    {
        TestHooks.NetlinkReplayPath = EntryTestData.File("stats-cpu.hex");
        ConntrackKernel kernel = KernelProbe.Probe(SystemRoot.Open("/"));
        MetricExport export = MetricCollector.Collect(kernel, new MetricOptions
        {
            PerCpu = true,
            StatisticsSources = [new NoFile(), NetlinkStatisticsSource.Instance],
            LogInputs = (_, _) => [],
        });
        Dictionary<string, double> v = export.Samples.ToDictionary(s => s.Series, s => s.Value);
        Assert.Equal(1, v["conntrack_tuning_statistics_source_info{source=\"ctnetlink\"}"]);
        // What conntrack -S printed from the same replies: insert=1 on cpu 0 and insert=5 on cpu 1.
        Assert.Equal(1, v["conntrack_tuning_stat_insert_total{cpu=\"0\"}"]);
        Assert.Equal(5, v["conntrack_tuning_stat_insert_total{cpu=\"1\"}"]);
        Assert.Equal(0, v["conntrack_tuning_stat_clash_resolve_total{cpu=\"1\"}"]);
        Assert.Equal(0, v["conntrack_tuning_stat_chain_too_long_total{cpu=\"0\"}"]);
        Assert.Equal(0, v["conntrack_tuning_stat_icmp_error_total{cpu=\"0\"}"]);
        Assert.DoesNotContain(v.Keys, k => k.StartsWith("conntrack_tuning_stat_entries", StringComparison.Ordinal));
    }

    private sealed class NoFile : ICpuStatisticsSource
    {
        public CpuStatistics? TryRead(ConntrackKernel kernel, out string? unavailableReason)
        {
            unavailableReason = "the procfs file is hidden in this test";
            return null;
        }
    }
}

/// <summary>Where the metrics file may go, and how it is written.</summary>
public sealed class MetricFileTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "ctt-metric-" + Guid.NewGuid().ToString("n"));

    public MetricFileTests() => Directory.CreateDirectory(_dir);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void A_missing_folder_a_folder_as_path_and_a_file_as_folder_are_refused()
    {
        ConntrackException missing = Assert.Throws<ConntrackException>(() => MetricFile.CheckDestination(Path.Combine(_dir, "no", "c.prom")));
        Assert.Equal(ErrorIds.MetricFolderNotFound, missing.ErrorId);
        Assert.Equal(Path.Combine(_dir, "no"), missing.Target);
        Assert.False(Directory.Exists(Path.Combine(_dir, "no")));

        ConntrackException folder = Assert.Throws<ConntrackException>(() => MetricFile.CheckDestination(_dir));
        Assert.Equal(ErrorIds.MetricPathIsFolder, folder.ErrorId);
        Assert.Equal(ErrorKind.InvalidArgument, folder.Kind);

        File.WriteAllText(Path.Combine(_dir, "f"), "x");
        ConntrackException file = Assert.Throws<ConntrackException>(() => MetricFile.Write(Path.Combine(_dir, "f", "c.prom"), "a 1\n", new RecordingLog()));
        Assert.Equal(ErrorIds.MetricFolderNotFound, file.ErrorId);
    }

    [Fact]
    public void The_file_is_utf8_without_a_bom_mode_0644_and_no_temporary_file_stays()
    {
        string path = Path.Combine(_dir, "c.prom");
        var log = new RecordingLog();
        MetricFile.Write(path, "# HELP a ü\n# TYPE a gauge\na 1\n", log);
        Assert.Equal("# HELP a ü\n# TYPE a gauge\na 1\n"u8.ToArray(), File.ReadAllBytes(path));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead, File.GetUnixFileMode(path));
        Assert.Equal(["c.prom"], Directory.GetFileSystemEntries(_dir).Select(Path.GetFileName));
        Assert.Contains(log.Verbose, m => m.StartsWith($"Wrote {path} atomically", StringComparison.Ordinal));
    }

    [Fact]
    public void The_config_writer_still_creates_its_folder_and_the_metrics_writer_does_not()
    {
        using var tree = new FixtureTree("linux-6.18-builtin");
        SystemRoot root = tree.Open();
        root.WriteConfigFileAtomic("etc/new.d/x.conf", "a = 1\n");
        Assert.Equal("a = 1\n", File.ReadAllText(tree.File("etc/new.d/x.conf")));
        ConntrackException e = Assert.Throws<ConntrackException>(() => root.WriteFileAtomic("etc/other.d/x.prom", [1], createDirectory: false));
        Assert.Equal(ErrorIds.FileWriteFailed, e.ErrorId);
        Assert.False(Directory.Exists(tree.File("etc/other.d")));
    }
}
