namespace ConntrackTuning.Engine.Entries;

/// <summary>One direction of a connection: addresses, ports (or ICMP type/code/id, or GRE keys) and zone.</summary>
internal struct EntryTuple
{
    /// <summary>IPv4 in the low 32 bits (a.b.c.d as (a &lt;&lt; 24) | ...), IPv6 as the whole 128-bit number.</summary>
    public UInt128 Source;

    public UInt128 Destination;

    /// <summary>Ports for TCP, UDP, UDP-Lite, SCTP and DCCP; the keys for GRE.</summary>
    public ushort SourcePort;

    public ushort DestinationPort;

    public byte IcmpType;

    public byte IcmpCode;

    public ushort IcmpId;

    /// <summary>The zone of this direction when the zone applies to one direction only; -1 otherwise.</summary>
    public int Zone;

    public ulong Packets;

    public ulong Bytes;

    public bool HasSource;

    public bool HasDestination;

    public bool HasPorts;

    public bool HasIcmp;

    public bool HasCounters;
}

/// <summary>
/// One conntrack entry as the parsers see it, before it becomes an output object. It is a mutable struct that
/// each parser fills in place and hands to a visitor, so streaming a table allocates nothing per entry until
/// the cmdlet decides to write one.
/// </summary>
internal struct EntryRecord
{
    public const uint StatusExpected = 0x0001;
    public const uint StatusSeenReply = 0x0002;
    public const uint StatusAssured = 0x0004;
    public const uint StatusConfirmed = 0x0008;
    public const uint StatusSrcNat = 0x0010;
    public const uint StatusDstNat = 0x0020;
    public const uint StatusOffload = 0x4000;
    public const uint StatusHwOffload = 0x8000;

    /// <summary>2 (AF_INET) or 10 (AF_INET6).</summary>
    public byte Family;

    public byte Protocol;

    /// <summary>A <see cref="StateNames"/> code; 0 for the stateless protocols.</summary>
    public byte State;

    /// <summary>IPS_* bits. Text sources only know SEEN_REPLY, ASSURED and the offload bits.</summary>
    public uint Status;

    /// <summary>True when the status came from the kernel (netlink) rather than from the flags a line shows.</summary>
    public bool HasFullStatus;

    /// <summary>Seconds left; -1 when absent (offloaded flows have none).</summary>
    public long Timeout;

    public uint Mark;

    public bool HasMark;

    /// <summary>The zone both directions share (0 when none is set).</summary>
    public ushort Zone;

    public EntryTuple Original;

    public EntryTuple Reply;

    public uint Id;

    public bool HasId;

    /// <summary>Seconds since the entry was created (procfs delta-time, or now minus the netlink start stamp); -1 when absent.</summary>
    public long Age;

    /// <summary>The 128 connection-label bits from netlink (bit n is label n).</summary>
    public UInt128 LabelBits;

    /// <summary>Label names as conntrack -L prints them (from connlabel.conf), comma-separated; null when absent.</summary>
    public string? LabelNames;

    public string? SecurityContext;

    public string? Helper;

    public bool IsIPv6 => Family == 10;

    public bool Assured => (Status & StatusAssured) != 0;

    public bool Unreplied => (Status & StatusSeenReply) == 0;

    public bool Offloaded => (Status & (StatusOffload | StatusHwOffload)) != 0;

    public void Clear()
    {
        this = default;
        Timeout = -1;
        Age = -1;
        Original.Zone = -1;
        Reply.Zone = -1;
    }
}
