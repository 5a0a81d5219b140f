namespace ConntrackTuning.Engine.Entries;

/// <summary>
/// Names of layer-4 protocols and of the per-protocol states, as the kernel and conntrack-tools print them.
/// States are kept in one table so an entry carries a one-byte code instead of a string.
/// </summary>
internal static class ProtocolNames
{
    public const byte Icmp = 1;
    public const byte Tcp = 6;
    public const byte Udp = 17;
    public const byte Dccp = 33;
    public const byte Gre = 47;
    public const byte IcmpV6 = 58;
    public const byte Sctp = 132;
    public const byte UdpLite = 136;

    private static readonly string?[] ByNumber = BuildNames();

    private static string?[] BuildNames()
    {
        var names = new string?[256];
        names[Icmp] = "icmp";
        names[2] = "igmp";
        names[Tcp] = "tcp";
        names[Udp] = "udp";
        names[Dccp] = "dccp";
        names[41] = "ipv6";
        names[Gre] = "gre";
        names[50] = "esp";
        names[51] = "ah";
        names[IcmpV6] = "icmpv6";
        names[112] = "vrrp";
        names[Sctp] = "sctp";
        names[UdpLite] = "udplite";
        return names;
    }

    private static readonly string[] Numbers = BuildNumbers();

    private static string[] BuildNumbers()
    {
        var numbers = new string[256];
        for (int i = 0; i < 256; i++)
        {
            numbers[i] = i.ToString(CultureInfo.InvariantCulture);
        }

        return numbers;
    }

    /// <summary>The names offered by tab completion: the protocols the kernel tracks with their own tracker.</summary>
    public static IReadOnlyList<string> Completable { get; } = ["tcp", "udp", "icmp", "icmpv6", "sctp", "gre", "udplite", "dccp"];

    /// <summary>The protocol's name, or its number as text when it has none (the kernel prints "unknown").</summary>
    public static string Name(byte number) => ByNumber[number] ?? Numbers[number];

    public static bool TryParse(string text, out byte number)
    {
        ArgumentNullException.ThrowIfNull(text);
        string t = text.Trim();
        if (byte.TryParse(t, NumberStyles.None, CultureInfo.InvariantCulture, out number))
        {
            return true;
        }

        for (int i = 0; i < ByNumber.Length; i++)
        {
            if (string.Equals(ByNumber[i], t, StringComparison.OrdinalIgnoreCase))
            {
                number = (byte)i;
                return true;
            }
        }

        if (string.Equals(t, "icmp6", StringComparison.OrdinalIgnoreCase) || string.Equals(t, "ipv6-icmp", StringComparison.OrdinalIgnoreCase))
        {
            number = IcmpV6;
            return true;
        }

        return false;
    }

    /// <summary>Protocols whose tuples carry ports (and whose ports a destination-port ranking makes sense for).</summary>
    public static bool HasPorts(byte protocol) =>
        protocol is Tcp or Udp or UdpLite or Sctp or Dccp;

    public static bool IsIcmp(byte protocol) => protocol is Icmp or IcmpV6;
}

/// <summary>
/// Every protocol state name an entry can carry, interned to a byte. Code 0 means "no state" (UDP, ICMP, GRE and
/// the rest of the stateless protocols). Names from old kernels (LISTEN) and any name a newer kernel invents are
/// added on first sight, up to the byte's range.
/// </summary>
internal static class StateNames
{
    public const byte None = 0;

    // enum tcp_conntrack, in kernel order, so the netlink byte maps by offset.
    private static readonly string[] Tcp =
        ["NONE", "SYN_SENT", "SYN_RECV", "ESTABLISHED", "FIN_WAIT", "CLOSE_WAIT", "LAST_ACK", "TIME_WAIT", "CLOSE", "SYN_SENT2"];

    // enum sctp_conntrack.
    private static readonly string[] Sctp =
        ["NONE", "CLOSED", "COOKIE_WAIT", "COOKIE_ECHOED", "ESTABLISHED", "SHUTDOWN_SENT", "SHUTDOWN_RECD", "SHUTDOWN_ACK_SENT", "HEARTBEAT_SENT", "HEARTBEAT_ACKED"];

    // enum ct_dccp_states.
    private static readonly string[] Dccp =
        ["NONE", "REQUEST", "RESPOND", "PARTOPEN", "OPEN", "CLOSEREQ", "CLOSING", "TIMEWAIT", "IGNORE", "INVALID"];

    private static readonly object Gate = new();
    private static readonly List<string> Names = [""];
    private static readonly Dictionary<string, byte> Codes = new(StringComparer.OrdinalIgnoreCase);
    private static readonly byte[] TcpCodes;
    private static readonly byte[] SctpCodes;
    private static readonly byte[] DccpCodes;

    // Copy-on-write snapshot of Names in UTF-8, indexed by code, so text parsing reads it without the lock.
    private static byte[][] _utf8 = [[]];

    static StateNames()
    {
        TcpCodes = Array.ConvertAll(Tcp, Intern);
        SctpCodes = Array.ConvertAll(Sctp, Intern);
        DccpCodes = Array.ConvertAll(Dccp, Intern);
        Intern("LISTEN");
    }

    /// <summary>Every known state name, for tab completion (TCP first, as users mostly want those).</summary>
    public static IReadOnlyList<string> Completable { get; } = BuildCompletable();

    private static string[] BuildCompletable()
    {
        var all = new List<string>();
        foreach (string s in (string[])[.. Tcp, .. Sctp, .. Dccp])
        {
            if (!all.Contains(s))
            {
                all.Add(s);
            }
        }

        return [.. all];
    }

    /// <summary>
    /// The state names of the protocols given (names or numbers, as -Protocol takes them), in the kernel's order;
    /// every state when none is given or none can be read. A protocol without states (udp, icmp) adds none, so
    /// "-Protocol udp -State" offers nothing rather than TCP's states.
    /// </summary>
    public static IReadOnlyList<string> CompletableFor(IEnumerable<string>? protocols)
    {
        var numbers = new List<byte>();
        foreach (string p in protocols ?? [])
        {
            if (ProtocolNames.TryParse(p, out byte number))
            {
                numbers.Add(number);
            }
        }

        if (numbers.Count == 0)
        {
            return Completable;
        }

        var names = new List<string>();
        foreach (byte number in numbers)
        {
            string[] states = number switch
            {
                ProtocolNames.Tcp => Tcp,
                ProtocolNames.Sctp => Sctp,
                ProtocolNames.Dccp => Dccp,
                _ => [],
            };
            names.AddRange(states.Where(s => !names.Contains(s)));
        }

        return names;
    }

    public static string? Name(byte code)
    {
        if (code == None)
        {
            return null;
        }

        lock (Gate)
        {
            return code < Names.Count ? Names[code] : null;
        }
    }

    /// <summary>The code of a state name, adding it when new; None when the table is full.</summary>
    public static byte Intern(string name)
    {
        lock (Gate)
        {
            if (Codes.TryGetValue(name, out byte code))
            {
                return code;
            }

            if (Names.Count > byte.MaxValue)
            {
                return None;
            }

            code = (byte)Names.Count;
            string upper = name.ToUpperInvariant();
            Names.Add(upper);
            Codes[name] = code;
            _utf8 = [.. _utf8, System.Text.Encoding.ASCII.GetBytes(upper)];
            return code;
        }
    }

    /// <summary>The code of a state name without adding it; false for a name never seen.</summary>
    public static bool TryFind(string name, out byte code)
    {
        lock (Gate)
        {
            return Codes.TryGetValue(name, out code);
        }
    }

    /// <summary>A state written as bytes (from a text line). Known names are found without allocating.</summary>
    public static byte FromText(ReadOnlySpan<byte> name)
    {
        if (name.IsEmpty || name.Length > 32)
        {
            return None;
        }

        byte[][] known = _utf8;
        for (int i = 1; i < known.Length; i++)
        {
            if (name.SequenceEqual(known[i]))
            {
                return (byte)i;
            }
        }

        Span<char> chars = stackalloc char[name.Length];
        for (int i = 0; i < name.Length; i++)
        {
            byte b = name[i];
            if (b >= 0x80 || b <= 0x20)
            {
                return None;
            }

            chars[i] = (char)b;
        }

        return Intern(new string(chars));
    }

    /// <summary>The code of the state byte a netlink protoinfo attribute carries for a protocol.</summary>
    public static byte FromKernel(byte protocol, byte state)
    {
        byte[]? table = protocol switch
        {
            ProtocolNames.Tcp => TcpCodes,
            ProtocolNames.Sctp => SctpCodes,
            ProtocolNames.Dccp => DccpCodes,
            _ => null,
        };
        if (table is null)
        {
            return None;
        }

        return state < table.Length ? table[state] : Intern("STATE_" + state.ToString(CultureInfo.InvariantCulture));
    }
}
