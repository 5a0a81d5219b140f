namespace ConntrackTuning.Engine.Kernel;

/// <summary>
/// One of the tracker's sysctls other than the max, the hash size and the timeouts, as data: its name without
/// the era's prefix (nf_conntrack_ or ip_conntrack_, in the era's timeout folder), the first and (when it was
/// removed) last kernel that has it, the kernel's default, the values it takes, whether each network namespace
/// has its own, and what it does (after the kernel's Documentation/networking/nf_conntrack-sysctl.rst).
/// </summary>
/// <param name="Until">The first kernel without it; null while it exists.</param>
/// <param name="Default">The kernel's default; null when it is computed (expect_max: four times the expectation hash size, see SettingReader.ExpectMaxDefault).</param>
/// <param name="DefaultSince">A later default and the kernel it changed in (events: 2 from 5.19; helper: 0 from 4.7).</param>
internal sealed record EraSetting(string Name, KernelVersion Since, KernelVersion? Until, long? Default, long Min, long Max, bool PerNamespace, string Meaning,
    (KernelVersion Since, long Value)? DefaultSince = null)
{
    public long? DefaultFor(KernelVersion? version) =>
        DefaultSince is { } later && version is { } v && v >= later.Since ? later.Value : Default;

    public bool ExistsIn(KernelVersion? version) => version is not { } v || (v >= Since && (Until is not { } until || v < until));
}

internal static class EraSettings
{
    public static IReadOnlyList<EraSetting> Rows { get; } =
    [
        new("tcp_be_liberal", new(2, 6, 9), null, 0, 0, 1, true,
            "1: only out-of-window RST segments are marked INVALID; other packets outside the TCP window are accepted (for paths that rewrite or lose packets)."),
        new("tcp_loose", new(2, 6, 9), null, 1, 0, 1, true,
            "1: connections already established when tracking began are picked up mid-stream; 0: only connections seen from their SYN are tracked."),
        new("tcp_max_retrans", new(2, 6, 9), null, 3, 0, int.MaxValue, true,
            "Retransmissions of one packet without an ACK from the destination, after which the shorter max_retrans timeout applies."),
        new("tcp_ignore_invalid_rst", new(5, 14), null, 0, 0, 1, true,
            "1: an out-of-window RST is not marked INVALID (it is let through untracked rather than dropped by an INVALID rule)."),
        new("acct", new(2, 6, 27), null, 0, 0, 1, true,
            "1: new connections get packet and byte counters (Get-ConntrackEntry's OriginalPackets, ...); costs memory per entry."),
        new("timestamp", new(2, 6, 38), null, 0, 0, 1, true,
            "1: new connections record their start time (Get-ConntrackEntry's AgeSeconds, Remove-ConntrackEntry -OlderThan)."),
        new("events", new(2, 6, 27), null, 1, 0, 2, true,
            "Connection events for ctnetlink listeners (conntrack -E, conntrackd): 0 off, 1 on, 2 only while a listener exists.",
            DefaultSince: (new(5, 19), 2)),
        new("log_invalid", new(2, 6, 11), null, 0, 0, 255, true,
            "Logs packets conntrack marks INVALID, for this IP protocol number (6 TCP, 17 UDP, ...; 255 every protocol; 0 none), through the netfilter logger."),
        new("checksum", new(2, 6, 18), null, 1, 0, 1, true,
            "1: checksums of incoming packets are verified, and a packet with a bad checksum is INVALID and not tracked."),
        new("expect_max", new(2, 6, 15), null, null, 1, int.MaxValue, false,
            "The most expectations (data and media connections helpers such as ftp and sip announced) at once; beyond it the helper drops the packet."),
        new("helper", new(3, 5), new(6, 0), 1, 0, 1, true,
            "1: helpers are attached automatically by port; 0: only by an explicit rule (nft ct helper, iptables -j CT --helper). Removed in 6.0.",
            DefaultSince: (new(4, 7), 0)),
        new("dccp_loose", new(2, 6, 26), null, 1, 0, 1, true,
            "1: DCCP connections already established are picked up mid-stream."),
    ];
}
