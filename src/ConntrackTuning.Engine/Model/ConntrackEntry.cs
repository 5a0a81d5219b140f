using ConntrackTuning.Engine.Entries;

namespace ConntrackTuning;

/// <summary>
/// One connection in the conntrack table, as conntrack -L shows it. Output of Get-ConntrackEntry. The original
/// tuple (Source, Destination, ports) is what the first packet looked like; the Reply* properties are what the
/// kernel expects on the way back, which differ from the swapped original only under NAT.
/// </summary>
public sealed class ConntrackEntry
{
    internal ConntrackEntry(ref EntryRecord r)
    {
        bool v6 = r.IsIPv6;
        Family = v6 ? "IPv6" : "IPv4";
        Protocol = ProtocolNames.Name(r.Protocol);
        ProtocolNumber = r.Protocol;
        State = StateNames.Name(r.State);
        Source = AddressText.Format(r.Original.Source, v6);
        Destination = AddressText.Format(r.Original.Destination, v6);
        ReplySource = AddressText.Format(r.Reply.Source, v6);
        ReplyDestination = AddressText.Format(r.Reply.Destination, v6);
        if (ProtocolNames.HasPorts(r.Protocol) && r.Original.HasPorts)
        {
            SourcePort = r.Original.SourcePort;
            DestinationPort = r.Original.DestinationPort;
            ReplySourcePort = r.Reply.SourcePort;
            ReplyDestinationPort = r.Reply.DestinationPort;
        }
        else if (r.Protocol == ProtocolNames.Gre && r.Original.HasPorts)
        {
            GreSourceKey = r.Original.SourcePort;
            GreDestinationKey = r.Original.DestinationPort;
        }

        if (r.Original.HasIcmp)
        {
            IcmpType = r.Original.IcmpType;
            IcmpCode = r.Original.IcmpCode;
            IcmpId = r.Original.IcmpId;
        }

        Timeout = r.Timeout >= 0 ? r.Timeout : null;
        Assured = r.Assured;
        Unreplied = r.Unreplied;
        Offloaded = r.Offloaded;
        Mark = r.HasMark ? r.Mark : null;
        Zone = r.Zone;
        OriginalZone = r.Original.Zone >= 0 ? r.Original.Zone : null;
        ReplyZone = r.Reply.Zone >= 0 ? r.Reply.Zone : null;
        if (r.Original.HasCounters || r.Reply.HasCounters)
        {
            OriginalPackets = (long)Math.Min(r.Original.Packets, long.MaxValue);
            OriginalBytes = (long)Math.Min(r.Original.Bytes, long.MaxValue);
            ReplyPackets = (long)Math.Min(r.Reply.Packets, long.MaxValue);
            ReplyBytes = (long)Math.Min(r.Reply.Bytes, long.MaxValue);
        }

        Nat = r.HasFullStatus
            ? (r.Status & (EntryRecord.StatusSrcNat | EntryRecord.StatusDstNat)) != 0
            : r.Reply.Source != r.Original.Destination || r.Reply.Destination != r.Original.Source
              || (r.Original.HasPorts && (r.Reply.SourcePort != r.Original.DestinationPort || r.Reply.DestinationPort != r.Original.SourcePort));
        AgeSeconds = r.Age >= 0 ? r.Age : null;
        Id = r.HasId ? r.Id : null;
        Labels = LabelList(ref r);
        SecurityContext = r.SecurityContext;
        Helper = r.Helper;
        NetworkNamespace = Engine.Namespaces.NamespaceContext.CurrentInode;
    }

    /// <summary>IPv4 or IPv6.</summary>
    public string Family { get; }

    /// <summary>tcp, udp, icmp, icmpv6, sctp, gre, udplite, dccp, or the protocol number for the rest.</summary>
    public string Protocol { get; }

    public int ProtocolNumber { get; }

    /// <summary>The TCP, SCTP or DCCP state (ESTABLISHED, TIME_WAIT, ...); null for protocols without states (UDP, ICMP, GRE).</summary>
    public string? State { get; }

    /// <summary>Source address of the original direction.</summary>
    public string Source { get; }

    public string Destination { get; }

    /// <summary>Null for protocols without ports.</summary>
    public int? SourcePort { get; }

    public int? DestinationPort { get; }

    public string ReplySource { get; }

    public string ReplyDestination { get; }

    public int? ReplySourcePort { get; }

    public int? ReplyDestinationPort { get; }

    /// <summary>ICMP or ICMPv6 type, code and identifier of the original direction.</summary>
    public int? IcmpType { get; }

    public int? IcmpCode { get; }

    public int? IcmpId { get; }

    /// <summary>GRE (PPTP) call keys of the original direction.</summary>
    public int? GreSourceKey { get; }

    public int? GreDestinationKey { get; }

    /// <summary>Seconds until the entry expires unless traffic refreshes it; null for offloaded flows, which have none.</summary>
    public long? Timeout { get; }

    /// <summary>Traffic was seen both ways often enough that early drop will not evict this entry.</summary>
    public bool Assured { get; }

    /// <summary>No reply has been seen: an early-drop candidate when the table is full.</summary>
    public bool Unreplied { get; }

    /// <summary>Handled by a flow table (software or hardware offload) rather than by conntrack per packet.</summary>
    public bool Offloaded { get; }

    /// <summary>The connection mark (connmark); null when the source does not show it.</summary>
    public long? Mark { get; }

    /// <summary>The conntrack zone both directions share; 0 when none is set.</summary>
    public int Zone { get; }

    /// <summary>The zone of one direction, when the zone is set per direction.</summary>
    public int? OriginalZone { get; }

    public int? ReplyZone { get; }

    /// <summary>Packets and bytes each way; null unless accounting was on (nf_conntrack_acct=1) when the entry was created.</summary>
    public long? OriginalPackets { get; }

    public long? OriginalBytes { get; }

    public long? ReplyPackets { get; }

    public long? ReplyBytes { get; }

    /// <summary>Source or destination NAT applies to this connection.</summary>
    public bool Nat { get; }

    /// <summary>Seconds since the entry was created; null unless timestamps are on (nf_conntrack_timestamp=1).</summary>
    public long? AgeSeconds { get; }

    /// <summary>The kernel's id of the entry (what conntrack -o id prints); null from the procfs file.</summary>
    public long? Id { get; }

    /// <summary>Connection labels: bit numbers from netlink, names from saved conntrack -L output.</summary>
    public IReadOnlyList<string> Labels { get; }

    public string? SecurityContext { get; }

    /// <summary>The conntrack helper attached (ftp, sip, ...), when conntrack -L showed one.</summary>
    public string? Helper { get; }

    /// <summary>
    /// The inode of the network namespace whose table the entry was read from with -NetworkNamespace; null for this
    /// process's own. Remove-ConntrackEntry deletes a piped entry in that namespace.
    /// </summary>
    public string? NetworkNamespace { get; }

    private static IReadOnlyList<string> LabelList(ref EntryRecord r)
    {
        if (r.LabelNames is { } names)
        {
            return names.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        }

        if (r.LabelBits == 0)
        {
            return [];
        }

        var list = new List<string>();
        for (int i = 0; i < 128; i++)
        {
            if (((r.LabelBits >> i) & 1) != 0)
            {
                list.Add(i.ToString(System.Globalization.CultureInfo.InvariantCulture));
            }
        }

        return list;
    }
}
