namespace ConntrackTuning;

/// <summary>
/// What a Get-ConntrackEvent window saw: how many events of each type, new connections per second, and who
/// opened them (the top sources, destinations and destination ports of the New events, counted in memory that
/// does not grow with the traffic); and whether any events were lost (Overruns: the kernel's receive queue
/// overflowed, ENOBUFS). Output of Get-ConntrackEvent -Summary.
/// </summary>
public sealed class ConntrackEventSummary
{
    public DateTimeOffset StartTime { get; init; }

    public DateTimeOffset EndTime { get; init; }

    /// <summary>The length of the window, in seconds.</summary>
    public double Seconds { get; init; }

    /// <summary>Duration, Count or Stopped (Ctrl+C): what ended the window.</summary>
    public string EndedBy { get; init; } = "";

    /// <summary>The event groups listened to.</summary>
    public IReadOnlyList<ConntrackEventType> EventTypes { get; init; } = [];

    /// <summary>Events received from the kernel, before the user-space filters (after the kernel-side one, see KernelFilter).</summary>
    public long Received { get; init; }

    /// <summary>Events that passed the filters (the ones written, or summarized).</summary>
    public long Matched { get; init; }

    public long New { get; init; }

    public long Update { get; init; }

    public long Destroy { get; init; }

    public long ExpectNew { get; init; }

    public long ExpectDestroy { get; init; }

    /// <summary>New events that passed the filters per second of the window: the rate of new connections.</summary>
    public double NewPerSecond { get; init; }

    /// <summary>
    /// How many times the kernel reported that the receive queue overflowed (ENOBUFS). Each overrun lost at least
    /// one event; the kernel does not say how many.
    /// </summary>
    public long Overruns { get; init; }

    /// <summary>
    /// Events lost, at least: the overruns, or more when the table's count moved by more than the New and
    /// Destroy events received explain (see LostEstimate).
    /// </summary>
    public long LostEvents { get; init; }

    /// <summary>
    /// |change of the entry count - (New - Destroy received)| over the window, when it can be computed: New and
    /// Destroy both listened to, no filter, and nf_conntrack_events = 1 (with 2, entries created before the first
    /// listener never send their Destroy); null otherwise.
    /// </summary>
    public long? LostEstimate { get; init; }

    /// <summary>Event messages that could not be parsed, or datagrams larger than the read buffer.</summary>
    public long Malformed { get; init; }

    /// <summary>The receive queue asked for, in bytes (-ReceiveBufferBytes, or the default).</summary>
    public int ReceiveBufferRequested { get; init; }

    /// <summary>The queue the kernel granted at the end (SO_RCVBUF read back: twice what was set, or capped).</summary>
    public int ReceiveBufferBytes { get; init; }

    /// <summary>Why the queue is smaller than asked (net.core.rmem_max without root), or null.</summary>
    public string? ReceiveBufferCapped { get; init; }

    public IReadOnlyList<ConntrackProtocolCount> ByProtocol { get; init; } = [];

    /// <summary>The sources that opened the most connections (New events) in the window.</summary>
    public IReadOnlyList<ConntrackSourceCount> TopSources { get; init; } = [];

    public IReadOnlyList<ConntrackDestinationCount> TopDestinations { get; init; } = [];

    public IReadOnlyList<ConntrackPortCount> TopDestinationPorts { get; init; } = [];

    /// <summary>False when a top list met more distinct addresses than it tracks: counts are then upper bounds by at most MaxCountError.</summary>
    public bool Exact { get; init; } = true;

    public long MaxCountError { get; init; }

    /// <summary>The filters applied, in words (in user space; the event types are chosen in the kernel).</summary>
    public string Filter { get; init; } = "";

    /// <summary>
    /// What the socket filter (classic BPF, SO_ATTACH_FILTER) decided in the kernel, such as "event type, protocol,
    /// destination port": events it rejected were never queued, so they are not in Received and cannot overflow
    /// the queue. Empty when no filter was attached (no -Protocol, -Source, -Destination, port, mark or status filter).
    /// </summary>
    public string KernelFilter { get; init; } = "";

    /// <summary>The length of that program as the kernel reported it back (SO_GET_FILTER); 0 when none is attached.</summary>
    public int KernelFilterInstructions { get; init; }

    /// <summary>
    /// CPU seconds (user + system, every thread) this process used from the subscription until it stopped
    /// listening (getrusage): the cost of receiving, without PowerShell's start-up or the summary's making. Null
    /// where it cannot be read.
    /// </summary>
    public double? CpuSeconds { get; init; }

    /// <summary>
    /// The inode of the network namespace listened in with -NetworkNamespace; null for this process's own, so that
    /// summaries of one listener per namespace (each in its own job) say whose each is.
    /// </summary>
    public string? NetworkNamespace { get; init; } = Engine.Namespaces.NamespaceContext.CurrentInode;

    public string Root { get; init; } = "/";
}
