using System.Runtime.CompilerServices;

namespace ConntrackTuning.Engine.KernelLog;

/// <summary>The position helpers every layout's reader shares: tokens, spaces, fixed-width digits, a priority prefix.</summary>
internal static class LogText
{
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static bool TryPriority(string s, out int after)
    {
        after = 0;
        int close = s.IndexOf('>', StringComparison.Ordinal);
        if (close < 2 || close > 4)
        {
            return false;
        }

        for (int k = 1; k < close; k++)
        {
            if (!char.IsAsciiDigit(s[k]))
            {
                return false;
            }
        }

        after = close + 1;
        return true;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static bool Digits(string s, int i, int count, out int value)
    {
        value = 0;
        if (i < 0 || i + count > s.Length)
        {
            return false;
        }

        for (int k = i; k < i + count; k++)
        {
            if (!char.IsAsciiDigit(s[k]))
            {
                return false;
            }

            value = (value * 10) + (s[k] - '0');
        }

        return true;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static bool StartsWith(string s, int i, string prefix) =>
        i + prefix.Length <= s.Length && string.CompareOrdinal(s, i, prefix, 0, prefix.Length) == 0;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static int SkipSpaces(string s, int i)
    {
        while (i < s.Length && (s[i] == ' ' || s[i] == '\t'))
        {
            i++;
        }

        return i;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static int TokenEnd(string s, int i)
    {
        while (i < s.Length && s[i] != ' ' && s[i] != '\t')
        {
            i++;
        }

        return i;
    }
}
