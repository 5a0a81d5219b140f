using ConntrackTuning.Engine.Limits;

namespace ConntrackTuning;

/// <summary>
/// Who fills the table: counts by protocol and state, and the top sources, destinations and destination ports,
/// each with its share of the entries and how many of them are unreplied (the ones early drop can evict) or
/// assured (the ones it cannot). Output of Get-ConntrackEntry -Summary, built while the table streams past.
/// </summary>
public sealed class ConntrackSummary
{
    /// <summary>Entries summarized (after the filters).</summary>
    public long Entries { get; init; }

    public long Unreplied { get; init; }

    public long Assured { get; init; }

    /// <summary>Entries with neither flag: replied, but not yet assured.</summary>
    public long Other => Entries - Unreplied - Assured;

    /// <summary>Unreplied as a percentage of Entries.</summary>
    public double UnrepliedPercent => TableRatios.Share(Unreplied, Entries);

    public double AssuredPercent => TableRatios.Share(Assured, Entries);

    /// <summary>The kernel's own count at the time (conntrack -C, or the count sysctl); null for a saved file.</summary>
    public long? KernelCount { get; init; }

    /// <summary>CONNTRACK_MAX, when the source tells it.</summary>
    public long? Max { get; init; }

    /// <summary>KernelCount (or Entries) as a percentage of Max.</summary>
    public double? UsagePercent { get; init; }

    public IReadOnlyList<ConntrackProtocolCount> ByProtocol { get; init; } = [];

    public IReadOnlyList<ConntrackStateCount> ByState { get; init; } = [];

    public IReadOnlyList<ConntrackSourceCount> TopSources { get; init; } = [];

    public IReadOnlyList<ConntrackDestinationCount> TopDestinations { get; init; } = [];

    public IReadOnlyList<ConntrackPortCount> TopDestinationPorts { get; init; } = [];

    /// <summary>
    /// False when a top list met more distinct addresses than it tracks (16384): its counts are then upper bounds
    /// with at most <see cref="MaxCountError"/> too many, and any address holding more than that is still listed.
    /// </summary>
    public bool Exact { get; init; } = true;

    public long MaxCountError { get; init; }

    /// <summary>ctnetlink, or the file read.</summary>
    public string Source { get; init; } = "";

    /// <summary>The filters applied, in words; empty for the whole table.</summary>
    public string Filter { get; init; } = "";

    /// <summary>How many entries each top list shows (-Top).</summary>
    public int Top { get; init; }

    /// <summary>
    /// The inode of the network namespace whose table was read under -NetworkNamespace (or piped from
    /// Get-ConntrackNamespace), so several summaries tell whose each is; empty for this process's own namespace.
    /// </summary>
    public string? NetworkNamespace { get; init; }

    public string Root { get; init; } = "/";
}

/// <summary>
/// A group of what a summary counted (entries, or the connections of events): how many, their share of the whole,
/// and how many of them are unreplied or assured. The protocol counts and the top lists group by different keys,
/// which each declares; the key comes first in the output, these four after it.
/// </summary>
public abstract class ConntrackShare
{
    public long Count { get; init; }

    /// <summary>Share of all counted, in percent.</summary>
    public double Percent { get; init; }

    public long Unreplied { get; init; }

    public long Assured { get; init; }
}

/// <summary>Entries of one protocol.</summary>
public sealed class ConntrackProtocolCount : ConntrackShare
{
    public string Protocol { get; init; } = "";
}

/// <summary>Entries of one protocol in one state; State is null for protocols without states.</summary>
public sealed class ConntrackStateCount
{
    public string Protocol { get; init; } = "";

    public string? State { get; init; }

    public long Count { get; init; }

    public double Percent { get; init; }
}

/// <summary>Entries whose original direction comes from one address.</summary>
public sealed class ConntrackSourceCount : ConntrackShare
{
    public string Source { get; init; } = "";
}

/// <summary>Entries whose original direction goes to one address.</summary>
public sealed class ConntrackDestinationCount : ConntrackShare
{
    public string Destination { get; init; } = "";
}

/// <summary>Entries going to one destination port of one protocol.</summary>
public sealed class ConntrackPortCount : ConntrackShare
{
    public string Protocol { get; init; } = "";

    public int DestinationPort { get; init; }
}
