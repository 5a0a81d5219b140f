using static ConntrackTuning.Engine.Health.HealthText;

namespace ConntrackTuning.Engine.Health;

/// <summary>The checks on the statistics counters: packets dropped, entries evicted early, inserts that clashed.</summary>
internal static class CounterChecks
{
    internal static IEnumerable<HealthResult> Statistics(HealthContext c)
    {
        if (c.Statistics is null)
        {
            yield return new(HealthSeverity.Info, $"The drop counters cannot be read, so the Drop, EarlyDrop and InsertFailed checks were skipped: {c.StatisticsError}");
        }
    }

    internal static IEnumerable<HealthResult> Drop(HealthContext c) =>
        Counter(c, s => s.Drop, "drop", "No packet was dropped by conntrack.", drop => new(HealthSeverity.Warning,
            $"{N(drop)} packets were dropped by conntrack since the namespace (or the machine) started, most often because the table was full.{c.OnHost}",
            Remedy.RaiseMax(c)));

    internal static IEnumerable<HealthResult> EarlyDrop(HealthContext c) =>
        Counter(c, s => s.EarlyDrop, "early_drop", "No entry was evicted early for lack of room.", early => new(HealthSeverity.Warning,
            $"{N(early)} unassured entries were evicted to make room: the table has been full.{c.OnHost}",
            Remedy.RaiseMax(c)));

    internal static IEnumerable<HealthResult> InsertFailed(HealthContext c) =>
        Counter(c, s => s.InsertFailed, "insert_failed", "No insert clash.", failed => new(HealthSeverity.Info,
            $"{N(failed)} new {(failed == 1 ? "entry" : "entries")} clashed with one created at the same moment (typical of parallel UDP such as DNS lookups through NAT). A larger table does not help; the remedy is on the client side (for example 'options single-request-reopen' in resolv.conf, or a node-local DNS cache).",
            null));

    /// <summary>
    /// One counter's check: nothing when the counter cannot be read, the finding <paramref name="whenCounted"/> makes
    /// of a count above 0, Ok otherwise; either way with the counter's column and sum as the evidence.
    /// </summary>
    private static IEnumerable<HealthResult> Counter(HealthContext c, Func<ConntrackStatistic, long?> read, string column, string ok,
        Func<long, HealthResult> whenCounted)
    {
        if (c.Statistics is not { } s || read(s) is not { } value)
        {
            yield break;
        }

        string evidence = $"{column} = {value.ToString(CultureInfo.InvariantCulture)} summed over {s.CpuCount} CPU(s) in {s.Source}";
        yield return value > 0 ? whenCounted(value) with { Evidence = evidence } : new(HealthSeverity.Ok, ok, null, evidence);
    }
}
