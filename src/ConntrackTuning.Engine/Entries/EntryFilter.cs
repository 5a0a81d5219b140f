using ConntrackTuning.Engine.Netlink;
using ConntrackTuning.Engine.Kernel;

namespace ConntrackTuning.Engine.Entries;

/// <summary>
/// What the user asked for, as conntrack's -L options do: protocol, state, addresses (CIDR), ports, mark, zone,
/// family and the unreplied/assured flags. Values of one filter are alternatives; different filters must all hold.
/// It always checks entries itself, whatever part the kernel was asked to filter, because a kernel silently
/// ignores the filters it does not know.
/// </summary>
internal sealed partial class EntryFilter
{
    private readonly bool[]? _protocols;
    private readonly bool[]? _states;
    private readonly AddressBlock[]? _sources;
    private readonly AddressBlock[]? _destinations;
    private readonly HashSet<ushort>? _ports;
    private readonly HashSet<ushort>? _sourcePorts;
    private readonly HashSet<ushort>? _destinationPorts;

    private EntryFilter(Options o, List<string> description)
    {
        Family = o.Family;
        Mark = o.Mark;
        Zone = o.Zone;
        Unreplied = o.Unreplied;
        Assured = o.Assured;
        Protocols = o.Protocols;
        Sources = o.Sources;
        Destinations = o.Destinations;
        SourcePorts = o.SourcePorts;
        Ports = o.Ports;
        DestinationPorts = o.DestinationPorts;
        if (o.Protocols.Count > 0)
        {
            _protocols = new bool[256];
            foreach (byte p in o.Protocols)
            {
                _protocols[p] = true;
            }
        }

        if (o.States.Count > 0)
        {
            _states = new bool[256];
            foreach (byte s in o.States)
            {
                _states[s] = true;
            }
        }

        _sources = o.Sources.Count > 0 ? [.. o.Sources] : null;
        _destinations = o.Destinations.Count > 0 ? [.. o.Destinations] : null;
        _ports = o.Ports.Count > 0 ? [.. o.Ports] : null;
        _sourcePorts = o.SourcePorts.Count > 0 ? [.. o.SourcePorts] : null;
        _destinationPorts = o.DestinationPorts.Count > 0 ? [.. o.DestinationPorts] : null;

        // An IPv4 address filter admits only IPv4 entries: asking the kernel for that family alone is free.
        if (Family == 0)
        {
            var blocks = o.Sources.Concat(o.Destinations).ToList();
            if (blocks.Count > 0 && blocks.All(b => !b.IPv6))
            {
                ImpliedFamily = 2;
            }
            else if (blocks.Count > 0 && blocks.All(b => b.IPv6))
            {
                ImpliedFamily = 10;
            }
        }

        Description = description.Count == 0 ? "" : string.Join(", ", description);
    }

    /// <summary>0 for both, 2 or 10.</summary>
    public byte Family { get; }

    /// <summary>The family the other filters restrict entries to, when they do (IPv4 addresses imply IPv4).</summary>
    public byte ImpliedFamily { get; }

    public (uint Value, uint Mask)? Mark { get; }

    public ushort? Zone { get; }

    public bool Unreplied { get; }

    public bool Assured { get; }

    public IReadOnlyList<byte> Protocols { get; }

    public IReadOnlyList<AddressBlock> Sources { get; }

    public IReadOnlyList<AddressBlock> Destinations { get; }

    public IReadOnlyList<ushort> SourcePorts { get; }

    /// <summary>-Port: either the source or the destination port is one of these.</summary>
    public IReadOnlyList<ushort> Ports { get; }

    public IReadOnlyList<ushort> DestinationPorts { get; }

    /// <summary>"protocol tcp, state ESTABLISHED, source 10.0.0.0/8": for verbose output and the summary.</summary>
    public string Description { get; }

    public bool IsEmpty => Description.Length == 0;

    public static EntryFilter None { get; } = Create(new Options());

    public bool Matches(ref EntryRecord r)
    {
        if (Family != 0 && r.Family != Family)
        {
            return false;
        }

        if (_protocols is not null && !_protocols[r.Protocol])
        {
            return false;
        }

        if (_states is not null && !_states[r.State])
        {
            return false;
        }

        if (_sources is not null && !AddressBlock.AnyContains(_sources, r.IsIPv6, r.Original.Source))
        {
            return false;
        }

        if (_destinations is not null && !AddressBlock.AnyContains(_destinations, r.IsIPv6, r.Original.Destination))
        {
            return false;
        }

        bool hasPorts = ProtocolNames.HasPorts(r.Protocol) && r.Original.HasPorts;
        if (_ports is not null && !(hasPorts && (_ports.Contains(r.Original.SourcePort) || _ports.Contains(r.Original.DestinationPort))))
        {
            return false;
        }

        if (_sourcePorts is not null && !(hasPorts && _sourcePorts.Contains(r.Original.SourcePort)))
        {
            return false;
        }

        if (_destinationPorts is not null && !(hasPorts && _destinationPorts.Contains(r.Original.DestinationPort)))
        {
            return false;
        }

        if (Mark is { } m && (r.Mark & m.Mask) != m.Value)
        {
            return false;
        }

        if (Zone is { } z && r.Zone != z && r.Original.Zone != z && r.Reply.Zone != z)
        {
            return false;
        }

        return (!Unreplied || r.Unreplied) && (!Assured || r.Assured);
    }

    /// <summary>
    /// The part of this filter the running kernel can apply during the dump (CTNETLINK.md §9), chosen from
    /// <see cref="CtnetlinkFilterSupport"/>. The rest is only checked here. Notes say what was pushed and why not.
    /// </summary>
    public KernelFilter ToKernelFilter(KernelVersion? version, List<string> notes)
    {
        ArgumentNullException.ThrowIfNull(notes);
        byte family = Family != 0 ? Family : ImpliedFamily;
        var kf = new KernelFilter { Family = family };
        if (family != 0)
        {
            notes.Add("family " + (family == 2 ? "IPv4" : "IPv6"));
        }

        if (Mark is { } mark && CtnetlinkFilterSupport.Allows("mark", version, fullMask: mark.Mask == uint.MaxValue))
        {
            kf = kf with { Mark = mark };
            notes.Add(string.Create(CultureInfo.InvariantCulture, $"mark {mark.Value}/0x{mark.Mask:x}"));
        }

        if ((Unreplied || Assured) && CtnetlinkFilterSupport.Allows("status", version))
        {
            // SEEN_REPLY clear for unreplied, ASSURED set for assured; the mask names the bits that must match.
            uint mask = (Unreplied ? EntryRecord.StatusSeenReply : 0) | (Assured ? EntryRecord.StatusAssured : 0);
            uint value = Assured ? EntryRecord.StatusAssured : 0;
            kf = kf with { Status = (value, mask) };
            notes.Add(string.Create(CultureInfo.InvariantCulture, $"status 0x{value:x}/0x{mask:x}"));
        }

        if (Zone is { } zone && CtnetlinkFilterSupport.Allows("zone", version))
        {
            kf = kf with { Zone = zone };
            notes.Add("zone " + zone.ToString(CultureInfo.InvariantCulture));
        }

        if (Protocols.Count == 1 && CtnetlinkFilterSupport.Allows("tuple", version))
        {
            byte protocol = Protocols[0];
            // Only exact IPv4 addresses: the kernel compares whole addresses, and its IPv6 comparison is inverted (6.18).
            uint? src = Sources.Count == 1 && !Sources[0].IPv6 && Sources[0].IsSingleAddress ? (uint)Sources[0].Network : null;
            uint? dst = Destinations.Count == 1 && !Destinations[0].IPv6 && Destinations[0].IsSingleAddress ? (uint)Destinations[0].Network : null;
            bool ports = protocol is ProtocolNames.Tcp or ProtocolNames.Udp;
            ushort? sport = ports && SourcePorts.Count == 1 ? SourcePorts[0] : null;
            ushort? dport = ports && DestinationPorts.Count == 1 ? DestinationPorts[0] : null;
            kf = kf with { Protocol = protocol, SourceV4 = src, DestinationV4 = dst, SourcePort = sport, DestinationPort = dport };
            notes.Add("tuple protocol " + ProtocolNames.Name(protocol)
                + (src is null ? "" : " source " + AddressText.Format(src.Value, false))
                + (dst is null ? "" : " destination " + AddressText.Format(dst.Value, false))
                + (sport is null ? "" : " sport " + sport.Value.ToString(CultureInfo.InvariantCulture))
                + (dport is null ? "" : " dport " + dport.Value.ToString(CultureInfo.InvariantCulture)));
        }

        return kf;
    }
}
