namespace ConntrackTuning.Engine.Entries;

/// <summary>
/// The tokens of a table file's line, read from its UTF-8 bytes without allocating: the next word or key=value
/// pair, and the numbers, ports and hex fields inside them.
/// </summary>
internal static class EntryTokens
{
    // Scalar on purpose: tokens are a few bytes long, shorter than a vectorized search pays off for.
    internal static ReadOnlySpan<byte> Next(ReadOnlySpan<byte> line, ref int pos)
    {
        int i = pos;
        while (i < line.Length && (line[i] == (byte)' ' || line[i] == (byte)'\t'))
        {
            i++;
        }

        int start = i;
        while (i < line.Length && line[i] != (byte)' ' && line[i] != (byte)'\t')
        {
            i++;
        }

        pos = i;
        return line[start..i];
    }

    // Next, also finding the first '=' of the token in the same pass.
    internal static ReadOnlySpan<byte> NextKeyed(ReadOnlySpan<byte> line, ref int pos, out int eq)
    {
        int i = pos;
        while (i < line.Length && (line[i] == (byte)' ' || line[i] == (byte)'\t'))
        {
            i++;
        }

        int start = i;
        eq = -1;
        while (i < line.Length)
        {
            byte b = line[i];
            if (b == (byte)' ' || b == (byte)'\t')
            {
                break;
            }

            if (b == (byte)'=' && eq < 0)
            {
                eq = i - start;
            }

            i++;
        }

        pos = i;
        return line[start..i];
    }

    internal static int IndexOfEquals(ReadOnlySpan<byte> tok)
    {
        for (int i = 0; i < tok.Length; i++)
        {
            if (tok[i] == (byte)'=')
            {
                return i;
            }
        }

        return -1;
    }

    internal static bool IsWord(ReadOnlySpan<byte> tok)
    {
        foreach (byte b in tok)
        {
            if (!((b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') || (b >= '0' && b <= '9') || b == '_' || b == '-'))
            {
                return false;
            }
        }

        return true;
    }

    public static bool TryNumber(ReadOnlySpan<byte> s, out ulong value)
    {
        value = 0;
        if (s.IsEmpty || s.Length > 20)
        {
            return false;
        }

        foreach (byte b in s)
        {
            uint d = (uint)(b - '0');
            if (d > 9)
            {
                value = 0;
                return false;
            }

            ulong next = unchecked((value * 10) + d);
            if (value > ulong.MaxValue / 10 || next < value)
            {
                value = 0;
                return false;
            }

            value = next;
        }

        return true;
    }

    /// <summary>A decimal number no larger than <paramref name="max"/>, the largest value of the field it goes into.</summary>
    internal static bool TryNumber(ReadOnlySpan<byte> s, ulong max, out ulong value) => TryNumber(s, out value) && value <= max;

    internal static bool TryPort(ReadOnlySpan<byte> s, out ushort port)
    {
        bool ok = TryNumber(s, ushort.MaxValue, out ulong v);
        port = ok ? (ushort)v : (ushort)0;
        return ok;
    }

    internal static bool TryHex16(ReadOnlySpan<byte> s, out ushort value)
    {
        value = 0;
        if (s.StartsWith("0x"u8) || s.StartsWith("0X"u8))
        {
            s = s[2..];
        }

        if (s.IsEmpty || s.Length > 8)
        {
            return false;
        }

        uint v = 0;
        foreach (byte b in s)
        {
            int h = AddressText.HexValue(b);
            if (h < 0)
            {
                return false;
            }

            v = (v << 4) | (uint)h;
        }

        // GRE keys are 16-bit in the tuple (the kernel keeps the low half of the 32-bit key).
        value = (ushort)v;
        return v <= ushort.MaxValue;
    }

    internal static string Ascii(ReadOnlySpan<byte> s) => System.Text.Encoding.UTF8.GetString(s);
}
