using System;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;

namespace ConntrackTuning.Engine.KernelLog;

/// <summary>The layouts a kernel log line comes in; each event says which one it was read from.</summary>
internal enum LogFormat
{
    /// <summary>No known prefix: the text is taken as the kernel message itself.</summary>
    Message,

    /// <summary>"Mar 26 21:53:50 host kernel: ..." (classic syslog and journalctl -k short; the year is inferred).</summary>
    Syslog,

    /// <summary>"2026-03-26T21:53:50.123456+01:00 host kernel: ..." (rsyslog file format, journalctl -o short-iso).</summary>
    IsoSyslog,

    /// <summary>"&lt;4&gt;1 2026-03-26T21:53:50.123+01:00 host kernel - - - ..." (RFC 5424).</summary>
    Rfc5424,

    /// <summary>"Wed Mar 26 21:53:50 2026 kern.warn kernel: ..." (OpenWrt logread, busybox syslogd).</summary>
    LogRead,

    /// <summary>"[974749.140915] ..." (dmesg, time since boot).</summary>
    Dmesg,

    /// <summary>"[Thu Mar 26 21:53:50 2026] ..." (dmesg -T).</summary>
    DmesgTime,

    /// <summary>"2026-03-26T21:53:50,123456+01:00 ..." (dmesg --time-format iso).</summary>
    DmesgIso,

    /// <summary>One JSON object per line (journalctl -o json).</summary>
    JournalJson,

    /// <summary>"4,341,1290072420,-;..." (a raw /dev/kmsg record; time in microseconds since boot).</summary>
    Kmsg,
}

/// <summary>What a line's prefix said: when, where, and where the kernel's own text starts.</summary>
internal readonly record struct ParsedLine(
    LogFormat Format,
    string Message,
    bool IsKernel,
    DateTime? Time,
    string? Host,
    double? KernelTime,
    string? BootId = null);

/// <summary>What the reader knows about a source that the lines themselves do not say.</summary>
internal sealed record LogContext
{
    /// <summary>A moment no later than the last line of the source (a file's last change, or now): classic syslog has no year, so each line gets the latest year that puts it no later than this.</summary>
    public required DateTime YearReference { get; init; }

    /// <summary>When the boot that the source's times-since-boot count from began; null when the source may be from another boot.</summary>
    public DateTime? BootTime { get; init; }

    /// <summary>The host to name when lines carry none (the live ring buffer).</summary>
    public string? DefaultHost { get; init; }

    /// <summary>The running boot's id, to recognise journal entries the live ring buffer repeats.</summary>
    public string? CurrentBootId { get; init; }

    /// <summary>The latest year-less time read so far from this source, which the next one must not precede by much.</summary>
    internal DateTime? LastSyslogTime { get; set; }
}

/// <summary>
/// Splits one log line into its format's prefix and the kernel message. Never throws: a line it cannot place
/// is taken as a bare message, and a line from a program other than the kernel is marked so.
/// </summary>
internal static class LogLineParser
{
    private static readonly string[] Months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    private static readonly string[] Weekdays = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

    /// <summary>The layouts' names, indexed by the enum, so an event does not pay for Enum.ToString.</summary>
    internal static readonly string[] FormatNames = Enum.GetNames<LogFormat>();

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

    // Hot in a cold process: one pass over a large log calls these hundreds of thousands of times, mostly
    // before tiered compilation would get round to optimising them (see LogChunkReader.Collect).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static ParsedLine Parse(string line, LogContext context)
    {
        ArgumentNullException.ThrowIfNull(line);
        ArgumentNullException.ThrowIfNull(context);
        string s = line.Length > 0 && line[^1] is '\r' or '\n' ? line.TrimEnd('\r', '\n') : line;
        if (s.Length == 0)
        {
            return new ParsedLine(LogFormat.Message, s, true, null, null, null);
        }

        if (s[0] == '{')
        {
            return ParseJson(s) ?? Bare(s);
        }

        if (char.IsAsciiDigit(s[0]) && TryKmsg(s, context, out ParsedLine kmsg))
        {
            return kmsg;
        }

        int i = 0;
        if (s[0] == '<' && TryPriority(s, out int afterPri))
        {
            i = afterPri;
        }

        if (StartsWith(s, i, "1 ") && i + 2 < s.Length && (char.IsAsciiDigit(s[i + 2]) || s[i + 2] == '-')
            && TryRfc5424(s, i + 2, out ParsedLine rfc))
        {
            return rfc;
        }

        // dmesg -x puts "kern  :warn  : " before everything else.
        i = SkipDecodedLevel(s, i);

        if (i < s.Length && s[i] == '[' && TryDmesg(s, i, context, out ParsedLine dmesg))
        {
            return dmesg;
        }

        if (TryIsoTime(s, i, out DateTime isoTime, out int afterIso))
        {
            return AfterTime(s, afterIso, isoTime, LogFormat.IsoSyslog, LogFormat.DmesgIso);
        }

        if (TryWeekdayTime(s, i, out DateTime logreadTime, out int afterLogread))
        {
            return AfterTime(s, afterLogread, logreadTime, LogFormat.LogRead, LogFormat.DmesgTime);
        }

        if (TrySyslogTime(s, i, context, out DateTime syslogTime, out int afterSyslog))
        {
            return AfterTime(s, afterSyslog, syslogTime, LogFormat.Syslog, LogFormat.Syslog);
        }

        return Bare(s);
    }

    /// <summary>9999-12-31 in microseconds since 1970: beyond it a journal time is garbage.</summary>
    private const long MaxUnixMicroseconds = 253402300799L * 1000000;

    /// <summary>Boot time plus seconds since boot; null when either is unknown or the sum is not a date.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static DateTime? AfterBoot(DateTime? boot, double seconds)
    {
        if (boot is not { } b || double.IsNaN(seconds) || seconds < 0 || seconds > 3.2e9)
        {
            return null;
        }

        long ticks = (long)Math.Round(seconds * TimeSpan.TicksPerSecond);
        return DateTime.MaxValue.Ticks - b.Ticks < ticks ? null : b.AddTicks(ticks);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static ParsedLine Bare(string s)
    {
        (string message, double? kernelTime) = SplitKernelTime(s, 0);
        return new ParsedLine(LogFormat.Message, message, true, null, null, kernelTime);
    }

    /// <summary>
    /// After a syslog-style time: "host kernel: message", "host kern.warn kernel: message" (busybox),
    /// "kern.warn kernel: message" (logread), "kernel: message", or, with no tag at all, the message itself
    /// (dmesg --time-format iso). A line tagged by another program is marked as not the kernel's.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static ParsedLine AfterTime(string s, int i, DateTime time, LogFormat tagged, LogFormat untagged)
    {
        int t1 = SkipSpaces(s, i);
        int t1End = TokenEnd(s, t1);
        int t2 = SkipSpaces(s, t1End);
        int t2End = TokenEnd(s, t2);
        int t3 = SkipSpaces(s, t2End);
        int t3End = TokenEnd(s, t3);
        ReadOnlySpan<char> first = s.AsSpan(t1, t1End - t1);
        ReadOnlySpan<char> second = s.AsSpan(t2, t2End - t2);

        if (IsKernelTag(first))
        {
            return Tagged(tagged, s, t1End, time, null);
        }

        if (IsFacilityLevel(first) && IsKernelTag(second))
        {
            return Tagged(tagged, s, t2End, time, null);
        }

        if (IsKernelTag(second))
        {
            return Tagged(tagged, s, t2End, time, s[t1..t1End]);
        }

        if (IsFacilityLevel(second) && IsKernelTag(s.AsSpan(t3, t3End - t3)))
        {
            return Tagged(tagged, s, t3End, time, s[t1..t1End]);
        }

        if (first.Length > 0 && first[^1] == ':')
        {
            // No host, no tag: the message follows the time directly.
            (string m, double? k) = SplitKernelTime(s, t1);
            return new ParsedLine(untagged, m, true, time, null, k);
        }

        if (IsKernelSubsystem(second))
        {
            // "host nf_conntrack: ..." - a kernel line whose relay dropped the "kernel:" tag.
            (string m, double? k) = SplitKernelTime(s, t2);
            return new ParsedLine(tagged, m, true, time, s[t1..t1End], k);
        }

        if (second.Length > 0 && second[^1] == ':')
        {
            // "host sshd[42]: ..." - another program's line that happens to mention conntrack.
            return new ParsedLine(tagged, s[SkipSpaces(s, t2End)..], false, time, s[t1..t1End], null);
        }

        (string message, double? kernelTime) = SplitKernelTime(s, t1);
        return new ParsedLine(untagged, message, true, time, null, kernelTime);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static ParsedLine Tagged(LogFormat format, string s, int messageStart, DateTime time, string? host)
    {
        (string message, double? kernelTime) = SplitKernelTime(s, messageStart);
        return new ParsedLine(format, message, true, time, host, kernelTime);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static bool IsKernelSubsystem(ReadOnlySpan<char> token) =>
        token.SequenceEqual("nf_conntrack:") || token.SequenceEqual("ip_conntrack:") || token.SequenceEqual("net_ratelimit:")
        || token.SequenceEqual("__ratelimit:") || token.SequenceEqual("printk:") || token.SequenceEqual("NET:")
        || (token.StartsWith("nf_ct_", StringComparison.Ordinal) && token.EndsWith(":", StringComparison.Ordinal));

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static bool IsKernelTag(ReadOnlySpan<char> token) =>
        token.SequenceEqual("kernel:") || (token.StartsWith("kernel[", StringComparison.Ordinal) && token.EndsWith("]:", StringComparison.Ordinal));

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static bool IsFacilityLevel(ReadOnlySpan<char> token)
    {
        int dot = token.IndexOf('.');
        if (dot <= 0 || dot == token.Length - 1)
        {
            return false;
        }

        foreach (char c in token)
        {
            if (!char.IsAsciiLetterLower(c) && c != '.' && !char.IsAsciiDigit(c))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>"[974749.140915] text" at position i to (text, 974749.140915); the bracket is optional.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static (string Message, double? KernelTime) SplitKernelTime(string s, int i)
    {
        i = SkipSpaces(s, i);
        if (i < s.Length && s[i] == '<' && TryPriority(s[i..], out int afterPri))
        {
            i += afterPri;
        }

        if (i < s.Length && s[i] == '[')
        {
            int close = s.IndexOf(']', i + 1);
            if (close > i && close - i <= 24 && TryParseSeconds(s.AsSpan(i + 1, close - i - 1), out double seconds))
            {
                return (s[SkipSpaces(s, close + 1)..], seconds);
            }
        }

        return (s[i..], null);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static bool TryParseSeconds(ReadOnlySpan<char> text, out double seconds)
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

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static bool TryKmsg(string s, LogContext context, out ParsedLine parsed)
    {
        parsed = default;
        int semicolon = s.IndexOf(';', StringComparison.Ordinal);
        if (semicolon < 5 || semicolon > 64)
        {
            return false;
        }

        // prio,seq,usec,flags[,more];text
        string[] fields = s[..semicolon].Split(',');
        if (fields.Length < 4
            || !int.TryParse(fields[0], NumberStyles.None, CultureInfo.InvariantCulture, out _)
            || !long.TryParse(fields[1], NumberStyles.None, CultureInfo.InvariantCulture, out _)
            || !long.TryParse(fields[2], NumberStyles.None, CultureInfo.InvariantCulture, out long usec))
        {
            return false;
        }

        int end = s.IndexOf('\n', semicolon + 1);
        string text = Unescape(end < 0 ? s[(semicolon + 1)..] : s[(semicolon + 1)..end]);
        double kernelTime = usec / 1e6;
        DateTime? time = AfterBoot(context.BootTime, usec / 1e6);
        parsed = new ParsedLine(LogFormat.Kmsg, text, true, time, context.DefaultHost, kernelTime, context.CurrentBootId);
        return true;
    }

    /// <summary>kmsg escapes non-printable bytes (and backslashes) as \xNN; the message gets them back.</summary>
    internal static string Unescape(string text)
    {
        if (!text.Contains("\\x", StringComparison.Ordinal))
        {
            return text;
        }

        byte[] utf8 = Encoding.UTF8.GetBytes(text);
        var bytes = new byte[utf8.Length];
        int n = 0;
        for (int i = 0; i < utf8.Length; i++)
        {
            if (utf8[i] == (byte)'\\' && i + 3 < utf8.Length && utf8[i + 1] == (byte)'x'
                && byte.TryParse(Encoding.ASCII.GetString(utf8, i + 2, 2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out byte b))
            {
                bytes[n++] = b;
                i += 3;
            }
            else
            {
                bytes[n++] = utf8[i];
            }
        }

        return Encoding.UTF8.GetString(bytes, 0, n);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static bool TryPriority(string s, out int after)
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
    private static int SkipDecodedLevel(string s, int i)
    {
        // "kern  :warn  : [..." - two words each followed by padding and a colon.
        int j = i;
        for (int field = 0; field < 2; field++)
        {
            int start = j;
            while (j < s.Length && char.IsAsciiLetterLower(s[j]))
            {
                j++;
            }

            if (j == start || j - start > 8)
            {
                return i;
            }

            while (j < s.Length && s[j] == ' ')
            {
                j++;
            }

            if (j >= s.Length || s[j] != ':')
            {
                return i;
            }

            j++;
        }

        return SkipSpaces(s, j);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static bool TryDmesg(string s, int i, LogContext context, out ParsedLine parsed)
    {
        parsed = default;
        int close = s.IndexOf(']', i + 1);
        if (close < 0 || close - i > 40)
        {
            return false;
        }

        ReadOnlySpan<char> inside = s.AsSpan(i + 1, close - i - 1).Trim();
        if (TryParseSeconds(inside, out double seconds))
        {
            DateTime? time = AfterBoot(context.BootTime, seconds);
            string rest = s[SkipSpaces(s, close + 1)..];

            // journalctl -o short-monotonic: "[  974749.140915] host kernel: message"
            int hostEnd = TokenEnd(rest, 0);
            int tagStart = SkipSpaces(rest, hostEnd);
            int tagEnd = TokenEnd(rest, tagStart);
            if (hostEnd > 0 && IsKernelTag(rest.AsSpan(tagStart, tagEnd - tagStart)))
            {
                parsed = new ParsedLine(LogFormat.Dmesg, rest[SkipSpaces(rest, tagEnd)..], true, time, rest[..hostEnd], seconds);
                return true;
            }

            parsed = new ParsedLine(LogFormat.Dmesg, rest, true, time, null, seconds);
            return true;
        }

        // dmesg -T: "[Thu Mar 26 21:53:50 2026] message"
        string inner = inside.ToString();
        if (TryWeekdayTime(inner, 0, out DateTime stamped, out int used) && SkipSpaces(inner, used) == inner.Length)
        {
            (string m, double? k) = SplitKernelTime(s, close + 1);
            parsed = new ParsedLine(LogFormat.DmesgTime, m, true, stamped, null, k);
            return true;
        }

        return false;
    }

    private static bool TryRfc5424(string s, int i, out ParsedLine parsed)
    {
        parsed = default;
        DateTime? time = null;
        int afterTime;
        if (s[i] == '-')
        {
            afterTime = i + 1;
        }
        else if (TryIsoTime(s, i, out DateTime t, out afterTime))
        {
            time = t;
        }
        else
        {
            return false;
        }

        // HOSTNAME APP-NAME PROCID MSGID STRUCTURED-DATA MSG
        int p = SkipSpaces(s, afterTime);
        int hostEnd = TokenEnd(s, p);
        string host = s[p..hostEnd];
        p = SkipSpaces(s, hostEnd);
        int appEnd = TokenEnd(s, p);
        string app = s[p..appEnd];
        p = SkipSpaces(s, appEnd);
        p = SkipSpaces(s, TokenEnd(s, p));
        p = SkipSpaces(s, TokenEnd(s, p));
        if (p >= s.Length)
        {
            return false;
        }

        if (s[p] == '-')
        {
            p++;
        }
        else if (s[p] == '[')
        {
            while (p < s.Length && s[p] == '[')
            {
                int q = p + 1;
                while (q < s.Length && s[q] != ']')
                {
                    q += s[q] == '\\' ? 2 : 1;
                }

                p = Math.Min(q + 1, s.Length);
            }
        }
        else
        {
            return false;
        }

        p = SkipSpaces(s, p);
        if (p < s.Length && s[p] == '\uFEFF')
        {
            p++;
        }

        (string message, double? kernelTime) = SplitKernelTime(s, p);
        parsed = new ParsedLine(LogFormat.Rfc5424, message, app is "kernel" or "-", time, host is "-" or "" ? null : host, kernelTime);
        return true;
    }

    /// <summary>2026-03-26T21:53:50[.fraction|,fraction][Z|+01:00|+0100], or a space instead of the T.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static bool TryIsoTime(string s, int i, out DateTime time, out int after)
    {
        time = default;
        after = i;
        if (s.Length < i + 19
            || !Digits(s, i, 4, out int year) || s[i + 4] != '-'
            || !Digits(s, i + 5, 2, out int month) || s[i + 7] != '-'
            || !Digits(s, i + 8, 2, out int day) || (s[i + 10] != 'T' && s[i + 10] != ' ')
            || !Digits(s, i + 11, 2, out int hour) || s[i + 13] != ':'
            || !Digits(s, i + 14, 2, out int minute) || s[i + 16] != ':'
            || !Digits(s, i + 17, 2, out int second))
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
        else if (p < s.Length && (s[p] == '+' || s[p] == '-') && Digits(s, p + 1, 2, out int oh))
        {
            int q = p + 3;
            if (q < s.Length && s[q] == ':')
            {
                q++;
            }

            if (!Digits(s, q, 2, out int om))
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
    private static bool TryWeekdayTime(string s, int i, out DateTime time, out int after)
    {
        time = default;
        after = i;
        if (s.Length < i + 24 || !IsWeekday(s.AsSpan(i, 3)) || s[i + 3] != ' ')
        {
            return false;
        }

        if (!TryMonthDayTime(s, i + 4, out int month, out int day, out int hour, out int minute, out int second, out long fraction, out int p)
            || p >= s.Length || s[p] != ' ' || !Digits(s, p + 1, 4, out int year)
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
    private static bool TrySyslogTime(string s, int i, LogContext context, out DateTime time, out int after)
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
        else if (!Digits(s, d, 2, out day))
        {
            return false;
        }

        int t = d + 3;
        if (s[d + 2] != ' ' || !Digits(s, t, 2, out hour) || s[t + 2] != ':' || !Digits(s, t + 3, 2, out minute)
            || s[t + 5] != ':' || !Digits(s, t + 6, 2, out second))
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

    private static ParsedLine? ParseJson(string s)
    {
        try
        {
            using JsonDocument doc = JsonDocument.Parse(s, new JsonDocumentOptions { MaxDepth = 8 });
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
            {
                return null;
            }

            JsonElement root = doc.RootElement;
            string? message = root.TryGetProperty("MESSAGE", out JsonElement m) ? JsonText(m) : null;
            if (message is null)
            {
                return null;
            }

            string? transport = root.TryGetProperty("_TRANSPORT", out JsonElement tr) ? JsonText(tr) : null;
            string? identifier = root.TryGetProperty("SYSLOG_IDENTIFIER", out JsonElement id) ? JsonText(id) : null;
            bool isKernel = transport is not null ? transport == "kernel" : identifier is null or "kernel";
            DateTime? time = root.TryGetProperty("__REALTIME_TIMESTAMP", out JsonElement rt) && JsonLong(rt) is long usec && usec is > 0 and < MaxUnixMicroseconds
                ? DateTimeOffset.FromUnixTimeMilliseconds(usec / 1000).AddTicks(usec % 1000 * 10).LocalDateTime
                : null;
            double? kernelTime = root.TryGetProperty("_SOURCE_MONOTONIC_TIMESTAMP", out JsonElement mono) && JsonLong(mono) is long monoUsec
                ? monoUsec / 1e6
                : null;
            string? host = root.TryGetProperty("_HOSTNAME", out JsonElement h) ? JsonText(h) : null;
            string? boot = root.TryGetProperty("_BOOT_ID", out JsonElement b) ? JsonText(b) : null;
            return new ParsedLine(LogFormat.JournalJson, message, isKernel, time, host, kernelTime, boot);
        }
        catch (Exception e) when (e is JsonException or ArgumentException or InvalidOperationException)
        {
            // Not JSON, cut off, nested past the limit, or a string that is not valid UTF-16.
            return null;
        }
    }

    /// <summary>journald writes a field as a string, or as an array of byte values when it is not valid UTF-8.</summary>
    private static string? JsonText(JsonElement e)
    {
        if (e.ValueKind == JsonValueKind.String)
        {
            return e.GetString();
        }

        if (e.ValueKind == JsonValueKind.Array && e.GetArrayLength() <= 65536)
        {
            var bytes = new byte[e.GetArrayLength()];
            int k = 0;
            foreach (JsonElement item in e.EnumerateArray())
            {
                if (item.ValueKind != JsonValueKind.Number || !item.TryGetByte(out byte value))
                {
                    return null;
                }

                bytes[k++] = value;
            }

            return Encoding.UTF8.GetString(bytes);
        }

        return null;
    }

    private static long? JsonLong(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.String when long.TryParse(e.GetString(), NumberStyles.None, CultureInfo.InvariantCulture, out long v) => v,
        JsonValueKind.Number when e.TryGetInt64(out long v) => v,
        _ => null,
    };

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static bool Digits(string s, int i, int count, out int value)
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
    private static bool StartsWith(string s, int i, string prefix) =>
        i + prefix.Length <= s.Length && string.CompareOrdinal(s, i, prefix, 0, prefix.Length) == 0;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int SkipSpaces(string s, int i)
    {
        while (i < s.Length && (s[i] == ' ' || s[i] == '\t'))
        {
            i++;
        }

        return i;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int TokenEnd(string s, int i)
    {
        while (i < s.Length && s[i] != ' ' && s[i] != '\t')
        {
            i++;
        }

        return i;
    }
}
