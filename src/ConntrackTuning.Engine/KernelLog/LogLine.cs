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
