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

    private static string CounterEvidence(ConntrackStatistic s, string column, long value) =>
        $"{column} = {value.ToString(CultureInfo.InvariantCulture)} summed over {s.CpuCount} CPU(s) in {s.Source}";

    internal static IEnumerable<HealthResult> Drop(HealthContext c)
    {
        if (c.Statistics is not { Drop: { } drop } s)
        {
            yield break;
        }

        yield return drop > 0
            ? new(HealthSeverity.Warning,
                $"{N(drop)} packets were dropped by conntrack since the namespace (or the machine) started, most often because the table was full.{c.OnHost}",
                Remedy.RaiseMax(c), CounterEvidence(s, "drop", drop))
            : new(HealthSeverity.Ok, "No packet was dropped by conntrack.", null, CounterEvidence(s, "drop", drop));
    }

    internal static IEnumerable<HealthResult> EarlyDrop(HealthContext c)
    {
        if (c.Statistics is not { EarlyDrop: { } early } s)
        {
            yield break;
        }

        yield return early > 0
            ? new(HealthSeverity.Warning,
                $"{N(early)} unassured entries were evicted to make room: the table has been full.{c.OnHost}",
                Remedy.RaiseMax(c), CounterEvidence(s, "early_drop", early))
            : new(HealthSeverity.Ok, "No entry was evicted early for lack of room.", null, CounterEvidence(s, "early_drop", early));
    }

    internal static IEnumerable<HealthResult> InsertFailed(HealthContext c)
    {
        if (c.Statistics is not { InsertFailed: { } failed } s)
        {
            yield break;
        }

        yield return failed > 0
            ? new(HealthSeverity.Info,
                $"{N(failed)} new {(failed == 1 ? "entry" : "entries")} clashed with one created at the same moment (typical of parallel UDP such as DNS lookups through NAT). A larger table does not help; the remedy is on the client side (for example 'options single-request-reopen' in resolv.conf, or a node-local DNS cache).",
                null, CounterEvidence(s, "insert_failed", failed))
            : new(HealthSeverity.Ok, "No insert clash.", null, CounterEvidence(s, "insert_failed", failed));
    }
}
