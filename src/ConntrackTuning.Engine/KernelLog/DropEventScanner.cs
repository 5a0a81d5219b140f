using System.Runtime.CompilerServices;

namespace ConntrackTuning.Engine.KernelLog;

/// <summary>
/// The kernel messages that matter here, every era's wording (KERNEL-FACTS §8). Matched by hand rather than by
/// regular expression: a scan meets hundreds of thousands of these lines in one cold pass.
/// </summary>
internal static class DropMessage
{
    // 2.4.0:          ip_conntrack: maximum limit of 65536 entries exceeded
    // 2.4.20-2.6.21:  ip_conntrack: table full, dropping packet.
    // 2.6.20-2.6.3x:  nf_conntrack: table full, dropping packet.
    // 3.x-4.6:        nf_conntrack: table full, dropping packet
    // 4.7-6.x:        nf_conntrack: nf_conntrack: table full, dropping packet
    // 6.18:           nf_conntrack: nf_conntrack: table full in netns 4026532177, dropping packet
    private const string Marker = "_conntrack: ";

    /// <summary>
    /// Whether an event's kind says the connection table was full (TableFull, 2.4.0's LimitExceeded): the expectation
    /// table's overflow and a helper's drop are events too, but raising the max does not help them.
    /// </summary>
    public static bool IsTableFull(string kind) => kind is "TableFull" or "LimitExceeded";

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static bool TryMatchDrop(string message, out string tracker, out string? networkNamespace, out string kind)
    {
        tracker = kind = "";
        networkNamespace = null;
        ReadOnlySpan<char> text = message;
        for (int at = text.IndexOf(Marker, StringComparison.Ordinal); at >= 0; at = Next(text, at))
        {
            if (!TrackerBefore(text, at, out string name))
            {
                continue;
            }

            ReadOnlySpan<char> rest = text[(at + Marker.Length)..];
            if (rest.StartsWith("nf_conntrack: ", StringComparison.Ordinal) || rest.StartsWith("ip_conntrack: ", StringComparison.Ordinal))
            {
                rest = rest[14..];
            }

            if (rest.StartsWith("table full", StringComparison.Ordinal))
            {
                rest = rest[10..];
                string? ns = null;
                if (rest.StartsWith(" in netns ", StringComparison.Ordinal))
                {
                    rest = rest[10..];
                    int digits = Digits(rest, 20);
                    if (digits == 0)
                    {
                        continue;
                    }

                    ns = rest[..digits].ToString();
                    rest = rest[digits..];
                }

                if (rest.StartsWith(", dropping packet", StringComparison.Ordinal))
                {
                    (tracker, networkNamespace, kind) = (name, ns, "TableFull");
                    return true;
                }
            }
            else if (rest.StartsWith("expectation table full", StringComparison.Ordinal))
            {
                // nf_conntrack_expect.c: the expectation table (nf_conntrack_expect_max) is full; the helper drops the packet.
                (tracker, kind) = (name, "ExpectationTableFull");
                return true;
            }
            else if (rest.StartsWith("maximum limit of ", StringComparison.Ordinal))
            {
                rest = rest[17..];
                int digits = Digits(rest, 12);
                if (digits > 0 && rest[digits..].StartsWith(" entries exceeded", StringComparison.Ordinal))
                {
                    (tracker, kind) = (name, "LimitExceeded");
                    return true;
                }
            }
        }

        return HelperDrop.TryMatch(text, out tracker, out kind);
    }

    // 2.4: "NET: 12 messages suppressed."; 2.6.11-2.6.24: "printk: 12 messages suppressed.";
    // 2.6.32 onward: "net_ratelimit: 12 callbacks suppressed" (some kernels name the caller "__ratelimit").
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static bool TryMatchSuppressed(string message, out long count)
    {
        count = 0;
        ReadOnlySpan<char> text = message;
        return Suppressed(text, " callbacks suppressed", "net_ratelimit", "__ratelimit", out count)
            || Suppressed(text, " messages suppressed", "NET", "printk", out count);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static bool Suppressed(ReadOnlySpan<char> text, string suffix, string name1, string name2, out long count)
    {
        count = 0;
        int end = text.IndexOf(suffix, StringComparison.Ordinal);
        if (end < 0)
        {
            return false;
        }

        int start = end;
        while (start > 0 && end - start < 12 && char.IsAsciiDigit(text[start - 1]))
        {
            start--;
        }

        if (start == end || start < 2 || text[start - 1] != ' ' || text[start - 2] != ':')
        {
            return false;
        }

        ReadOnlySpan<char> before = text[..(start - 2)];
        foreach (string name in new[] { name1, name2 })
        {
            if (before.EndsWith(name, StringComparison.Ordinal)
                && (before.Length == name.Length || !IsWordChar(before[before.Length - name.Length - 1])))
            {
                return long.TryParse(text[start..end], NumberStyles.None, CultureInfo.InvariantCulture, out count);
            }
        }

        return false;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int Next(ReadOnlySpan<char> text, int at)
    {
        int next = text[(at + 1)..].IndexOf(Marker, StringComparison.Ordinal);
        return next < 0 ? -1 : at + 1 + next;
    }

    /// <summary>"ip" or "nf" right before "_conntrack: ", at the start of a word.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static bool TrackerBefore(ReadOnlySpan<char> text, int at, out string name)
    {
        name = "";
        if (at < 2 || (at > 2 && IsWordChar(text[at - 3])))
        {
            return false;
        }

        ReadOnlySpan<char> prefix = text.Slice(at - 2, 2);
        name = prefix.SequenceEqual("ip") ? "ip_conntrack" : prefix.SequenceEqual("nf") ? "nf_conntrack" : "";
        return name.Length > 0;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static int Digits(ReadOnlySpan<char> text, int max)
    {
        int n = 0;
        while (n < text.Length && n <= max && char.IsAsciiDigit(text[n]))
        {
            n++;
        }

        return n > max ? 0 : n;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static bool IsWordChar(char c) => char.IsLetterOrDigit(c) || c == '_';
}

/// <summary>The time window asked for; either end may be open.</summary>
internal sealed record TimeWindow(DateTime? Since, DateTime? Until)
{
    public static readonly TimeWindow All = new(null, null);

    public bool IsBounded => Since is not null || Until is not null;

    /// <summary>A window from user input: times are compared in local time, and an empty window is an error.</summary>
    public static TimeWindow Create(DateTime? since, DateTime? until)
    {
        DateTime? s = since is { } a ? ToLocal(a) : null;
        DateTime? u = until is { } b ? ToLocal(b) : null;
        if (s is not null && u is not null && s > u)
        {
            throw new ConntrackException(ErrorIds.InvalidTimeRange, ErrorKind.InvalidArgument,
                $"-Since ({s:yyyy-MM-dd HH:mm:ss}) is later than -Until ({u:yyyy-MM-dd HH:mm:ss}), so no message can be in between.",
                $"{s:o}..{u:o}", "Give a -Since earlier than -Until, or leave one of them out.");
        }

        return new TimeWindow(s, u);
    }

    private static DateTime ToLocal(DateTime t) => t.Kind == DateTimeKind.Utc ? t.ToLocalTime() : DateTime.SpecifyKind(t, DateTimeKind.Local);

    public bool Contains(DateTime time) => (Since is null || time >= Since) && (Until is null || time <= Until);
}

/// <summary>
/// Turns kernel log lines into drop events, one line at a time, keeping only what a summary needs (counts,
/// first and last time, the names seen), so memory stays flat however long the log. Suppression counts
/// are kept per host until the host's next conntrack message, which carries them.
/// </summary>
internal sealed class DropEventScanner
{
    private readonly TimeWindow _window;
    private readonly Dictionary<string, long> _pendingSuppressed = new(StringComparer.Ordinal);
    private readonly SortedSet<string> _namespaces = new(StringComparer.Ordinal);
    private readonly SortedSet<string> _hosts = new(StringComparer.Ordinal);
    private readonly List<string> _sources = [];
    private readonly Dictionary<string, long> _byNamespace = new(StringComparer.Ordinal);
    private readonly Dictionary<string, List<DateTime?>> _timesByNamespace = new(StringComparer.Ordinal);
    private long _journalHighWater = -1;
    private bool _journalSawCurrentBoot;

    public DropEventScanner(TimeWindow window) => _window = window;

    /// <summary>Table-full events fed (<see cref="DropMessage.IsTableFull"/>); Suppressed, First, Last, the namespaces and hosts are theirs too.</summary>
    public long Logged { get; private set; }

    public long Suppressed { get; private set; }

    public long Undated { get; private set; }

    public DateTime? First { get; private set; }

    public DateTime? Last { get; private set; }

    /// <summary>Table-full events per network namespace inode; "" for messages that name none (the initial namespace, or any namespace before 6.18).</summary>
    public IReadOnlyDictionary<string, long> ByNamespace => _byNamespace;

    /// <summary>The time of each table-full message per namespace (null when undated): a reused inode's messages split by it.</summary>
    public IReadOnlyDictionary<string, List<DateTime?>> TimesByNamespace => _timesByNamespace;

    /// <summary>Notes that a source was read (it shows in the summary even when it held nothing).</summary>
    public void AddSource(string source)
    {
        if (!_sources.Contains(source))
        {
            _sources.Add(source);
        }
    }

    /// <summary>Feeds a batch of lines and adds the events to <paramref name="found"/>: the per-line loop of a large scan, kept in optimised code.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void FeedAll(IReadOnlyList<string> lines, LogContext context, string source, List<ConntrackDropEvent> found)
    {
        ArgumentNullException.ThrowIfNull(lines);
        ArgumentNullException.ThrowIfNull(found);
        for (int i = 0; i < lines.Count; i++)
        {
            if (Feed(lines[i], context, source) is { } drop)
            {
                found.Add(drop);
            }
        }
    }

    /// <summary>The event this line is, or null (another message, a suppression line, outside the window, damaged).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public ConntrackDropEvent? Feed(string line, LogContext context, string source)
    {
        ArgumentNullException.ThrowIfNull(line);
        if (!IsCandidate(line))
        {
            return null;
        }

        ParsedLine parsed = LogLineParser.Parse(line, context);
        if (!parsed.IsKernel)
        {
            return null;
        }

        if (parsed.Format == LogFormat.JournalJson && parsed.BootId is not null && parsed.BootId == context.CurrentBootId && parsed.KernelTime is { } mono)
        {
            _journalSawCurrentBoot = true;
            _journalHighWater = Math.Max(_journalHighWater, (long)Math.Round(mono * 1e6));
        }
        else if (parsed.Format == LogFormat.Kmsg && _journalSawCurrentBoot && parsed.KernelTime is { } usec
            && (long)Math.Round(usec * 1e6) <= _journalHighWater)
        {
            // The journal already gave this record of the running boot; the ring buffer repeats it.
            return null;
        }

        string host = parsed.Host ?? context.DefaultHost ?? "";
        if (DropMessage.TryMatchSuppressed(parsed.Message, out long suppressed))
        {
            if (parsed.Time is not { } t ? !_window.IsBounded : _window.Contains(t))
            {
                _pendingSuppressed[host] = (_pendingSuppressed.TryGetValue(host, out long p) ? p : 0) + suppressed;
            }

            return null;
        }

        if (!DropMessage.TryMatchDrop(parsed.Message, out string tracker, out string? ns, out string kind))
        {
            return null;
        }

        long before = _pendingSuppressed.Remove(host, out long pending) ? pending : 0;
        DateTime? time = parsed.Time;
        if (_window.IsBounded && (time is not { } when || !_window.Contains(when)))
        {
            if (time is null)
            {
                Undated++;
            }

            return null;
        }

        // The totals (the summary, the health checks, the metrics) are the connection table's; the expectation
        // table's and the helpers' drops are still events, with their kind.
        if (DropMessage.IsTableFull(kind))
        {
            Logged++;
            Suppressed += before;
            if (time is { } stamp)
            {
                First = First is null || stamp < First ? stamp : First;
                Last = Last is null || stamp > Last ? stamp : Last;
            }

            if (ns is not null)
            {
                _namespaces.Add(ns);
            }

            if (host.Length > 0)
            {
                _hosts.Add(host);
            }

            _byNamespace[ns ?? ""] = (_byNamespace.TryGetValue(ns ?? "", out long n) ? n : 0) + 1;
            if (!_timesByNamespace.TryGetValue(ns ?? "", out List<DateTime?>? times))
            {
                _timesByNamespace[ns ?? ""] = times = [];
            }

            times.Add(time);
        }

        return new ConntrackDropEvent
        {
            TimeStamp = time,
            Host = host.Length > 0 ? host : null,
            KernelTime = parsed.KernelTime,
            Tracker = tracker,
            NetworkNamespace = ns,
            Kind = kind,
            SuppressedBefore = before,
            Message = parsed.Message,
            Line = line.Length > 0 && line[^1] is '\r' or '\n' ? line.TrimEnd('\r', '\n') : line,
            Source = source,
            Format = LogLineParser.FormatNames[(int)parsed.Format],
        };
    }

    /// <summary>Whether a line may matter at all; the same needles <see cref="LogChunkReader"/> searches bytes for.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static bool IsCandidate(string line) =>
        line.Contains("conntrack", StringComparison.Ordinal)
        || line.Contains("suppressed", StringComparison.Ordinal)
        || line.Contains("nf_ct_", StringComparison.Ordinal)
        || line.Contains("\"MESSAGE\":[", StringComparison.Ordinal);

    /// <summary>
    /// The bound over everything fed so far. Suppression lines after the last event count too while there was
    /// at least one event: the messages they stand for may have been its drops.
    /// </summary>
    public ConntrackDropSummary Summary() => new()
    {
        Logged = Logged,
        Suppressed = Suppressed + (Logged > 0 ? _pendingSuppressed.Values.Sum() : 0),
        FirstTimeStamp = First,
        LastTimeStamp = Last,
        NetworkNamespaces = _namespaces.ToArray(),
        Hosts = _hosts.ToArray(),
        Sources = _sources.ToArray(),
        Undated = Undated,
    };
}
