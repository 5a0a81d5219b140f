using ConntrackTuning.Engine.Entries;
using ConntrackTuning.Engine.Netlink;

namespace ConntrackTuning.Engine.Events;

/// <summary>Receives one event; returning false ends the listening.</summary>
internal delegate bool EventVisitor(ref EventRecord e, DateTimeOffset received);

/// <summary>What to listen to and for how long.</summary>
internal sealed class EventListenerOptions
{
    public IReadOnlyList<ConntrackEventType> Types { get; init; } = [ConntrackEventType.New, ConntrackEventType.Update, ConntrackEventType.Destroy];

    /// <summary>The receive queue to ask for; null for <see cref="EventListener.DefaultBufferBytes"/>, grown on overruns.</summary>
    public int? BufferBytes { get; init; }

    public EntryFilter Filter { get; init; } = EntryFilter.None;

    public TimeSpan? Duration { get; init; }

    /// <summary>Stop after this many events passed the filter.</summary>
    public long? Count { get; init; }

    /// <summary>Count the top sources, destinations and ports of the New events that pass the filter.</summary>
    public bool Summarize { get; init; }

    /// <summary>How long a blocked read waits before it checks the stop signal.</summary>
    public TimeSpan Wake { get; init; } = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// After a read that emptied the queue, how long to let events gather before the next one: one wake-up then
    /// takes a burst instead of one event, which is what a steady stream costs most (0 reads at once). At 1 ms a
    /// 5,000/s stream still woke the reader for every 5 events and cost more CPU per event than conntrack -E; 5 ms
    /// is well inside the 200 ms a stop may take and far from filling the receive buffer.
    /// </summary>
    public int GatherMilliseconds { get; init; } = 5;
}

/// <summary>
/// A ctnetlink event subscription (CTNETLINK.md §10.3): joins the multicast groups of the chosen event types
/// (the kernel sends nothing else), reads until a duration, a count or the stop signal, and never loses events
/// silently: every ENOBUFS is counted and reported at once, and the default queue grows on each (as conntrackd
/// does). The filters of Get-ConntrackEntry apply in user space to every event received; the part a socket filter
/// can decide is also attached to the socket (<see cref="EventSocketFilter"/>), so the kernel drops most
/// unmatched events before they reach the queue. Datagrams are read in bursts (recvmmsg) into one set of slots
/// allocated once, and parsed in place: nothing is allocated per event unless the visitor does.
/// </summary>
internal sealed partial class EventListener : IDisposable
{
    /// <summary>8 MiB asked (16 MiB granted): about 40,000 queued events, so a reader paused for a GC keeps up with 50,000 new flows/s.</summary>
    public const int DefaultBufferBytes = 8 << 20;

    /// <summary>The default queue doubles on each overrun up to this.</summary>
    public const int MaxGrownBufferBytes = 128 << 20;

    private const string EventsSysctl = "proc/sys/net/netfilter/nf_conntrack_events";

    private readonly NetlinkSocket _socket;
    private readonly EventListenerOptions _options;
    private readonly SystemRoot _root;
    private readonly long[] _byType = new long[7];
    private readonly long? _countAtStart;
    private readonly long? _eventsSetting;
    private readonly EntrySummaryBuilder? _summary;
    private readonly double? _cpuAtStart;
    private double? _cpuAtEnd;

    private EventListener(SystemRoot root, EventListenerOptions options, NetlinkSocket socket, EventBufferSize buffer, long? eventsSetting)
    {
        _root = root;
        _options = options;
        _socket = socket;
        Buffer = buffer;
        _eventsSetting = eventsSetting;
        _summary = options.Summarize ? new EntrySummaryBuilder() : null;
        _countAtStart = ReadCount();
        StartTime = DateTimeOffset.UtcNow;
        _cpuAtStart = Native.ProcessCpuSeconds();
    }

    public EventBufferSize Buffer { get; private set; }

    public DateTimeOffset StartTime { get; }

    public long Received { get; private set; }

    public long Matched { get; private set; }

    /// <summary>Matched New events: the new connections.</summary>
    public long MatchedNew { get; private set; }

    /// <summary>ENOBUFS seen. Read from another thread by Watch-Conntrack, hence the field.</summary>
    public long Overruns => Interlocked.Read(ref _overruns);

    public long Malformed { get; private set; }

    private long _overruns;

    private long _matchedNewShared;

    /// <summary>MatchedNew, safe to read from another thread.</summary>
    public long NewSoFar => Interlocked.Read(ref _matchedNewShared);

    public string EndedBy { get; private set; } = "";

    /// <summary>What the socket's BPF program decides in the kernel ("protocol, destination port"); empty when none is attached.</summary>
    public string KernelFilter { get; private init; } = "";

    /// <summary>The length of the socket's BPF program as the kernel reported it back (SO_GET_FILTER); 0 when none.</summary>
    public int KernelFilterInstructions { get; private init; }

    /// <summary>
    /// Opens the subscription. Only the running system has events: a -Root tree fails with EventsNeedLiveSystem;
    /// nf_conntrack_events = 0 with ConntrackEventsDisabled; no CAP_NET_ADMIN with NetlinkPermissionDenied.
    /// </summary>
    public static EventListener Open(SystemRoot root, EventListenerOptions options)
    {
        ArgumentNullException.ThrowIfNull(root);
        ArgumentNullException.ThrowIfNull(options);
        if (!root.IsLive)
        {
            throw new ConntrackException(ErrorIds.EventsNeedLiveSystem, ErrorKind.InvalidOperation,
                $"Connection-tracking events come only from the running kernel, not from a tree under -Root ('{root.Path}').", root.Path,
                "Run the command on the host itself, without -Root; for a capture, read its table with Get-ConntrackEntry -Root.");
        }

        long? setting = root.TryReadInt64(EventsSysctl);
        root.Log.Verbose($"Read {root.Full(EventsSysctl)}: {(setting?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "absent")}.");
        if (setting == 0)
        {
            throw new ConntrackException(ErrorIds.ConntrackEventsDisabled, ErrorKind.ResourceUnavailable,
                "Connection-tracking events are off in this network namespace (net.netfilter.nf_conntrack_events = 0): the kernel sends no events, so none can be read.",
                root.Full(EventsSysctl),
                "Switch them on: sysctl -w net.netfilter.nf_conntrack_events=1 (2, the default on 5.18 and later, sends them to listeners for entries created once one listens). It costs a little per connection.");
        }

        if (setting is null)
        {
            root.Log.Warning($"{root.Full(EventsSysctl)} does not exist: this kernel may be built without CONFIG_NF_CONNTRACK_EVENTS, and then no event arrives.");
        }

        uint groups = 0;
        foreach (ConntrackEventType type in options.Types)
        {
            groups |= 1u << ((int)type - 1);
        }

        int asked = options.BufferBytes ?? DefaultBufferBytes;
        (Native.SockFilter[] Program, string Description)? compiled = null;
        string? filterFailure = null;
        int filterInstructions = 0;
        try
        {
            compiled = EventSocketFilter.Compile(options.Types, options.Filter);
        }
        catch (InvalidOperationException e)
        {
            filterFailure = e.Message;
        }

        NetlinkSocket socket;
        EventBufferSize buffer;
        try
        {
            // The factory creates it in the invocation's namespace (-NetworkNamespace makes one current), as every netlink socket.
            socket = NetlinkSocketFactory.OpenSubscriber(groups, asked, options.Wake, compiled?.Program, out buffer, out filterInstructions, out filterFailure);
        }
        catch (NetlinkErrnoException e) when (e.Number == Errno.EPERM)
        {
            throw new ConntrackException(ErrorIds.NetlinkPermissionDenied, ErrorKind.PermissionDenied,
                $"Cannot listen to connection-tracking events: joining the ctnetlink event groups requires CAP_NET_ADMIN ({e.Message}).", "ctnetlink",
                "Run pwsh as root (sudo), or grant it CAP_NET_ADMIN.", e);
        }
        catch (NetlinkErrnoException e)
        {
            throw new ConntrackException(ErrorIds.NetlinkFailed, ErrorKind.ResourceUnavailable,
                $"Cannot listen to connection-tracking events: {e.Message}. The kernel needs nf_conntrack_netlink.", "ctnetlink",
                "Load nf_conntrack_netlink (modprobe nf_conntrack_netlink) and run the command again.", e);
        }

        root.Log.Verbose($"Listening to {string.Join(", ", options.Types)} (groups 0x{groups:x}); receive queue {buffer.Effective} bytes ({(buffer.Forced ? "SO_RCVBUFFORCE" : "SO_RCVBUF")}, {asked} asked).");
        if (buffer.CapReason is { } why)
        {
            long? rmemMax = root.TryReadInt64("proc/sys/net/core/rmem_max");
            root.Log.Warning($"The event receive queue is {buffer.Effective} bytes, not the {2L * asked} asked: {why} (net.core.rmem_max = {rmemMax?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "unknown"}). "
                + $"Bursts beyond it lose events; run as root, or raise the cap: sysctl -w net.core.rmem_max={asked}.");
        }

        bool attached = compiled is { } c && filterInstructions == c.Program.Length;
        if (attached)
        {
            root.Log.Verbose($"Kernel-side event filter attached (SO_ATTACH_FILTER, {filterInstructions} instructions read back): the kernel drops events that fail {compiled!.Value.Description} before they are queued.");
        }
        else if (compiled is not null || filterFailure is not null)
        {
            // The user-space filter decides alone then, as it always also does.
            root.Log.Verbose($"No kernel-side event filter ({filterFailure ?? $"the kernel holds {filterInstructions} instructions, not {compiled!.Value.Program.Length}"}): every event of the groups is received and filtered here.");
        }

        return new EventListener(root, options, socket, buffer, setting)
        {
            KernelFilter = attached ? compiled!.Value.Description : "",
            KernelFilterInstructions = attached ? filterInstructions : 0,
        };
    }

    /// <summary>
    /// Reads until the duration passes, the count is reached, the visitor returns false or the token is
    /// cancelled (noticed within the wake interval). <paramref name="onOverrun"/> is called at each ENOBUFS with
    /// the overruns so far.
    /// </summary>
    public void Run(EventVisitor visitor, Action<long> onOverrun, CancellationToken cancellation, Action<TimeSpan>? tick = null)
    {
        ArgumentNullException.ThrowIfNull(visitor);
        ArgumentNullException.ThrowIfNull(onOverrun);
        try
        {
            Receive(visitor, onOverrun, tick, cancellation);
        }
        finally
        {
            // The end of the receive window: what the command does afterwards (the summary, its output) is not listening.
            _cpuAtEnd = Native.ProcessCpuSeconds();
        }
    }

    private long? ReadCount()
    {
        try
        {
            return _root.TryReadInt64("proc/sys/net/netfilter/nf_conntrack_count");
        }
        catch (OperationCanceledException)
        {
            // After Ctrl+C the file layer reads nothing more: the summary then has no estimate, but still comes.
            return null;
        }
    }

    public ConntrackEventSummary Summary(int top)
    {
        DateTimeOffset end = DateTimeOffset.UtcNow;
        double? cpu = (_cpuAtEnd ?? Native.ProcessCpuSeconds()) - _cpuAtStart;
        double seconds = Math.Max(1e-6, (end - StartTime).TotalSeconds);
        long? estimate = null;
        bool both = _options.Types.Contains(ConntrackEventType.New) && _options.Types.Contains(ConntrackEventType.Destroy);
        if (both && _options.Filter.IsEmpty && _eventsSetting == 1 && _countAtStart is { } before && ReadCount() is { } after)
        {
            long explained = _byType[(int)ConntrackEventType.New] - _byType[(int)ConntrackEventType.Destroy];
            estimate = Math.Abs(after - before - explained);
        }

        ConntrackSummary? who = _summary?.Build(top, "events", _options.Filter.Description, null, null, _root.Path);
        return new ConntrackEventSummary
        {
            StartTime = StartTime,
            EndTime = end,
            Seconds = Math.Round(seconds, 3),
            EndedBy = EndedBy,
            EventTypes = _options.Types,
            Received = Received,
            Matched = Matched,
            New = _byType[(int)ConntrackEventType.New],
            Update = _byType[(int)ConntrackEventType.Update],
            Destroy = _byType[(int)ConntrackEventType.Destroy],
            ExpectNew = _byType[(int)ConntrackEventType.ExpectNew],
            ExpectDestroy = _byType[(int)ConntrackEventType.ExpectDestroy],
            NewPerSecond = Math.Round(MatchedNew / seconds, 2),
            Overruns = Overruns,
            LostEvents = Math.Max(Overruns, estimate ?? 0),
            LostEstimate = estimate,
            Malformed = Malformed,
            ReceiveBufferRequested = Buffer.Requested,
            ReceiveBufferBytes = Buffer.Effective,
            ReceiveBufferCapped = Buffer.CapReason,
            ByProtocol = who?.ByProtocol ?? [],
            TopSources = who?.TopSources ?? [],
            TopDestinations = who?.TopDestinations ?? [],
            TopDestinationPorts = who?.TopDestinationPorts ?? [],
            Exact = who?.Exact ?? true,
            MaxCountError = who?.MaxCountError ?? 0,
            Filter = _options.Filter.Description,
            KernelFilter = KernelFilter,
            KernelFilterInstructions = KernelFilterInstructions,
            CpuSeconds = cpu is { } c ? Math.Round(c, 4) : null,
            Root = _root.Path,
        };
    }

    public void Dispose() => _socket.Dispose();
}
