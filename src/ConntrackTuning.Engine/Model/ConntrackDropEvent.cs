namespace ConntrackTuning;

/// <summary>
/// One "table full" (or, on 2.4.0, "maximum limit exceeded") message of the kernel: a packet dropped because the
/// conntrack table had no room. Output of Get-ConntrackDropEvent.
/// </summary>
public sealed class ConntrackDropEvent
{
    /// <summary>When it was logged, in local time, as precise as the source allows; null when the source does not say (dmesg without -T and no known boot time).</summary>
    public DateTime? TimeStamp { get; init; }

    /// <summary>The host that logged it, when the log names one.</summary>
    public string? Host { get; init; }

    /// <summary>Seconds since boot, when the log carries the kernel's own time stamp.</summary>
    public double? KernelTime { get; init; }

    /// <summary>nf_conntrack or ip_conntrack.</summary>
    public string Tracker { get; init; } = "";

    /// <summary>The inode of the network namespace whose table was full (kernels from 6.18 name it); null for the initial namespace and on older kernels.</summary>
    public string? NetworkNamespace { get; init; }

    /// <summary>
    /// On the running system, what the namespace the message names is called now: its ip netns name, else its pod
    /// (NAMESPACE/NAME) or container id, else its inode; "gone" when no namespace with that inode exists any more.
    /// Null for messages that name no namespace and for logs read from files, lines or another root.
    /// </summary>
    public string? NamespaceName { get; internal set; }

    /// <summary>Who owns that namespace now, as Get-ConntrackNamespace words it ("pod kube-system/coredns-… (containerd)", "docker 0123456789ab", "ip netns lab"); "gone" when it no longer exists.</summary>
    public string? Owner { get; internal set; }

    /// <summary>TableFull; LimitExceeded for 2.4.0's "maximum limit of N entries exceeded"; ExpectationTableFull for "nf_conntrack: expectation table full"; HelperDrop for a helper's "nf_ct_sip: dropping packet: ..." (the helper and reason are in Message).</summary>
    public string Kind { get; init; } = "";

    /// <summary>
    /// Messages the kernel's rate limit suppressed since the previous event ("net_ratelimit: N callbacks
    /// suppressed" and its older forms). They count every rate-limited network message, so they bound how many
    /// more drops there may have been: at most this many.
    /// </summary>
    public long SuppressedBefore { get; init; }

    /// <summary>The kernel's message, without the log's prefix.</summary>
    public string Message { get; init; } = "";

    /// <summary>The line as it was read.</summary>
    public string Line { get; init; } = "";

    /// <summary>Where the line was read: a file, "kernel ring buffer", "journal" or "pipeline".</summary>
    public string Source { get; init; } = "";

    /// <summary>The layout the line was in: Syslog, IsoSyslog, Rfc5424, LogRead, Dmesg, DmesgTime, DmesgIso, JournalJson, Kmsg or Message.</summary>
    public string Format { get; init; } = "";
}

/// <summary>
/// How many packets the kernel log says were dropped for lack of room: at least one per logged message, at
/// most that plus every message the rate limit suppressed around them. Output of Get-ConntrackDropEvent -Summary.
/// </summary>
public sealed class ConntrackDropSummary
{
    /// <summary>Messages logged: each is one dropped packet.</summary>
    public long Logged { get; init; }

    /// <summary>Messages the rate limit suppressed before and between them (and after the last, while the table was overflowing).</summary>
    public long Suppressed { get; init; }

    /// <summary>The lower bound of dropped packets: Logged.</summary>
    public long AtLeast => Logged;

    /// <summary>The upper bound: Logged + Suppressed (suppression lines count every rate-limited network message, not only conntrack's).</summary>
    public long AtMost => Logged + Suppressed;

    public DateTime? FirstTimeStamp { get; init; }

    public DateTime? LastTimeStamp { get; init; }

    /// <summary>Inodes of the network namespaces named by the messages (kernels from 6.18 name every namespace but the initial one).</summary>
    public IReadOnlyList<string> NetworkNamespaces { get; init; } = [];

    public IReadOnlyList<string> Hosts { get; init; } = [];

    /// <summary>Every source read, whether or not it held an event.</summary>
    public IReadOnlyList<string> Sources { get; init; } = [];

    /// <summary>Events left out because -Since or -Until was given and the source does not say when they happened.</summary>
    public long Undated { get; init; }

    /// <summary>The bound in one sentence.</summary>
    public string Message => Logged == 0
        ? "No conntrack table-full message was logged."
        : Suppressed == 0
            ? $"{Logged} packets were dropped because the conntrack table was full ({Logged} logged, none suppressed)."
            : $"At least {Logged} and at most {AtMost} packets were dropped because the conntrack table was full ({Logged} logged, up to {Suppressed} more in rate-limited messages).";

    public override string ToString() => Message;
}
