namespace ConntrackTuning.Engine.Limits;

/// <summary>
/// The one copy of the ratios every reader reports about a table, so Get-ConntrackLimit, an image root, a
/// recommendation, a namespace, a summary and the metrics never disagree in the last decimal. The percentages and
/// entries per bucket round to two decimals with Math.Round's default (to even), the rounding these properties have
/// always had; the metric's ratio is left whole, as Prometheus takes it.
/// </summary>
internal static class TableRatios
{
    /// <summary>Count as a percentage of max; null when either is unknown or max is 0 or less (0 means no limit).</summary>
    internal static double? UsagePercent(long? count, long? max) =>
        count is { } c && max is > 0 ? Percent(c, max.Value) : null;

    /// <summary>Count over max, unrounded, as the usage_ratio metric exports it; null when either is unknown or max is 0 or less.</summary>
    internal static double? UsageRatio(long? count, long? max) =>
        count is { } c && max is > 0 ? (double)c / max.Value : null;

    /// <summary>Part as a percentage of a whole that may be empty: 0 of nothing is 0 %, not unknown.</summary>
    internal static double Share(long part, long whole) => whole == 0 ? 0 : Percent(part, whole);

    /// <summary>Max / hash size: the chain a lookup walks in a full table; null when either is unknown or there are no buckets.</summary>
    internal static double? EntriesPerBucket(long? max, long? hashSize) =>
        max is { } m && hashSize is > 0 ? EntriesPerBucket(m, hashSize.Value) : null;

    /// <summary>Max / hash size for a hash size known to be above 0.</summary>
    internal static double EntriesPerBucket(long max, long hashSize) => Math.Round((double)max / hashSize, 2);

    // 100.0 * part / whole, not part / whole * 100: the two differ in the last bit, and this is the order the
    // outputs were computed in before they shared it.
    private static double Percent(long part, long whole) => Math.Round(100.0 * part / whole, 2);
}
