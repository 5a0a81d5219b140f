namespace ConntrackTuning;

/// <summary>
/// The kernel's IPS_* status bits of a conntrack entry (CTNETLINK.md §5), for Remove-ConntrackEntry -Status.
/// </summary>
[Flags]
public enum ConntrackEntryStatus
{
    None = 0,
    Expected = 0x0001,
    SeenReply = 0x0002,
    Assured = 0x0004,
    Confirmed = 0x0008,
    SourceNat = 0x0010,
    DestinationNat = 0x0020,
    SequenceAdjust = 0x0040,
    SourceNatDone = 0x0080,
    DestinationNatDone = 0x0100,
    Dying = 0x0200,
    FixedTimeout = 0x0400,
    Template = 0x0800,
    Untracked = 0x1000,
    Helper = 0x2000,
    Offload = 0x4000,
    HardwareOffload = 0x8000,
}

/// <summary>
/// What one Remove-ConntrackEntry or Clear-ConntrackTable run did: how many entries matched, how many the kernel
/// deleted, how many had already gone (expired or deleted by someone else between the dump and the delete),
/// how many deletes failed, and how long it took.
/// </summary>
public sealed class ConntrackRemoval
{
    /// <summary>Connection or Expectation.</summary>
    public string Table { get; init; } = "Connection";

    /// <summary>Entries that matched the filter (or were piped in).</summary>
    public long Matched { get; init; }

    public long Deleted { get; init; }

    /// <summary>Entries the kernel no longer had when the delete reached it (ENOENT): gone anyway, not an error.</summary>
    public long AlreadyGone { get; init; }

    public long Failed { get; init; }

    public double Seconds { get; init; }

    /// <summary>The filter in words, or "piped entries", or "flush".</summary>
    public string Filter { get; init; } = "";

    /// <summary>The network namespace acted on; null for this process's own.</summary>
    public string? NetworkNamespace { get; init; }

    public string Root { get; init; } = "/";
}
