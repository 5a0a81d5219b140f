namespace ConntrackTuning;

/// <summary>
/// One interval of Watch-Conntrack: the entry count against the max, how fast it grows, the rate of new
/// connections (from events: the kernel's own "new" counter is always 0), the per-second rates of the drop and
/// trouble counters, and when the table is full at the current trend. Rates are null in the first sample, which
/// has nothing to compare with.
/// </summary>
public sealed class ConntrackWatchSample
{
    /// <summary>1 for the first interval.</summary>
    public int Sample { get; init; }

    public DateTimeOffset Time { get; init; }

    /// <summary>Seconds since the previous sample (the interval as measured).</summary>
    public double Seconds { get; init; }

    public long? Count { get; init; }

    public long? Max { get; init; }

    public double? UsagePercent { get; init; }

    /// <summary>Change of Count per second since the previous sample.</summary>
    public double? GrowthPerSecond { get; init; }

    /// <summary>The least-squares slope of Count over the forecast window, per second: the trend the forecast uses.</summary>
    public double? TrendPerSecond { get; init; }

    /// <summary>New connections per second, from the New events received; null when events cannot be read (not root, events off).</summary>
    public double? NewPerSecond { get; init; }

    public double? DropPerSecond { get; init; }

    public double? EarlyDropPerSecond { get; init; }

    public double? InsertFailedPerSecond { get; init; }

    public double? InvalidPerSecond { get; init; }

    public double? SearchRestartPerSecond { get; init; }

    /// <summary>Seconds until Count reaches Max at the trend; null when the table is not filling.</summary>
    public double? SecondsUntilFull { get; init; }

    /// <summary>When the table is full at the trend; null when it is not filling.</summary>
    public DateTimeOffset? FullAt { get; init; }

    /// <summary>"full in 2 h 13 min", "full now" or "not filling".</summary>
    public string Forecast { get; init; } = "";

    /// <summary>New events received since the watch started.</summary>
    public long? NewConnectionsTotal { get; init; }

    /// <summary>Events lost since the watch started, at least (receive-queue overruns).</summary>
    public long? LostEventsTotal { get; init; }

    /// <summary>The inode of the network namespace watched under -NetworkNamespace; empty for this process's own.</summary>
    public string? NetworkNamespace { get; init; }

    public string Root { get; init; } = "/";
}
