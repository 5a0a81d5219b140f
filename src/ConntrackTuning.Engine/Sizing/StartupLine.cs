using System.Text.RegularExpressions;
using ConntrackTuning.Engine.KernelLog;

namespace ConntrackTuning.Engine.Sizing;

/// <summary>
/// The line a tracker prints when it starts: "ip_conntrack version 2.4 (8192 buckets, 65536 max) - 304 bytes
/// per conntrack" or "nf_conntrack version 0.5.0 (16384 buckets, 65536 max)". On 2.4 it is the only place the
/// hash size can be read, and it is the only place old kernels state the size of an entry.
/// </summary>
internal sealed partial record StartupLine(string Tracker, string Version, long Buckets, long Max, int? BytesPerEntry, string Line, string Source)
{
    [GeneratedRegex(@"\b(?<tracker>ip_conntrack|nf_conntrack) version (?<version>\S+) \((?<buckets>\d{1,10}) buckets, (?<max>\d{1,12}) max\)(?:\s*[-\u2013\u2014]\s*(?<bytes>\d{1,6}) bytes per conntrack)?", RegexOptions.CultureInvariant)]
    private static partial Regex Pattern();

    public static StartupLine? TryParse(string line, string source)
    {
        ArgumentNullException.ThrowIfNull(line);
        if (!line.Contains(" version ", StringComparison.Ordinal) || line.Length > 4096)
        {
            return null;
        }

        Match m = Pattern().Match(line);
        if (!m.Success
            || !long.TryParse(m.Groups["buckets"].ValueSpan, NumberStyles.None, CultureInfo.InvariantCulture, out long buckets)
            || !long.TryParse(m.Groups["max"].ValueSpan, NumberStyles.None, CultureInfo.InvariantCulture, out long max))
        {
            return null;
        }

        int? bytes = m.Groups["bytes"].Success && int.TryParse(m.Groups["bytes"].ValueSpan, NumberStyles.None, CultureInfo.InvariantCulture, out int b) ? b : null;
        return new StartupLine(m.Groups["tracker"].Value, m.Groups["version"].Value, buckets, max, bytes, line.Trim(), source);
    }

    /// <summary>Log files under a root that may hold the line, newest first.</summary>
    internal static readonly string[] LogFiles =
    [
        "var/log/dmesg", "var/log/kern.log", "var/log/messages", "var/log/syslog", "sos_commands/kernel/dmesg",
        "var/log/dmesg.0", "var/log/kern.log.1", "var/log/messages.1", "var/log/syslog.1",
    ];

    /// <summary>
    /// The most recent start-up line of the tracker: from the ring buffer on the live system, else from the log
    /// files under the root. Null when no log holds one (normal on kernels from 4.9, which stopped printing it).
    /// </summary>
    public static StartupLine? Find(SystemRoot root, string tracker)
    {
        ArgumentNullException.ThrowIfNull(root);
        if (root.IsLive && Last(RingBufferLines(root), tracker, "kernel ring buffer") is { } live)
        {
            return live;
        }

        foreach (string file in LogFiles)
        {
            if (Last(root.ReadLines(file), tracker, root.Full(file)) is { } found)
            {
                return found;
            }
        }

        return null;
    }

    private static IEnumerable<string> RingBufferLines(SystemRoot root)
    {
        IEnumerable<string> records;
        try
        {
            records = KernelRingBuffer.ReadRecords();
        }
        catch (Exception e) when (e is UnauthorizedAccessException or System.IO.IOException)
        {
            root.Log.Verbose(e.Message);
            return [];
        }

        return records;
    }

    private static StartupLine? Last(IEnumerable<string> lines, string tracker, string source)
    {
        StartupLine? last = null;
        foreach (string line in lines)
        {
            if (line.Contains(tracker, StringComparison.Ordinal) && TryParse(line, source) is { } parsed && parsed.Tracker == tracker)
            {
                last = parsed;
            }
        }

        return last;
    }
}
