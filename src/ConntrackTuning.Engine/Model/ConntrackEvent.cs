using ConntrackTuning.Engine.Entries;
using ConntrackTuning.Engine.Events;

namespace ConntrackTuning;

/// <summary>
/// The ctnetlink event groups (NFNLGRP_CONNTRACK_NEW = 1 ... NFNLGRP_CONNTRACK_EXP_DESTROY = 6), in group
/// order: the kernel sends only the groups a listener joined, so the choice filters in the kernel.
/// </summary>
public enum ConntrackEventType
{
    /// <summary>A connection was confirmed into the table (its first packet passed).</summary>
    New = 1,

    /// <summary>An entry changed: state, status bits (SEEN_REPLY, ASSURED), mark, labels, helper, ...</summary>
    Update = 2,

    /// <summary>An entry left the table (timed out, closed, evicted or deleted).</summary>
    Destroy = 3,

    /// <summary>A helper (ftp, sip, ...) created an expectation for a related connection.</summary>
    ExpectNew = 4,

    /// <summary>The kernel has the group but raises no expectation updates on current kernels.</summary>
    ExpectUpdate = 5,

    /// <summary>An expectation was used, timed out or removed.</summary>
    ExpectDestroy = 6,
}

/// <summary>
/// One connection-tracking event as the kernel sent it over ctnetlink: what happened (Type), to which
/// connection (the original tuple, as Get-ConntrackEntry shows it), when (Time received, KernelTime when
/// timestamps are on), and at Destroy the packet and byte counters when accounting is on. Output of
/// Get-ConntrackEvent.
/// </summary>
public sealed class ConntrackEvent
{
    internal ConntrackEvent(ref EventRecord e, DateTimeOffset received)
    {
        ref EntryRecord r = ref e.Entry;
        bool v6 = r.IsIPv6;
        Type = e.Type;
        NetworkNamespace = Engine.Namespaces.NamespaceContext.CurrentInode;
        Time = received;
        KernelTime = e.EventNs != 0 ? FromNs(e.EventNs) : e.StopNs != 0 ? FromNs(e.StopNs) : null;
        StartTime = e.StartNs != 0 ? FromNs(e.StartNs) : null;
        StopTime = e.StopNs != 0 ? FromNs(e.StopNs) : null;
        Family = v6 ? "IPv6" : "IPv4";
        Protocol = ProtocolNames.Name(r.Protocol);
        State = StateNames.Name(r.State);
        Source = AddressText.Format(r.Original.Source, v6);
        Destination = AddressText.Format(r.Original.Destination, v6);
        bool ports = ProtocolNames.HasPorts(r.Protocol) && r.Original.HasPorts;
        if (ports)
        {
            SourcePort = r.Original.SourcePort;
            DestinationPort = r.Original.DestinationPort;
        }

        if (r.Original.HasIcmp)
        {
            IcmpType = r.Original.IcmpType;
            IcmpCode = r.Original.IcmpCode;
            IcmpId = r.Original.IcmpId;
        }

        if (e.IsExpectation)
        {
            if (e.HasMaster)
            {
                MasterSource = AddressText.Format(e.Master.Source, v6);
                MasterDestination = AddressText.Format(e.Master.Destination, v6);
                if (e.Master.HasPorts)
                {
                    MasterSourcePort = e.Master.SourcePort;
                    MasterDestinationPort = e.Master.DestinationPort;
                }
            }
        }
        else
        {
            ReplySource = AddressText.Format(r.Reply.Source, v6);
            ReplyDestination = AddressText.Format(r.Reply.Destination, v6);
            if (ports && r.Reply.HasPorts)
            {
                ReplySourcePort = r.Reply.SourcePort;
                ReplyDestinationPort = r.Reply.DestinationPort;
            }

            StatusBits = r.Status;
            Status = StatusText(r.Status);
            Assured = r.Assured;
            Unreplied = r.Unreplied;
            Mark = r.Mark;
            if (r.Original.HasCounters || r.Reply.HasCounters)
            {
                OriginalPackets = (long)Math.Min(r.Original.Packets, long.MaxValue);
                OriginalBytes = (long)Math.Min(r.Original.Bytes, long.MaxValue);
                ReplyPackets = (long)Math.Min(r.Reply.Packets, long.MaxValue);
                ReplyBytes = (long)Math.Min(r.Reply.Bytes, long.MaxValue);
            }
        }

        Zone = r.Zone;
        Timeout = r.Timeout >= 0 ? r.Timeout : null;
        Id = r.HasId ? r.Id : null;
        Helper = r.Helper;
    }

    /// <summary>New, Update, Destroy, ExpectNew, ExpectUpdate or ExpectDestroy.</summary>
    public ConntrackEventType Type { get; }

    /// <summary>When this process received the event (the datagram that carried it).</summary>
    public DateTimeOffset Time { get; }

    /// <summary>
    /// When the kernel raised the event (CTA_TIMESTAMP_EVENT), or at Destroy the entry's stop stamp; null unless
    /// net.netfilter.nf_conntrack_timestamp was 1 when the entry was created.
    /// </summary>
    public DateTimeOffset? KernelTime { get; }

    /// <summary>When the entry was created (CTA_TIMESTAMP start); sent with Destroy events when timestamps are on.</summary>
    public DateTimeOffset? StartTime { get; }

    public DateTimeOffset? StopTime { get; }

    public string Family { get; }

    public string Protocol { get; }

    /// <summary>The TCP, SCTP or DCCP state after the event; null for protocols without states.</summary>
    public string? State { get; }

    public string Source { get; }

    public string Destination { get; }

    public int? SourcePort { get; }

    public int? DestinationPort { get; }

    public string? ReplySource { get; }

    public string? ReplyDestination { get; }

    public int? ReplySourcePort { get; }

    public int? ReplyDestinationPort { get; }

    public int? IcmpType { get; }

    public int? IcmpCode { get; }

    public int? IcmpId { get; }

    /// <summary>The IPS_* status names set (SEEN_REPLY, ASSURED, CONFIRMED, SRC_NAT, ...), comma-separated; null for expectations.</summary>
    public string? Status { get; }

    /// <summary>The raw IPS_* bits; null for expectations.</summary>
    public long? StatusBits { get; }

    public bool Assured { get; }

    public bool Unreplied { get; }

    /// <summary>The connection mark; null for expectations.</summary>
    public long? Mark { get; }

    public int Zone { get; }

    /// <summary>Seconds left on the entry (or expectation) after the event; null when the event carries none.</summary>
    public long? Timeout { get; }

    public long? Id { get; }

    /// <summary>Packets and bytes each way, sent with Destroy events when accounting was on (nf_conntrack_acct=1) at creation.</summary>
    public long? OriginalPackets { get; }

    public long? OriginalBytes { get; }

    public long? ReplyPackets { get; }

    public long? ReplyBytes { get; }

    /// <summary>The helper of an expectation (ftp, sip, ...), or of the entry when the event names one.</summary>
    public string? Helper { get; }

    /// <summary>The master connection of an expectation; null for connection events.</summary>
    public string? MasterSource { get; }

    public string? MasterDestination { get; }

    public int? MasterSourcePort { get; }

    public int? MasterDestinationPort { get; }

    /// <summary>
    /// The inode of the network namespace the event was heard in with -NetworkNamespace; null for this process's own.
    /// </summary>
    public string? NetworkNamespace { get; }

    private static DateTimeOffset FromNs(ulong ns) => DateTimeOffset.FromUnixTimeMilliseconds(0).AddTicks((long)(ns / 100));

    private static readonly (uint Bit, string Name)[] StatusNames =
    [
        (0x0001, "EXPECTED"), (0x0002, "SEEN_REPLY"), (0x0004, "ASSURED"), (0x0008, "CONFIRMED"), (0x0010, "SRC_NAT"),
        (0x0020, "DST_NAT"), (0x0040, "SEQ_ADJUST"), (0x0080, "SRC_NAT_DONE"), (0x0100, "DST_NAT_DONE"), (0x0200, "DYING"),
        (0x0400, "FIXED_TIMEOUT"), (0x0800, "TEMPLATE"), (0x1000, "UNTRACKED"), (0x2000, "HELPER"), (0x4000, "OFFLOAD"),
        (0x8000, "HW_OFFLOAD"),
    ];

    internal static string StatusText(uint status)
    {
        var names = new List<string>(4);
        foreach ((uint bit, string name) in StatusNames)
        {
            if ((status & bit) != 0)
            {
                names.Add(name);
            }
        }

        return string.Join(",", names);
    }
}
