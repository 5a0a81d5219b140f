using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using ConntrackTuning.Engine.Netlink;
using ConntrackTuning.Engine.Kernel;

namespace ConntrackTuning.Engine.Entries;

/// <summary>
/// What the user asked for, as conntrack's -L options do: protocol, state, addresses (CIDR), ports, mark, zone,
/// family and the unreplied/assured flags. Values of one filter are alternatives; different filters must all hold.
/// It always checks entries itself, whatever part the kernel was asked to filter, because a kernel silently
/// ignores the filters it does not know.
/// </summary>
internal sealed class EntryFilter
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

        if (_sources is not null && !AnyContains(_sources, r.IsIPv6, r.Original.Source))
        {
            return false;
        }

        if (_destinations is not null && !AnyContains(_destinations, r.IsIPv6, r.Original.Destination))
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

    private static bool AnyContains(AddressBlock[] blocks, bool ipv6, UInt128 address)
    {
        foreach (AddressBlock b in blocks)
        {
            if (b.Contains(ipv6, address))
            {
                return true;
            }
        }

        return false;
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

    /// <summary>The filter values as a cmdlet receives them, before validation.</summary>
    internal sealed class Options
    {
        public byte Family { get; set; }

        public List<byte> Protocols { get; } = [];

        public List<byte> States { get; } = [];

        public List<AddressBlock> Sources { get; } = [];

        public List<AddressBlock> Destinations { get; } = [];

        public List<ushort> Ports { get; } = [];

        public List<ushort> SourcePorts { get; } = [];

        public List<ushort> DestinationPorts { get; } = [];

        public (uint Value, uint Mask)? Mark { get; set; }

        public ushort? Zone { get; set; }

        public bool Unreplied { get; set; }

        public bool Assured { get; set; }
    }

    private static EntryFilter Create(Options o) => new(o, []);

    /// <summary>
    /// Validates the user's values and builds the filter. Any value that cannot be understood is an
    /// InvalidEntryFilter error naming it, before anything is read.
    /// </summary>
    public static EntryFilter Parse(string? family, IEnumerable<string>? protocols, IEnumerable<string>? states,
        IEnumerable<string>? sources, IEnumerable<string>? destinations, IEnumerable<int>? ports,
        IEnumerable<int>? sourcePorts, IEnumerable<int>? destinationPorts, string? mark, int? zone, bool unreplied, bool assured)
    {
        var o = new Options { Unreplied = unreplied, Assured = assured };
        var d = new List<string>();
        if (!string.IsNullOrWhiteSpace(family))
        {
            o.Family = family.Trim().ToUpperInvariant() switch
            {
                "IPV4" or "INET" or "4" => 2,
                "IPV6" or "INET6" or "6" => 10,
                _ => throw Invalid("Family", family, "Use IPv4 or IPv6."),
            };
            d.Add("family " + (o.Family == 2 ? "IPv4" : "IPv6"));
        }

        foreach (string p in protocols ?? [])
        {
            if (!ProtocolNames.TryParse(p, out byte number))
            {
                throw Invalid("Protocol", p, "Use a protocol name (" + string.Join(", ", ProtocolNames.Completable) + ") or a number from 0 to 255.");
            }

            o.Protocols.Add(number);
        }

        if (o.Protocols.Count > 0)
        {
            d.Add("protocol " + string.Join("|", o.Protocols.Select(ProtocolNames.Name)));
        }

        foreach (string s in states ?? [])
        {
            if (!StateNames.TryFind(s.Trim(), out byte code))
            {
                throw Invalid("State", s, "Use a TCP, SCTP or DCCP state such as " + string.Join(", ", StateNames.Completable.Take(10)) + ".");
            }

            o.States.Add(code);
        }

        if (o.States.Count > 0)
        {
            d.Add("state " + string.Join("|", o.States.Select(c => StateNames.Name(c))));
        }

        AddBlocks(sources, o.Sources, "Source", d);
        AddBlocks(destinations, o.Destinations, "Destination", d);
        AddPorts(ports, o.Ports, "Port", d);
        AddPorts(sourcePorts, o.SourcePorts, "SourcePort", d);
        AddPorts(destinationPorts, o.DestinationPorts, "DestinationPort", d);
        if (!string.IsNullOrWhiteSpace(mark))
        {
            o.Mark = ParseMark(mark);
            d.Add(string.Create(CultureInfo.InvariantCulture, $"mark {o.Mark.Value.Value}/0x{o.Mark.Value.Mask:x}"));
        }

        if (zone is { } z)
        {
            if (z < 0 || z > ushort.MaxValue)
            {
                throw Invalid("Zone", z.ToString(CultureInfo.InvariantCulture), "Zones are numbers from 0 to 65535.");
            }

            o.Zone = (ushort)z;
            d.Add("zone " + z.ToString(CultureInfo.InvariantCulture));
        }

        if (unreplied)
        {
            d.Add("unreplied");
        }

        if (assured)
        {
            d.Add("assured");
        }

        return new EntryFilter(o, d);
    }

    private static void AddBlocks(IEnumerable<string>? values, List<AddressBlock> into, string name, List<string> d)
    {
        foreach (string v in values ?? [])
        {
            if (!AddressBlock.TryParse(v, out AddressBlock block))
            {
                throw Invalid(name, v, "Give an IPv4 or IPv6 address, optionally with a prefix length: 10.0.0.0/8, 192.0.2.7, fe80::/10.");
            }

            into.Add(block);
        }

        if (into.Count > 0)
        {
            d.Add(name.ToLowerInvariant() + " " + string.Join("|", into.Select(b => b.Text)));
        }
    }

    private static void AddPorts(IEnumerable<int>? values, List<ushort> into, string name, List<string> d)
    {
        foreach (int v in values ?? [])
        {
            if (v < 0 || v > ushort.MaxValue)
            {
                throw Invalid(name, v.ToString(CultureInfo.InvariantCulture), "Ports are numbers from 0 to 65535.");
            }

            into.Add((ushort)v);
        }

        if (into.Count > 0)
        {
            d.Add(name.ToLowerInvariant() + " " + string.Join("|", into));
        }
    }

    /// <summary>"7", "0x7", "7/0xff" or "0x10/0xf0", as conntrack -m takes it.</summary>
    internal static (uint Value, uint Mask) ParseMark(string text)
    {
        string t = text.Trim();
        int slash = t.IndexOf('/', StringComparison.Ordinal);
        if (!TryUInt(slash < 0 ? t : t[..slash], out uint value))
        {
            throw Invalid("Mark", text, "Give a mark as a number, optionally with a mask: 7, 0x7, 0x10/0xf0.");
        }

        uint mask = uint.MaxValue;
        if (slash >= 0 && !TryUInt(t[(slash + 1)..], out mask))
        {
            throw Invalid("Mark", text, "The mask after '/' must be a number such as 0xff.");
        }

        return (value & mask, mask);
    }

    private static bool TryUInt(string s, out uint value)
    {
        s = s.Trim();
        return s.StartsWith("0x", StringComparison.OrdinalIgnoreCase)
            ? uint.TryParse(s.AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out value)
            : uint.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out value);
    }

    private static ConntrackException Invalid(string parameter, string value, string action) =>
        new(ErrorIds.InvalidEntryFilter, ErrorKind.InvalidArgument,
            $"-{parameter} '{value}' is not a valid filter value.", value, action);
}

/// <summary>
/// Which dump filters each kernel applies (CTNETLINK.md §9), as data. A kernel older than a row ignores that
/// attribute and returns everything, so the engine only sends what the kernel honours and checks every entry
/// itself anyway. Unknown versions get the filters every ctnetlink kernel knows.
/// </summary>
internal static class CtnetlinkFilterSupport
{
    internal sealed record Row(string Filter, KernelVersion Since, string Note, KernelVersion? MaskBrokenFrom = null, KernelVersion? MaskBrokenUntil = null);

    public static IReadOnlyList<Row> Rows { get; } =
    [
        new("family", new(2, 6, 14), "nfgen_family, since ctnetlink began"),
        new("mark", new(3, 4), "CTA_MARK + CTA_MARK_MASK; with a partial mask 5.8 and 5.9 could skip matching entries (fixed Sept 2020)",
            MaskBrokenFrom: new(5, 8), MaskBrokenUntil: new(5, 10)),
        new("status", new(5, 15), "CTA_STATUS + CTA_STATUS_MASK (commit 9344988d2979)"),
        new("zone", new(6, 8), "CTA_ZONE (commit eff3c558bb7e; zone 0 fixed in 6.8-rc4)"),
        new("tuple", new(5, 8), "CTA_FILTER with original-tuple fields (commit cb8aa9a3affb); IPv4 addresses only, IPv6 address matching is inverted in 6.18"),
    ];

    public static bool Allows(string filter, KernelVersion? version, bool fullMask = true)
    {
        Row row = Rows.First(r => r.Filter == filter);
        if (version is not { } v)
        {
            return filter is "family" or "mark" && fullMask;
        }

        if (v < row.Since)
        {
            return false;
        }

        return fullMask || row.MaskBrokenFrom is not { } from || v < from || v >= row.MaskBrokenUntil!.Value;
    }
}
