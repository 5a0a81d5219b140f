namespace ConntrackTuning.Engine.Entries;

/// <summary>The filter's construction: the user's values, validated, each wrong one an InvalidEntryFilter error naming it.</summary>
internal sealed partial class EntryFilter
{
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

        AddBlocks(sources, o.Sources, "Source", d, "source");
        AddBlocks(destinations, o.Destinations, "Destination", d, "destination");
        AddPorts(ports, o.Ports, "Port", d, "port");
        AddPorts(sourcePorts, o.SourcePorts, "SourcePort", d, "sourceport");
        AddPorts(destinationPorts, o.DestinationPorts, "DestinationPort", d, "destinationport");
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

    /// <summary>
    /// Validates the address blocks given to the parameter <paramref name="name"/> into <paramref name="into"/>, and
    /// adds "label a|b" (the label defaults to the parameter's name) to the description when there are any. Shared with the removal filter's reply and NAT values.
    /// </summary>
    internal static void AddBlocks(IEnumerable<string>? values, List<AddressBlock> into, string name, List<string> d, string? label = null)
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
            d.Add((label ?? name) + " " + string.Join("|", into.Select(b => b.Text)));
        }
    }

    /// <summary>The ports given to <paramref name="name"/>, as <see cref="AddBlocks"/> does addresses.</summary>
    internal static void AddPorts(IEnumerable<int>? values, List<ushort> into, string name, List<string> d, string? label = null)
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
            d.Add((label ?? name) + " " + string.Join("|", into));
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

    internal static ConntrackException Invalid(string parameter, string value, string action) =>
        new(ErrorIds.InvalidEntryFilter, ErrorKind.InvalidArgument,
            $"-{parameter} '{value}' is not a valid filter value.", value, action);
}
