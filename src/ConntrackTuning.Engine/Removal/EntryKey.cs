using ConntrackTuning.Engine.Entries;

namespace ConntrackTuning.Engine.Removal;

/// <summary>
/// Turns a Get-ConntrackEntry object back into what a delete needs: family, protocol, the original tuple, the
/// zones and the id. Fields the delete does not send are left empty.
/// </summary>
internal static class EntryKey
{
    /// <summary>An entry as the messages about it name it: protocol, source and destination with ports, and a zone other than 0.</summary>
    public static string Describe(ConntrackEntry e)
    {
        ArgumentNullException.ThrowIfNull(e);
        return $"{e.Protocol} {e.Source}{(e.SourcePort is { } sp ? ":" + sp.ToString(CultureInfo.InvariantCulture) : "")} -> {e.Destination}{(e.DestinationPort is { } dp ? ":" + dp.ToString(CultureInfo.InvariantCulture) : "")}"
            + (e.Zone != 0 ? " zone " + e.Zone.ToString(CultureInfo.InvariantCulture) : "");
    }

    public static bool TryFromEntry(ConntrackEntry entry, ref EntryRecord r, out string? problem)
    {
        ArgumentNullException.ThrowIfNull(entry);
        r.Clear();
        problem = null;
        r.Family = entry.Family == "IPv6" ? (byte)10 : (byte)2;
        if (entry.ProtocolNumber is < 0 or > 255)
        {
            problem = "its protocol number is out of range";
            return false;
        }

        r.Protocol = (byte)entry.ProtocolNumber;
        if (!TryAddress(entry.Source, r.IsIPv6, out r.Original.Source) || !TryAddress(entry.Destination, r.IsIPv6, out r.Original.Destination))
        {
            problem = $"its addresses '{entry.Source}' and '{entry.Destination}' are not {entry.Family} addresses";
            return false;
        }

        r.Original.HasSource = r.Original.HasDestination = true;
        if (entry.SourcePort is { } sp && entry.DestinationPort is { } dp)
        {
            r.Original.SourcePort = (ushort)sp;
            r.Original.DestinationPort = (ushort)dp;
            r.Original.HasPorts = true;
        }
        else if (entry.GreSourceKey is { } sk && entry.GreDestinationKey is { } dk)
        {
            r.Original.SourcePort = (ushort)sk;
            r.Original.DestinationPort = (ushort)dk;
            r.Original.HasPorts = true;
        }
        else if (entry.IcmpType is { } type && entry.IcmpCode is { } code && entry.IcmpId is { } id)
        {
            r.Original.IcmpType = (byte)type;
            r.Original.IcmpCode = (byte)code;
            r.Original.IcmpId = (ushort)id;
            r.Original.HasIcmp = true;
        }
        else if (ProtocolNames.HasPorts(r.Protocol))
        {
            problem = "it has no ports (a saved table that does not show them cannot name the entry)";
            return false;
        }

        r.Zone = (ushort)entry.Zone;
        r.Original.Zone = entry.OriginalZone ?? -1;
        r.Reply.Zone = entry.ReplyZone ?? -1;
        if (entry.Id is { } entryId)
        {
            r.Id = (uint)entryId;
            r.HasId = true;
        }

        r.Timeout = entry.Timeout ?? -1;
        return true;
    }

    private static bool TryAddress(string text, bool ipv6, out UInt128 address)
    {
        byte[] bytes = Encoding.ASCII.GetBytes(text);
        return ipv6 ? AddressText.TryParseIPv6(bytes, out address) : AddressText.TryParseIPv4(bytes, out address);
    }
}
