using System.Runtime.CompilerServices;

namespace ConntrackTuning.Engine.KernelLog;

/// <summary>
/// Splits one log line into its format's prefix and the kernel message. Never throws: a line it cannot place
/// is taken as a bare message, and a line from a program other than the kernel is marked so.
/// </summary>
internal static class LogLineParser
{
    /// <summary>The layouts' names, indexed by the enum, so an event does not pay for Enum.ToString.</summary>
    internal static readonly string[] FormatNames = Enum.GetNames<LogFormat>();

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
            return LogRecords.ParseJson(s) ?? Bare(s);
        }

        if (char.IsAsciiDigit(s[0]) && LogRecords.TryKmsg(s, context, out ParsedLine kmsg))
        {
            return kmsg;
        }

        int i = 0;
        if (s[0] == '<' && LogText.TryPriority(s, out int afterPri))
        {
            i = afterPri;
        }

        if (LogText.StartsWith(s, i, "1 ") && i + 2 < s.Length && (char.IsAsciiDigit(s[i + 2]) || s[i + 2] == '-')
            && LogRecords.TryRfc5424(s, i + 2, out ParsedLine rfc))
        {
            return rfc;
        }

        // dmesg -x puts "kern  :warn  : " before everything else.
        i = SkipDecodedLevel(s, i);

        if (i < s.Length && s[i] == '[' && TryDmesg(s, i, context, out ParsedLine dmesg))
        {
            return dmesg;
        }

        if (LogTimestamps.TryIsoTime(s, i, out DateTime isoTime, out int afterIso))
        {
            return AfterTime(s, afterIso, isoTime, LogFormat.IsoSyslog, LogFormat.DmesgIso);
        }

        if (LogTimestamps.TryWeekdayTime(s, i, out DateTime logreadTime, out int afterLogread))
        {
            return AfterTime(s, afterLogread, logreadTime, LogFormat.LogRead, LogFormat.DmesgTime);
        }

        if (LogTimestamps.TrySyslogTime(s, i, context, out DateTime syslogTime, out int afterSyslog))
        {
            return AfterTime(s, afterSyslog, syslogTime, LogFormat.Syslog, LogFormat.Syslog);
        }

        return Bare(s);
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
        int t1 = LogText.SkipSpaces(s, i);
        int t1End = LogText.TokenEnd(s, t1);
        int t2 = LogText.SkipSpaces(s, t1End);
        int t2End = LogText.TokenEnd(s, t2);
        int t3 = LogText.SkipSpaces(s, t2End);
        int t3End = LogText.TokenEnd(s, t3);
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
            return new ParsedLine(tagged, s[LogText.SkipSpaces(s, t2End)..], false, time, s[t1..t1End], null);
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
    internal static (string Message, double? KernelTime) SplitKernelTime(string s, int i)
    {
        i = LogText.SkipSpaces(s, i);
        if (i < s.Length && s[i] == '<' && LogText.TryPriority(s[i..], out int afterPri))
        {
            i += afterPri;
        }

        if (i < s.Length && s[i] == '[')
        {
            int close = s.IndexOf(']', i + 1);
            if (close > i && close - i <= 24 && LogTimestamps.TryParseSeconds(s.AsSpan(i + 1, close - i - 1), out double seconds))
            {
                return (s[LogText.SkipSpaces(s, close + 1)..], seconds);
            }
        }

        return (s[i..], null);
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

        return LogText.SkipSpaces(s, j);
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
        if (LogTimestamps.TryParseSeconds(inside, out double seconds))
        {
            DateTime? time = LogTimestamps.AfterBoot(context.BootTime, seconds);
            string rest = s[LogText.SkipSpaces(s, close + 1)..];

            // journalctl -o short-monotonic: "[  974749.140915] host kernel: message"
            int hostEnd = LogText.TokenEnd(rest, 0);
            int tagStart = LogText.SkipSpaces(rest, hostEnd);
            int tagEnd = LogText.TokenEnd(rest, tagStart);
            if (hostEnd > 0 && IsKernelTag(rest.AsSpan(tagStart, tagEnd - tagStart)))
            {
                parsed = new ParsedLine(LogFormat.Dmesg, rest[LogText.SkipSpaces(rest, tagEnd)..], true, time, rest[..hostEnd], seconds);
                return true;
            }

            parsed = new ParsedLine(LogFormat.Dmesg, rest, true, time, null, seconds);
            return true;
        }

        // dmesg -T: "[Thu Mar 26 21:53:50 2026] message"
        string inner = inside.ToString();
        if (LogTimestamps.TryWeekdayTime(inner, 0, out DateTime stamped, out int used) && LogText.SkipSpaces(inner, used) == inner.Length)
        {
            (string m, double? k) = SplitKernelTime(s, close + 1);
            parsed = new ParsedLine(LogFormat.DmesgTime, m, true, stamped, null, k);
            return true;
        }

        return false;
    }
}
