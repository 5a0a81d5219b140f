using System.Runtime.CompilerServices;

namespace ConntrackTuning.Engine.KernelLog;

/// <summary>
/// The time stamps log lines begin with: ISO 8601 (rsyslog, dmesg --time-format iso, RFC 5424), the weekday form of
/// logread and dmesg -T, year-less syslog (the year inferred from the source), and seconds since boot. Read by hand,
/// since the framework's parsers are slow in a cold process.
/// </summary>
internal static class LogTimestamps
{
    private static readonly string[] Months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    private static readonly string[] Weekdays = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

    /// <summary>1 to 12 for "Jan" to "Dec", else 0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int MonthOf(ReadOnlySpan<char> name)
    {
        for (int m = 0; m < Months.Length; m++)
        {
            if (name.SequenceEqual(Months[m]))
            {
                return m + 1;
            }
        }

        return 0;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static bool IsWeekday(ReadOnlySpan<char> name)
    {
        foreach (string day in Weekdays)
        {
            if (name.SequenceEqual(day))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>9999-12-31 in microseconds since 1970: beyond it a journal time is garbage.</summary>
    internal const long MaxUnixMicroseconds = 253402300799L * 1000000;

    /// <summary>Boot time plus seconds since boot; null when either is unknown or the sum is not a date.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static DateTime? AfterBoot(DateTime? boot, double seconds)
    {
        if (boot is not { } b || double.IsNaN(seconds) || seconds < 0 || seconds > 3.2e9)
        {
            return null;
        }

        long ticks = (long)Math.Round(seconds * TimeSpan.TicksPerSecond);
        return DateTime.MaxValue.Ticks - b.Ticks < ticks ? null : b.AddTicks(ticks);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static bool TryParseSeconds(ReadOnlySpan<char> text, out double seconds)
    {
        // "974749.140915": digits, one optional point, digits; read by hand (double.TryParse is slow in a cold process).
        text = text.Trim();
        seconds = 0;
        if (text.IsEmpty || text.Length > 20 || !char.IsAsciiDigit(text[0]))
        {
            return false;
        }

        long whole = 0, fraction = 0, scale = 1;
        bool point = false;
        foreach (char c in text)
        {
            if (c == '.' && !point)
            {
                point = true;
            }
            else if (!char.IsAsciiDigit(c))
            {
                return false;
            }
            else if (point)
            {
                if (scale < 1_000_000_000)
                {
                    fraction = (fraction * 10) + (c - '0');
                    scale *= 10;
                }
            }
            else
            {
                whole = (whole * 10) + (c - '0');
            }
        }

        seconds = whole + ((double)fraction / scale);
        return true;
    }

    /// <summary>2026-03-26T21:53:50[.fraction|,fraction][Z|+01:00|+0100], or a space instead of the T.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static bool TryIsoTime(string s, int i, out DateTime time, out int after)
    {
        time = default;
        after = i;
        if (s.Length < i + 19
            || !LogText.Digits(s, i, 4, out int year) || s[i + 4] != '-'
            || !LogText.Digits(s, i + 5, 2, out int month) || s[i + 7] != '-'
            || !LogText.Digits(s, i + 8, 2, out int day) || (s[i + 10] != 'T' && s[i + 10] != ' ')
            || !LogText.Digits(s, i + 11, 2, out int hour) || s[i + 13] != ':'
            || !LogText.Digits(s, i + 14, 2, out int minute) || s[i + 16] != ':'
            || !LogText.Digits(s, i + 17, 2, out int second))
        {
            return false;
        }

        int p = i + 19;
        long fractionTicks = 0;
        if (p < s.Length && (s[p] == '.' || s[p] == ','))
        {
            int start = ++p;
            while (p < s.Length && char.IsAsciiDigit(s[p]))
            {
                p++;
            }

            if (p == start)
            {
                return false;
            }

            ReadOnlySpan<char> digits = s.AsSpan(start, Math.Min(p - start, 7));
            fractionTicks = long.Parse(digits, NumberStyles.None, CultureInfo.InvariantCulture);
            for (int pad = digits.Length; pad < 7; pad++)
            {
                fractionTicks *= 10;
            }
        }

        TimeSpan? offset = null;
        if (p < s.Length && s[p] == 'Z')
        {
            offset = TimeSpan.Zero;
            p++;
        }
        else if (p < s.Length && (s[p] == '+' || s[p] == '-') && LogText.Digits(s, p + 1, 2, out int oh))
        {
            int q = p + 3;
            if (q < s.Length && s[q] == ':')
            {
                q++;
            }

            if (!LogText.Digits(s, q, 2, out int om))
            {
                return false;
            }

            offset = new TimeSpan(oh, om, 0) * (s[p] == '-' ? -1 : 1);
            p = q + 2;
        }

        if (p < s.Length && s[p] != ' ' && s[p] != '\t')
        {
            return false;
        }

        if (!TryDate(year, month, day, hour, minute, second, out DateTime local))
        {
            return false;
        }

        try
        {
            local = local.AddTicks(fractionTicks);
            time = offset is { } o
                ? new DateTimeOffset(DateTime.SpecifyKind(local, DateTimeKind.Unspecified), o).LocalDateTime
                : DateTime.SpecifyKind(local, DateTimeKind.Local);
        }
        catch (ArgumentException)
        {
            // An offset past ±14 h, or a time that leaves the calendar once the offset is applied.
            return false;
        }

        after = p;
        return true;
    }

    /// <summary>"Thu Mar 26 21:53:50 2026" (dmesg -T, logread, ctime).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static bool TryWeekdayTime(string s, int i, out DateTime time, out int after)
    {
        time = default;
        after = i;
        if (s.Length < i + 24 || !IsWeekday(s.AsSpan(i, 3)) || s[i + 3] != ' ')
        {
            return false;
        }

        if (!TryMonthDayTime(s, i + 4, out int month, out int day, out int hour, out int minute, out int second, out long fraction, out int p)
            || p >= s.Length || s[p] != ' ' || !LogText.Digits(s, p + 1, 4, out int year)
            || !TryDate(year, month, day, hour, minute, second, out DateTime local))
        {
            return false;
        }

        time = DateTime.SpecifyKind(local.AddTicks(fraction), DateTimeKind.Local);
        after = p + 5;
        return true;
    }

    /// <summary>
    /// "Mar 26 21:53:50" with a year: the source's lines are in time order, so a line takes the year that puts
    /// it at or after the previous line (a day of jitter allowed) without passing the reference; the first line,
    /// or one that fits no such year, takes the latest year that puts it no later than the reference. Per line
    /// alone, "Feb 29" then "Mar 1" in a file written in 2026 would read as 2024 and 2026.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static bool TrySyslogTime(string s, int i, LogContext context, out DateTime time, out int after)
    {
        time = default;
        after = i;
        if (!TryMonthDayTime(s, i, out int month, out int day, out int hour, out int minute, out int second, out long fraction, out int p)
            || (p < s.Length && s[p] != ' '))
        {
            return false;
        }

        DateTime reference = context.YearReference;
        DateTime latest = reference.Year < 9999 ? reference.AddDays(1) : reference;
        DateTime? found = null;
        if (context.LastSyslogTime is { } previous)
        {
            DateTime earliest = previous.AddDays(-1);
            for (int year = previous.Year; year <= previous.Year + 1 && found is null; year++)
            {
                if (TryDate(year, month, day, hour, minute, second, out DateTime candidate) && candidate >= earliest && candidate <= latest)
                {
                    found = candidate;
                }
            }
        }

        for (int year = reference.Year + 1; year >= reference.Year - 8 && found is null; year--)
        {
            if (TryDate(year, month, day, hour, minute, second, out DateTime candidate) && candidate <= latest)
            {
                found = candidate;
            }
        }

        if (found is not { } date)
        {
            return false;
        }

        time = DateTime.SpecifyKind(date.AddTicks(fraction), DateTimeKind.Local);
        if (context.LastSyslogTime is null || time > context.LastSyslogTime)
        {
            context.LastSyslogTime = time;
        }

        after = p;
        return true;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static bool TryMonthDayTime(string s, int i, out int month, out int day, out int hour, out int minute, out int second, out long fraction, out int after)
    {
        month = day = hour = minute = second = 0;
        fraction = 0;
        after = i;
        if (s.Length < i + 15)
        {
            return false;
        }

        month = MonthOf(s.AsSpan(i, 3));
        if (month == 0 || s[i + 3] != ' ')
        {
            return false;
        }

        // "Mar  6" (space-padded) or "Mar 06".
        int d = i + 4;
        if (s[d] == ' ' && char.IsAsciiDigit(s[d + 1]))
        {
            day = s[d + 1] - '0';
        }
        else if (!LogText.Digits(s, d, 2, out day))
        {
            return false;
        }

        int t = d + 3;
        if (s[d + 2] != ' ' || !LogText.Digits(s, t, 2, out hour) || s[t + 2] != ':' || !LogText.Digits(s, t + 3, 2, out minute)
            || s[t + 5] != ':' || !LogText.Digits(s, t + 6, 2, out second))
        {
            return false;
        }

        int p = t + 8;
        if (p < s.Length && s[p] == '.')
        {
            int start = ++p;
            while (p < s.Length && char.IsAsciiDigit(s[p]))
            {
                p++;
            }

            ReadOnlySpan<char> digits = s.AsSpan(start, Math.Min(p - start, 7));
            if (digits.IsEmpty)
            {
                return false;
            }

            fraction = long.Parse(digits, NumberStyles.None, CultureInfo.InvariantCulture);
            for (int pad = digits.Length; pad < 7; pad++)
            {
                fraction *= 10;
            }
        }

        after = p;
        return true;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static bool TryDate(int year, int month, int day, int hour, int minute, int second, out DateTime date)
    {
        date = default;
        if (year < 1970 || year > 9999 || month is < 1 or > 12 || day < 1 || day > DateTime.DaysInMonth(year, month)
            || hour > 23 || minute > 59 || second > 60)
        {
            return false;
        }

        // A leap second (":60") is read as :59 rather than refused.
        date = new DateTime(year, month, day, hour, minute, Math.Min(second, 59), DateTimeKind.Unspecified);
        return true;
    }
}
