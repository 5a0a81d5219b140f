using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace ConntrackTuning.Engine.Entries;

/// <summary>Addresses as 128-bit numbers: parsing from the bytes of a line, formatting for output, and CIDR blocks.</summary>
internal static class AddressText
{
    public static string Format(UInt128 address, bool ipv6)
    {
        if (!ipv6)
        {
            uint v = (uint)address;
            return string.Create(CultureInfo.InvariantCulture, $"{v >> 24}.{(v >> 16) & 0xff}.{(v >> 8) & 0xff}.{v & 0xff}");
        }

        Span<byte> bytes = stackalloc byte[16];
        BinaryPrimitives.WriteUInt128BigEndian(bytes, address);
        return new IPAddress(bytes).ToString();
    }

    /// <summary>Parses dotted-quad IPv4 from ASCII bytes, without allocating.</summary>
    public static bool TryParseIPv4(ReadOnlySpan<byte> text, out UInt128 address)
    {
        address = 0;
        uint value = 0;
        int octets = 0;
        int i = 0;
        while (true)
        {
            int start = i;
            uint octet = 0;
            while (i < text.Length && (uint)(text[i] - '0') <= 9 && i - start < 3)
            {
                octet = (octet * 10) + (uint)(text[i] - '0');
                i++;
            }

            if (i == start || octet > 255)
            {
                return false;
            }

            value = (value << 8) | octet;
            octets++;
            if (octets == 4)
            {
                break;
            }

            if (i >= text.Length || text[i] != '.')
            {
                return false;
            }

            i++;
        }

        if (i != text.Length)
        {
            return false;
        }

        address = value;
        return true;
    }

    /// <summary>
    /// Parses IPv6 from ASCII bytes. The procfs form (eight groups of four hex digits, as the kernel prints it) takes
    /// a fast path; the compressed form conntrack -L prints goes through <see cref="IPAddress"/>.
    /// </summary>
    public static bool TryParseIPv6(ReadOnlySpan<byte> text, out UInt128 address)
    {
        address = 0;
        if (text.Length == 39)
        {
            UInt128 value = 0;
            bool ok = true;
            for (int group = 0; group < 8 && ok; group++)
            {
                int at = group * 5;
                if (group < 7 && text[at + 4] != ':')
                {
                    ok = false;
                    break;
                }

                for (int k = 0; k < 4; k++)
                {
                    int h = HexValue(text[at + k]);
                    if (h < 0)
                    {
                        ok = false;
                        break;
                    }

                    value = (value << 4) | (uint)h;
                }
            }

            if (ok)
            {
                address = value;
                return true;
            }
        }

        if (text.Length > 64)
        {
            return false;
        }

        Span<char> chars = stackalloc char[text.Length];
        for (int i = 0; i < text.Length; i++)
        {
            chars[i] = (char)text[i];
        }

        if (!IPAddress.TryParse(chars, out IPAddress? ip) || ip.AddressFamily != AddressFamily.InterNetworkV6)
        {
            return false;
        }

        Span<byte> bytes = stackalloc byte[16];
        if (!ip.TryWriteBytes(bytes, out _))
        {
            return false;
        }

        address = BinaryPrimitives.ReadUInt128BigEndian(bytes);
        return true;
    }

    public static int HexValue(byte c) => c switch
    {
        >= (byte)'0' and <= (byte)'9' => c - '0',
        >= (byte)'a' and <= (byte)'f' => c - 'a' + 10,
        >= (byte)'A' and <= (byte)'F' => c - 'A' + 10,
        _ => -1,
    };
}

/// <summary>An address block such as 10.0.0.0/8, 192.0.2.7 or fe80::/10, matched against 128-bit addresses.</summary>
internal readonly record struct AddressBlock(bool IPv6, UInt128 Network, UInt128 Mask, int PrefixLength, string Text)
{
    public bool IsSingleAddress => PrefixLength == (IPv6 ? 128 : 32);

    public bool Contains(bool ipv6, UInt128 address) => ipv6 == IPv6 && (address & Mask) == Network;

    /// <summary>Whether any of the blocks holds the address (a filter's list of -Source or -NatAddress values).</summary>
    public static bool AnyContains(AddressBlock[] blocks, bool ipv6, UInt128 address)
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

    /// <summary>Parses "address" or "address/prefix". Host bits after the prefix are ignored, as ip route does.</summary>
    public static bool TryParse(string text, out AddressBlock block)
    {
        ArgumentNullException.ThrowIfNull(text);
        block = default;
        string t = text.Trim();
        int slash = t.IndexOf('/', StringComparison.Ordinal);
        string addressPart = slash < 0 ? t : t[..slash];
        if (!IPAddress.TryParse(addressPart, out IPAddress? ip)
            || ip.AddressFamily is not (AddressFamily.InterNetwork or AddressFamily.InterNetworkV6)
            || addressPart.Contains('%', StringComparison.Ordinal))
        {
            return false;
        }

        bool v6 = ip.AddressFamily == AddressFamily.InterNetworkV6;
        int bits = v6 ? 128 : 32;
        int prefix = bits;
        if (slash >= 0 && (!int.TryParse(t.AsSpan(slash + 1), NumberStyles.None, CultureInfo.InvariantCulture, out prefix) || prefix > bits))
        {
            return false;
        }

        Span<byte> bytes = stackalloc byte[16];
        ip.TryWriteBytes(bytes, out int written);
        UInt128 value = v6 ? BinaryPrimitives.ReadUInt128BigEndian(bytes) : BinaryPrimitives.ReadUInt32BigEndian(bytes);
        // Shifts are masked to the operand width, so a prefix of 0 needs its own case.
        UInt128 mask = prefix == 0 ? 0 : (v6 ? UInt128.MaxValue << (128 - prefix) : (UInt128)(uint.MaxValue << (32 - prefix)));

        block = new AddressBlock(v6, value & mask, mask, prefix, prefix == bits ? AddressText.Format(value, v6) : $"{AddressText.Format(value & mask, v6)}/{prefix}");
        return written > 0;
    }
}
