using System;
using System.Collections.Generic;
using System.Linq;
using Xunit;
using ConntrackTuning.Engine.KernelLog;

namespace ConntrackTuning.Engine.Tests;

/// <summary>Every era's message, every log layout, and the rate-limit accounting, line by line.</summary>
public class DropEventTests
{
    /// <summary>The moment the sample logs were "last written": syslog lines get the latest year not after it.</summary>
    private static readonly DateTime Reference = new(2026, 11, 25, 12, 0, 0, DateTimeKind.Local);

    private static readonly DateTime Boot = new(2026, 11, 20, 0, 0, 0, DateTimeKind.Local);

    /// <summary>A fresh context per use: a context remembers the last syslog time of its source.</summary>
    private static LogContext Context => new() { YearReference = Reference, BootTime = Boot, DefaultHost = "thishost" };

    private static readonly DateTime PlusOne = new DateTimeOffset(2026, 3, 26, 21, 53, 50, TimeSpan.FromHours(1)).LocalDateTime;

    private static List<ConntrackDropEvent> Scan(DropEventScanner scanner, LogContext context, params string[] lines) =>
        lines.Select(l => scanner.Feed(l, context, "test")).OfType<ConntrackDropEvent>().ToList();

    private static List<ConntrackDropEvent> Scan(params string[] lines) => Scan(new DropEventScanner(TimeWindow.All), Context, lines);

    [Theory]
    [InlineData("ip_conntrack: maximum limit of 65536 entries exceeded", "ip_conntrack", "LimitExceeded", null)]
    [InlineData("ip_conntrack: table full, dropping packet.", "ip_conntrack", "TableFull", null)]
    [InlineData("nf_conntrack: table full, dropping packet.", "nf_conntrack", "TableFull", null)]
    [InlineData("nf_conntrack: table full, dropping packet", "nf_conntrack", "TableFull", null)]
    [InlineData("nf_conntrack: nf_conntrack: table full, dropping packet", "nf_conntrack", "TableFull", null)]
    [InlineData("nf_conntrack: nf_conntrack: table full in netns 4026532177, dropping packet", "nf_conntrack", "TableFull", "4026532177")]
    public void Recognises_the_message_of_every_era(string message, string tracker, string kind, string? ns)
    {
        ConntrackDropEvent e = Assert.Single(Scan(message));
        Assert.Equal(tracker, e.Tracker);
        Assert.Equal(kind, e.Kind);
        Assert.Equal(ns, e.NetworkNamespace);
        Assert.Equal(message, e.Message);
        Assert.Equal("Message", e.Format);
    }

    [Theory]
    [InlineData("nf_conntrack: falling back to vmalloc.")]
    [InlineData("nf_conntrack version 0.5.0 (16384 buckets, 65536 max)")]
    [InlineData("nf_conntrack: default automatic helper assignment has been turned off for security reasons")]
    [InlineData("nf_conntrack: table full")]
    [InlineData("nf_conntrack: nf_conntrack: table full in netns 40265")]
    [InlineData("nf_conntrack: nf_conntrack: table full in netns , dropping packet")]
    [InlineData("xt_conntrack: table full, dropping packet")]
    [InlineData("ip_conntrack: maximum limit of entries exceeded")]
    public void Ignores_other_and_cut_off_conntrack_messages(string message) => Assert.Empty(Scan(message));

    [Theory]
    [InlineData("NET: 12 messages suppressed.", 12)]
    [InlineData("printk: 7 messages suppressed.", 7)]
    [InlineData("net_ratelimit: 3606 callbacks suppressed", 3606)]
    [InlineData("__ratelimit: 15 callbacks suppressed", 15)]
    [InlineData("ext4_msg: 5 callbacks suppressed", 0)]
    [InlineData("xnet_ratelimit: 5 callbacks suppressed", 0)]
    [InlineData("net_ratelimit: callbacks suppressed", 0)]
    public void Counts_the_suppression_line_of_every_era_before_the_next_event(string suppression, long expected)
    {
        List<ConntrackDropEvent> events = Scan(suppression, "nf_conntrack: table full, dropping packet.");
        Assert.Equal(expected, Assert.Single(events).SuppressedBefore);
    }

    public static TheoryData<string, string, DateTime?, string?, double?> Formats => new()
    {
        // Classic syslog, as in the seed; journalctl -k (short) looks the same.
        { "Mar 26 21:53:50 Gentoo-2012 kernel: [974749.140918] nf_conntrack: table full, dropping packet.", "Syslog", new DateTime(2026, 3, 26, 21, 53, 50), "Gentoo-2012", 974749.140918 },
        { "Mar  6 01:02:03 gw kernel: nf_conntrack: nf_conntrack: table full, dropping packet", "Syslog", new DateTime(2026, 3, 6, 1, 2, 3), "gw", null },
        { "Mar 26 21:53:50.123456 gw kernel: nf_conntrack: nf_conntrack: table full, dropping packet", "Syslog", new DateTime(2026, 3, 26, 21, 53, 50).AddTicks(1234560), "gw", null },
        // A month after the reference is last year's.
        { "Dec 24 10:00:00 gw kernel: nf_conntrack: table full, dropping packet", "Syslog", new DateTime(2025, 12, 24, 10, 0, 0), "gw", null },
        // rsyslog's ISO file format and journalctl -o short-iso.
        { "2026-03-26T21:53:50.123456+01:00 gw kernel: [974749.140918] nf_conntrack: nf_conntrack: table full, dropping packet", "IsoSyslog", PlusOne.AddTicks(1234560), "gw", 974749.140918 },
        { "2026-03-26T21:53:50+0100 gw kernel: nf_conntrack: nf_conntrack: table full, dropping packet", "IsoSyslog", PlusOne, "gw", null },
        { "2026-03-26 21:53:50 gw kernel: nf_conntrack: nf_conntrack: table full, dropping packet", "IsoSyslog", new DateTime(2026, 3, 26, 21, 53, 50), "gw", null },
        // RFC 5424, with and without priority, structured data and the BOM.
        { "<4>1 2026-03-26T21:53:50.123+01:00 gw kernel - - - nf_conntrack: nf_conntrack: table full, dropping packet", "Rfc5424", PlusOne.AddMilliseconds(123), "gw", null },
        { "<4>1 2026-03-26T20:53:50Z gw kernel - - [meta sequenceId=\"1\" note=\"a\\]b\"] \uFEFFnf_conntrack: nf_conntrack: table full, dropping packet", "Rfc5424", PlusOne, "gw", null },
        { "1 2026-03-26T20:53:50Z gw kernel - - - [974749.140918] nf_conntrack: nf_conntrack: table full, dropping packet", "Rfc5424", PlusOne, "gw", 974749.140918 },
        // dmesg: time since boot (dated with the boot time when it is known), raw, decoded level, -T, iso.
        { "[  5.000001] nf_conntrack: nf_conntrack: table full, dropping packet", "Dmesg", new DateTime(2026, 11, 20, 0, 0, 5).AddTicks(10), null, 5.000001 },
        { "<4>[  5.000001] nf_conntrack: nf_conntrack: table full, dropping packet", "Dmesg", new DateTime(2026, 11, 20, 0, 0, 5).AddTicks(10), null, 5.000001 },
        { "kern  :warn  : [  5.000001] nf_conntrack: nf_conntrack: table full, dropping packet", "Dmesg", new DateTime(2026, 11, 20, 0, 0, 5).AddTicks(10), null, 5.000001 },
        { "[Thu Mar 26 21:53:50 2026] nf_conntrack: nf_conntrack: table full, dropping packet", "DmesgTime", new DateTime(2026, 3, 26, 21, 53, 50), null, null },
        { "2026-03-26T21:53:50,123456+01:00 nf_conntrack: nf_conntrack: table full, dropping packet", "DmesgIso", PlusOne.AddTicks(1234560), null, null },
        // journalctl -o short-monotonic.
        { "[ 5.000001] gw kernel: nf_conntrack: nf_conntrack: table full, dropping packet", "Dmesg", new DateTime(2026, 11, 20, 0, 0, 5).AddTicks(10), "gw", 5.000001 },
        // OpenWrt logread and busybox syslogd.
        { "Thu Mar 26 21:53:50 2026 kern.warn kernel: [974749.140918] nf_conntrack: nf_conntrack: table full, dropping packet", "LogRead", new DateTime(2026, 3, 26, 21, 53, 50), null, 974749.140918 },
        { "Mar 26 21:53:50 gw kern.warn kernel: nf_conntrack: nf_conntrack: table full, dropping packet", "Syslog", new DateTime(2026, 3, 26, 21, 53, 50), "gw", null },
        // A raw /dev/kmsg record (the live ring buffer): microseconds since boot, continuation lines after the text.
        { "4,341,1290072420,-;nf_conntrack: nf_conntrack: table full, dropping packet", "Kmsg", Boot.AddTicks(12900724200), "thishost", 1290.07242 },
        { "4,342,1290072484,c,more;nf_conntrack: nf_conntrack: table full, dropping packet\n SUBSYSTEM=net\n DEVICE=+net:lo", "Kmsg", Boot.AddTicks(12900724840), "thishost", 1290.072484 },
        // journalctl -o json, with the message as a string and as bytes (what journald writes for invalid UTF-8).
        { """{"__REALTIME_TIMESTAMP":"1774558430123456","_HOSTNAME":"gw","_TRANSPORT":"kernel","SYSLOG_IDENTIFIER":"kernel","_SOURCE_MONOTONIC_TIMESTAMP":"974749140918","MESSAGE":"nf_conntrack: nf_conntrack: table full, dropping packet"}""", "JournalJson", PlusOne.AddTicks(1234560), "gw", 974749.140918 },
        { """{"__REALTIME_TIMESTAMP":"1774558430123456","_TRANSPORT":"kernel","MESSAGE":[110,102,95,99,111,110,110,116,114,97,99,107,58,32,116,97,98,108,101,32,102,117,108,108,44,32,100,114,111,112,112,105,110,103,32,112,97,99,107,101,116,255]}""", "JournalJson", PlusOne.AddTicks(1234560), null, null },
    };

    [Theory]
    [MemberData(nameof(Formats))]
    public void Reads_every_log_format(string line, string format, DateTime? time, string? host, double? kernelTime)
    {
        List<ConntrackDropEvent> events = Scan(line);
        Assert.True(events.Count == 1, $"{events.Count} events from {line}");
        ConntrackDropEvent e = events[0];
        Assert.Equal(format, e.Format);
        Assert.Equal(time is { } t ? DateTime.SpecifyKind(t, DateTimeKind.Local) : null, e.TimeStamp);
        Assert.Equal(host ?? Context.DefaultHost, e.Host);
        Assert.Equal(kernelTime, e.KernelTime);
        Assert.StartsWith("nf_conntrack: ", e.Message, StringComparison.Ordinal);
        Assert.Equal("TableFull", e.Kind);
        Assert.Equal(line.TrimEnd('\r', '\n'), e.Line);
    }

    [Fact]
    public void Infers_the_year_across_new_year_and_leap_days()
    {
        var afterNewYear = new LogContext { YearReference = new DateTime(2026, 1, 1, 0, 10, 0, DateTimeKind.Local) };
        List<ConntrackDropEvent> events = Scan(new DropEventScanner(TimeWindow.All), afterNewYear,
            "Dec 31 23:59:59 gw kernel: nf_conntrack: table full, dropping packet",
            "Jan  1 00:00:01 gw kernel: nf_conntrack: table full, dropping packet",
            "Feb 29 12:00:00 gw kernel: nf_conntrack: table full, dropping packet");
        Assert.Equal(new DateTime(2025, 12, 31, 23, 59, 59), events[0].TimeStamp);
        Assert.Equal(new DateTime(2026, 1, 1, 0, 0, 1), events[1].TimeStamp);
        Assert.Equal(new DateTime(2024, 2, 29, 12, 0, 0), events[2].TimeStamp);
    }

    [Fact]
    public void Lines_in_time_order_keep_the_year_they_share()
    {
        // Written on 2 March 2024, found in 2026: "Feb 29" alone is 2024, and "Mar  1" after it is 2024 too.
        var checkedOut = new LogContext { YearReference = new DateTime(2026, 11, 25, 12, 0, 0, DateTimeKind.Local) };
        List<ConntrackDropEvent> events = Scan(new DropEventScanner(TimeWindow.All), checkedOut,
            "Feb 29 23:59:58 web01 kernel: nf_conntrack: nf_conntrack: table full, dropping packet",
            "Mar  1 00:00:03 web01 kernel: nf_conntrack: nf_conntrack: table full, dropping packet",
            "Mar  1 00:00:02 web01 kernel: nf_conntrack: nf_conntrack: table full, dropping packet",
            "Dec 31 23:59:59 web01 kernel: nf_conntrack: nf_conntrack: table full, dropping packet",
            "Jan  1 00:00:01 web01 kernel: nf_conntrack: nf_conntrack: table full, dropping packet");
        Assert.Equal(
            [new DateTime(2024, 2, 29, 23, 59, 58), new DateTime(2024, 3, 1, 0, 0, 3), new DateTime(2024, 3, 1, 0, 0, 2), new DateTime(2024, 12, 31, 23, 59, 59), new DateTime(2025, 1, 1, 0, 0, 1)],
            events.Select(e => e.TimeStamp!.Value));

        // A line that cannot follow the previous one (a later year would pass the reference) takes its own year.
        var context = new LogContext { YearReference = new DateTime(2026, 3, 2, 0, 0, 0, DateTimeKind.Local) };
        events = Scan(new DropEventScanner(TimeWindow.All), context,
            "Mar  1 10:00:00 a kernel: nf_conntrack: table full, dropping packet",
            "Feb 20 10:00:00 a kernel: nf_conntrack: table full, dropping packet");
        Assert.Equal([new DateTime(2026, 3, 1, 10, 0, 0), new DateTime(2026, 2, 20, 10, 0, 0)], events.Select(e => e.TimeStamp!.Value));
    }

    [Fact]
    public void The_kmsg_escapes_are_undone()
    {
        Assert.Equal("a\tb\\c", LogRecords.Unescape("a\\x09b\\x5cc"));
        Assert.Equal("no escapes", LogRecords.Unescape("no escapes"));
        Assert.Equal("cut \\x4", LogRecords.Unescape("cut \\x4"));
    }

    [Theory]
    [InlineData("Mar 26 21:53:50 gw conntrackd[812]: nf_conntrack: table full, dropping packet")]
    [InlineData("Mar 26 21:53:50 gw logger: nf_conntrack: nf_conntrack: table full, dropping packet")]
    [InlineData("2026-03-26T21:53:50+01:00 gw sshd[4]: nf_conntrack: table full, dropping packet")]
    [InlineData("<14>1 2026-03-26T21:53:50Z gw myapp - - - nf_conntrack: table full, dropping packet")]
    [InlineData("""{"_TRANSPORT":"stdout","SYSLOG_IDENTIFIER":"myapp","MESSAGE":"nf_conntrack: table full, dropping packet"}""")]
    public void Ignores_lines_written_by_programs_other_than_the_kernel(string line) => Assert.Empty(Scan(line));

    [Fact]
    public void A_kernel_line_whose_relay_dropped_the_tag_is_still_the_kernels()
    {
        ConntrackDropEvent e = Assert.Single(Scan("Mar 26 21:53:50 gw nf_conntrack: table full, dropping packet."));
        Assert.Equal("gw", e.Host);
        Assert.Equal("nf_conntrack: table full, dropping packet.", e.Message);
    }

    [Fact]
    public void The_seed_log_gives_the_suppressed_count_to_the_first_event_and_bounds_the_summary()
    {
        var scanner = new DropEventScanner(TimeWindow.All);
        List<ConntrackDropEvent> events = Scan(scanner, Context,
            "Mar 26 21:53:50 Gentoo-2012 kernel: [974749.140915] net_ratelimit: 3606 callbacks suppressed",
            "Mar 26 21:53:50 Gentoo-2012 kernel: [974749.140918] nf_conntrack: table full, dropping packet.",
            "Mar 26 21:53:50 Gentoo-2012 kernel: [974749.144022] nf_conntrack: table full, dropping packet.",
            "Mar 26 21:53:50 Gentoo-2012 kernel: [974749.144031] nf_conntrack: table full, dropping packet.",
            "Mar 26 21:53:50 Gentoo-2012 kernel: [974749.144037] nf_conntrack: table full, dropping packet.");
        Assert.Equal([3606L, 0, 0, 0], events.Select(e => e.SuppressedBefore));
        ConntrackDropSummary s = scanner.Summary();
        Assert.Equal(4, s.AtLeast);
        Assert.Equal(3610, s.AtMost);
        Assert.Equal(["Gentoo-2012"], s.Hosts);
        Assert.Equal(new DateTime(2026, 3, 26, 21, 53, 50), s.FirstTimeStamp);
        Assert.Equal("At least 4 and at most 3610 packets were dropped because the conntrack table was full (4 logged, up to 3606 more in rate-limited messages).", s.Message);
    }

    [Fact]
    public void Suppression_counts_stay_with_their_host_and_trailing_ones_count_only_after_an_event()
    {
        var scanner = new DropEventScanner(TimeWindow.All);
        List<ConntrackDropEvent> events = Scan(scanner, Context,
            "Mar 26 21:53:50 a kernel: net_ratelimit: 10 callbacks suppressed",
            "Mar 26 21:53:50 b kernel: nf_conntrack: table full, dropping packet",
            "Mar 26 21:53:51 b kernel: net_ratelimit: 20 callbacks suppressed",
            "Mar 26 21:53:52 a kernel: nf_conntrack: table full, dropping packet",
            "Mar 26 21:53:53 a kernel: net_ratelimit: 5 callbacks suppressed",
            "Mar 26 21:53:53 a kernel: net_ratelimit: 6 callbacks suppressed");
        Assert.Equal([0L, 10], events.Select(e => e.SuppressedBefore));
        Assert.Equal(["b", "a"], events.Select(e => e.Host));
        ConntrackDropSummary s = scanner.Summary();
        Assert.Equal(2, s.Logged);
        Assert.Equal(10 + 20 + 5 + 6, s.Suppressed);

        var quiet = new DropEventScanner(TimeWindow.All);
        Assert.Empty(Scan(quiet, Context, "Mar 26 21:53:50 a kernel: net_ratelimit: 10 callbacks suppressed"));
        Assert.Equal(0, quiet.Summary().AtMost);
        Assert.Equal("No conntrack table-full message was logged.", quiet.Summary().Message);
    }

    [Fact]
    public void Since_and_until_keep_the_window_and_count_undated_events_apart()
    {
        var window = TimeWindow.Create(new DateTime(2026, 3, 26, 21, 53, 51), new DateTime(2026, 3, 26, 21, 53, 53));
        var scanner = new DropEventScanner(window);
        List<ConntrackDropEvent> events = Scan(scanner, new LogContext { YearReference = Reference },
            "Mar 26 21:53:50 a kernel: net_ratelimit: 99 callbacks suppressed",
            "Mar 26 21:53:50 a kernel: nf_conntrack: table full, dropping packet",
            "Mar 26 21:53:51 a kernel: net_ratelimit: 7 callbacks suppressed",
            "Mar 26 21:53:51 a kernel: nf_conntrack: table full, dropping packet",
            "Mar 26 21:53:53 a kernel: nf_conntrack: table full, dropping packet",
            "Mar 26 21:53:54 a kernel: nf_conntrack: table full, dropping packet",
            "[  5.0] nf_conntrack: table full, dropping packet");
        Assert.Equal(2, events.Count);
        Assert.Equal([7L, 0], events.Select(e => e.SuppressedBefore));
        ConntrackDropSummary s = scanner.Summary();
        Assert.Equal(2, s.Logged);
        Assert.Equal(7, s.Suppressed);
        Assert.Equal(1, s.Undated);
    }

    [Fact]
    public void An_empty_window_is_InvalidTimeRange()
    {
        ConntrackException e = Assert.Throws<ConntrackException>(() => TimeWindow.Create(new DateTime(2026, 2, 1), new DateTime(2026, 1, 1)));
        Assert.Equal(ErrorIds.InvalidTimeRange, e.ErrorId);
        Assert.Equal(ErrorKind.InvalidArgument, e.Kind);
    }

    [Fact]
    public void Ring_buffer_records_the_journal_already_gave_are_not_counted_twice()
    {
        var context = new LogContext { YearReference = Reference, BootTime = Boot, CurrentBootId = "b1", DefaultHost = "h" };
        var scanner = new DropEventScanner(TimeWindow.All);
        List<ConntrackDropEvent> events = Scan(scanner, context,
            """{"_BOOT_ID":"b0","_TRANSPORT":"kernel","_HOSTNAME":"h","_SOURCE_MONOTONIC_TIMESTAMP":"9000000000","__REALTIME_TIMESTAMP":"1774558430123456","MESSAGE":"nf_conntrack: nf_conntrack: table full, dropping packet"}""",
            """{"_BOOT_ID":"b1","_TRANSPORT":"kernel","_HOSTNAME":"h","_SOURCE_MONOTONIC_TIMESTAMP":"1290072420","__REALTIME_TIMESTAMP":"1774558430123456","MESSAGE":"nf_conntrack: nf_conntrack: table full, dropping packet"}""",
            "4,341,1290072420,-;nf_conntrack: nf_conntrack: table full, dropping packet",
            "4,342,1290072500,-;nf_conntrack: nf_conntrack: table full, dropping packet");
        Assert.Equal(["JournalJson", "JournalJson", "Kmsg"], events.Select(e => e.Format));
        Assert.Equal(1290.0725, events[2].KernelTime);
    }

    [Fact]
    public void Damaged_lines_never_throw()
    {
        var corpus = new List<string>
        {
            "", " ", "\0\0\0\0", "\uFFFD\uFFFDconntrack\uFFFD", "[", "]", "[]", "[ ]", "<", "<>", "<999999>", "<4>", "<4>1", "<4>1 ", "<4>1 -", "1 -", "1 2026",
            "{", "{}", "[1,2]", "{\"MESSAGE\":", "{\"MESSAGE\":[1,2,999]}", "{\"MESSAGE\":{\"a\":1}} conntrack", "{\"MESSAGE\":\"nf_conntrack: table full, dropping packet\",\"__REALTIME_TIMESTAMP\":\"99999999999999999999\"}",
            "{\"MESSAGE\":\"nf_conntrack: table full, dropping packet\",\"__REALTIME_TIMESTAMP\":\"-5\",\"_SOURCE_MONOTONIC_TIMESTAMP\":true}",
            "{\"MESSAGE\":\"x\"," + new string('[', 5000) + "conntrack",
            "4,1,9223372036854775807,-;nf_conntrack: table full, dropping packet",
            "4,1,99999999999999999999,-;nf_conntrack: table full, dropping packet",
            "4,1,,-;nf_conntrack: table full, dropping packet", "4;", "4,1,2,-;", "4,1,2,-;\\x", "4,1,2,-;\\xzz conntrack",
            "Feb 30 12:00:00 host kernel: nf_conntrack: table full, dropping packet",
            "Mar 26 25:61:61 host kernel: nf_conntrack: table full, dropping packet",
            "Mar 26 21:53:50", "Mar 26 21:53:50 ", "Mar 26 21:53:50 host", "Mar 26 21:53:50 host kernel:", "Mar 26 21:53:50.", "Mar 26 21:53:50.x host kernel: conntrack",
            "2026-13-45T99:99:99Z gw kernel: nf_conntrack: table full, dropping packet", "2026-03-26T21:53:50+99:99 gw kernel: conntrack", "2026-03-26T21:53:50. gw", "2026-03-26T21:53:50+",
            "0000-01-01T00:00:00Z gw kernel: conntrack", "9999-12-31T23:59:59-14:00 gw kernel: nf_conntrack: table full, dropping packet",
            "[99999999999999999999999.5] nf_conntrack: table full, dropping packet", "[1e308] conntrack", "[-1] conntrack", "[NaN] conntrack",
            "[Xyz Mar 26 21:53:50 2026] conntrack", "[Thu Mar 26 21:53:50 0000] conntrack", "Thu Mar 26 21:53:50 99999 kern.warn kernel: conntrack",
            "kern  :", "kern  :warn  :", "kern  :warn  : [", "nf_conntrack: nf_conntrack: table full in netns 99999999999999999999999, dropping packet",
            "net_ratelimit: 99999999999999999999 callbacks suppressed", "net_ratelimit: 999999999999 callbacks suppressed",
            "nf_conntrack: table full, dropping packet" + new string('x', 1_000_000),
            new string(' ', 100_000) + "conntrack", new string('\n', 1000) + "suppressed",
        };
        var random = new Random(5);
        string[] pieces = ["conntrack", "nf_conntrack: ", "table full", " in netns ", "suppressed", "kernel:", "[", "]", "<4>", "1 ", "{", "}", "\"", ",", ";", ":", " ", "\\x", "2026-03-26T", "Mar 26 ", "\0", "\uFFFD", "\uD800"];
        for (int i = 0; i < 5000; i++)
        {
            corpus.Add(string.Concat(Enumerable.Range(0, random.Next(1, 12)).Select(_ => pieces[random.Next(pieces.Length)])));
            char[] noise = new char[random.Next(0, 200)];
            for (int k = 0; k < noise.Length; k++)
            {
                noise[k] = (char)random.Next(0, 0x3000);
            }

            corpus.Add(new string(noise) + pieces[random.Next(pieces.Length)] + new string(noise));
        }

        var scanner = new DropEventScanner(TimeWindow.Create(new DateTime(2000, 1, 1), null));
        var contexts = new[] { Context, new LogContext { YearReference = DateTime.MinValue.AddDays(2) }, new LogContext { YearReference = DateTime.MaxValue.AddDays(-2), BootTime = DateTime.MaxValue.AddDays(-1) } };
        foreach (LogContext context in contexts)
        {
            foreach (string line in corpus)
            {
                _ = scanner.Feed(line, context, "corpus");
            }
        }

        _ = scanner.Summary();
        Assert.True(scanner.Logged >= 0);
    }
}
