using System.Buffers.Binary;
using ConntrackTuning.Engine.Entries;
using ConntrackTuning.Engine.Netlink;

namespace ConntrackTuning.Engine.Expectations;

/// <summary>
/// Reads expectations: one IPCTNL_MSG_EXP_NEW message of a dump (enum ctattr_expect), or one line of
/// proc/net/nf_conntrack_expect, which 6.18 prints as
/// "298 l3proto = 2 proto=6 src=127.0.0.1 dst=127.0.0.1 sport=0 dport=20001 ftp" (timeout or "-", the
/// family, the protocol, the expected tuple, then PERMANENT,INACTIVE,USERSPACE flags and the helper with its
/// policy name as "sip/audio"). Damaged input is reported as not parsed.
/// </summary>
internal static class ExpectationParser
{
    private static readonly string[] FlagNames = ["Permanent", "Inactive", "Userspace"];

    public static ConntrackExpectation? TryParse(ReadOnlySpan<byte> message)
    {
        if (message.Length < NetlinkWire.AttributesStart)
        {
            return null;
        }

        byte family = message[16];
        if (family is not (2 or 10))
        {
            return null;
        }

        var tuple = default(EntryTuple);
        var mask = default(EntryTuple);
        var master = default(EntryTuple);
        byte protocol = 0;
        byte masterProtocol = 0;
        bool hasTuple = false, hasMask = false, hasMaster = false;
        long? timeout = null;
        long? id = null;
        string? helper = null;
        int zone = 0;
        int? cls = null;
        var flags = new List<string>();
        var attrs = AttributeReader.OfMessage(message);
        while (attrs.Next())
        {
            ReadOnlySpan<byte> p = attrs.Payload;
            switch (attrs.Type)
            {
                case NetlinkWire.CtaExpectTuple:
                    tuple.Zone = -1;
                    hasTuple = CtnetlinkTupleParser.TryTuple(p, family, ref tuple, out protocol);
                    if (!hasTuple)
                    {
                        return null;
                    }

                    break;
                case NetlinkWire.CtaExpectMask:
                    hasMask = CtnetlinkTupleParser.TryTuple(p, family, ref mask, out _);
                    break;
                case NetlinkWire.CtaExpectMaster:
                    hasMaster = CtnetlinkTupleParser.TryTuple(p, family, ref master, out masterProtocol);
                    break;
                case NetlinkWire.CtaExpectTimeout when p.Length >= 4:
                    timeout = BinaryPrimitives.ReadUInt32BigEndian(p);
                    break;
                case NetlinkWire.CtaExpectId when p.Length >= 4:
                    id = BinaryPrimitives.ReadUInt32BigEndian(p);
                    break;
                case NetlinkWire.CtaExpectHelpName:
                    helper = Encoding.ASCII.GetString(p.IndexOf((byte)0) is >= 0 and var nul ? p[..nul] : p);
                    break;
                case NetlinkWire.CtaExpectZone when p.Length >= 2:
                    zone = BinaryPrimitives.ReadUInt16BigEndian(p);
                    break;
                case NetlinkWire.CtaExpectFlags when p.Length >= 4:
                    uint bits = BinaryPrimitives.ReadUInt32BigEndian(p);
                    for (int i = 0; i < FlagNames.Length; i++)
                    {
                        if ((bits & (1u << i)) != 0)
                        {
                            flags.Add(FlagNames[i]);
                        }
                    }

                    break;
                case NetlinkWire.CtaExpectClass when p.Length >= 4:
                    cls = (int)BinaryPrimitives.ReadUInt32BigEndian(p);
                    break;
                default:
                    break;
            }
        }

        if (attrs.Malformed || !hasTuple)
        {
            return null;
        }

        bool v6 = family == 10;
        bool ports = ProtocolNames.HasPorts(protocol) && tuple.HasPorts;
        return new ConntrackExpectation
        {
            Family = v6 ? "IPv6" : "IPv4",
            Protocol = ProtocolNames.Name(protocol),
            Source = AddressText.Format(tuple.Source, v6),
            Destination = AddressText.Format(tuple.Destination, v6),
            SourcePort = ports ? tuple.SourcePort : null,
            DestinationPort = ports ? tuple.DestinationPort : null,
            MaskSource = hasMask ? AddressText.Format(mask.Source, v6) : null,
            MaskDestination = hasMask ? AddressText.Format(mask.Destination, v6) : null,
            MaskSourcePort = hasMask && ports ? mask.SourcePort : null,
            MaskDestinationPort = hasMask && ports ? mask.DestinationPort : null,
            MasterProtocol = hasMaster ? ProtocolNames.Name(masterProtocol) : null,
            MasterSource = hasMaster ? AddressText.Format(master.Source, v6) : null,
            MasterDestination = hasMaster ? AddressText.Format(master.Destination, v6) : null,
            MasterSourcePort = hasMaster && master.HasPorts ? master.SourcePort : null,
            MasterDestinationPort = hasMaster && master.HasPorts ? master.DestinationPort : null,
            Helper = helper,
            Timeout = timeout,
            Flags = flags,
            Class = cls,
            Zone = zone,
            Id = id,
            ReadFrom = "ctnetlink",
        };
    }

    // procfs prints IPv6 with %pI6, uncompressed; objects show the short form, as Get-ConntrackEntry does.
    private static string Normal(string address) =>
        System.Net.IPAddress.TryParse(address, out System.Net.IPAddress? parsed) ? parsed.ToString() : address;

    /// <summary>
    /// One "EXPECTING:" line of a 2.4 proc/net/ip_conntrack (print_expect in ip_conntrack_standalone.c): the seconds
    /// left or "-", "use=N", then the tuple as the later expectation file prints it. Null for the entry lines.
    /// </summary>
    public static ConntrackExpectation? TryParseTableLine(string line, string readFrom)
    {
        ArgumentNullException.ThrowIfNull(line);
        const string prefix = "EXPECTING:";
        if (!line.StartsWith(prefix, StringComparison.Ordinal))
        {
            return null;
        }

        List<string> words = [.. line[prefix.Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries).Where(w => !w.StartsWith("use=", StringComparison.Ordinal))];
        if (words.Count > 0 && words[0].StartsWith("proto=", StringComparison.Ordinal))
        {
            // Copies that left the timer out: the time left is not known.
            words.Insert(0, "-");
        }

        return TryParseLine(string.Join(' ', words), readFrom);
    }

    /// <summary>
    /// One line of proc/net/nf_conntrack_expect (nf_conntrack_expect.c, exp_seq_show), or of ip_conntrack's
    /// proc/net/ip_conntrack_expect, which prints no l3proto because it holds IPv4 only.
    /// </summary>
    public static ConntrackExpectation? TryParseLine(string line, string readFrom)
    {
        ArgumentNullException.ThrowIfNull(line);
        string[] words = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (words.Length < 4)
        {
            return null;
        }

        long? timeout = null;
        if (words[0] != "-")
        {
            if (!long.TryParse(words[0], NumberStyles.None, CultureInfo.InvariantCulture, out long t))
            {
                return null;
            }

            timeout = t;
        }

        int i = 1;
        byte family = 2;
        // "l3proto = 2": the only field the kernel prints with spaces around '='.
        if (i + 2 < words.Length && words[i] == "l3proto" && words[i + 1] == "=")
        {
            family = byte.TryParse(words[i + 2], NumberStyles.None, CultureInfo.InvariantCulture, out byte f) ? f : (byte)0;
            i += 3;
        }

        if (family is not (2 or 10) || i >= words.Length || !words[i].StartsWith("proto=", StringComparison.Ordinal)
            || !byte.TryParse(words[i].AsSpan(6), NumberStyles.None, CultureInfo.InvariantCulture, out byte protocol))
        {
            return null;
        }

        i++;
        string? src = null, dst = null;
        int? sport = null, dport = null;
        for (; i < words.Length && words[i].Contains('=', StringComparison.Ordinal); i++)
        {
            string w = words[i];
            int eq = w.IndexOf('=', StringComparison.Ordinal);
            string key = w[..eq];
            string value = w[(eq + 1)..];
            switch (key)
            {
                case "src":
                    src = value;
                    break;
                case "dst":
                    dst = value;
                    break;
                case "sport" when int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out int sp):
                    sport = sp;
                    break;
                case "dport" when int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out int dp):
                    dport = dp;
                    break;
                default:
                    break;
            }
        }

        if (src is null || dst is null)
        {
            return null;
        }

        var flags = new List<string>();
        string? helper = null;
        string? policy = null;
        for (; i < words.Length; i++)
        {
            string w = words[i];
            if (w.Contains("PERMANENT", StringComparison.Ordinal) || w.Contains("INACTIVE", StringComparison.Ordinal) || w.Contains("USERSPACE", StringComparison.Ordinal))
            {
                foreach (string f in w.Split(',', StringSplitOptions.RemoveEmptyEntries))
                {
                    flags.Add(f switch { "PERMANENT" => "Permanent", "INACTIVE" => "Inactive", "USERSPACE" => "Userspace", _ => f });
                }
            }
            else
            {
                int slash = w.IndexOf('/', StringComparison.Ordinal);
                helper = slash < 0 ? w : w[..slash];
                policy = slash < 0 ? null : w[(slash + 1)..];
            }
        }

        return new ConntrackExpectation
        {
            Family = family == 10 ? "IPv6" : "IPv4",
            Protocol = ProtocolNames.Name(protocol),
            Source = Normal(src),
            Destination = Normal(dst),
            SourcePort = sport,
            DestinationPort = dport,
            Helper = helper,
            PolicyName = policy,
            Timeout = timeout,
            Flags = flags,
            ReadFrom = readFrom,
        };
    }
}
