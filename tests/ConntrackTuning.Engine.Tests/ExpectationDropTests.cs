using System;
using System.Collections.Generic;
using System.Linq;
using ConntrackTuning.Engine.KernelLog;
using Xunit;

namespace ConntrackTuning.Engine.Tests;

/// <summary>The expectation table's overflow message and the helpers' own drop messages, in every log layout.</summary>
public class ExpectationDropTests
{
    private static List<ConntrackDropEvent> Scan(params string[] lines)
    {
        var scanner = new DropEventScanner(TimeWindow.All);
        var context = new LogContext { YearReference = new DateTime(2026, 11, 25, 12, 0, 0, DateTimeKind.Local), BootTime = new DateTime(2026, 11, 20, 0, 0, 0, DateTimeKind.Local), DefaultHost = "thishost" };
        return lines.Select(l => scanner.Feed(l, context, "test")).OfType<ConntrackDropEvent>().ToList();
    }

    [Theory]
    // net_warn_ratelimited in nf_conntrack_expect.c (__nf_ct_expect_check), as 6.18 logs it and with the module prefix.
    [InlineData("nf_conntrack: expectation table full", "ExpectationTableFull")]
    [InlineData("nf_conntrack: nf_conntrack: expectation table full", "ExpectationTableFull")]
    // nf_ct_helper_log (nf_conntrack_helper.c): "nf_ct_%s: dropping packet: %pV " and the logger's packet fields.
    [InlineData("nf_ct_sip: dropping packet: cannot add expectation for voice IN= OUT=eth0 SRC=192.0.2.1 DST=198.51.100.2 LEN=800 PROTO=UDP SPT=5060 DPT=5060", "HelperDrop")]
    [InlineData("nf_ct_sip: dropping packet: cannot parse SDP message IN=eth0 OUT= SRC=192.0.2.1", "HelperDrop")]
    [InlineData("nf_ct_ftp: dropping packet: cannot add expectation IN= OUT=lo SRC=127.0.0.1 DST=127.0.0.1", "HelperDrop")]
    [InlineData("nf_ct_ftp: dropping packet: partial matching of `PORT ' IN=eth0", "HelperDrop")]
    [InlineData("nf_ct_h323: dropping packet: cannot add expectation IN=eth0", "HelperDrop")]
    public void Recognises_the_expectation_and_helper_messages(string message, string kind)
    {
        ConntrackDropEvent e = Assert.Single(Scan(message));
        Assert.Equal(kind, e.Kind);
        Assert.Equal("nf_conntrack", e.Tracker);
        Assert.Equal(message, e.Message);
    }

    [Theory]
    [InlineData("nf_conntrack: expectation table")]
    [InlineData("nf_ct_sip: cannot parse SDP message")]
    [InlineData("xnf_ct_sip: dropping packet: x")]
    [InlineData("nf_ct_: dropping packet: x")]
    public void Ignores_messages_that_only_look_alike(string message) => Assert.Empty(Scan(message));

    /// <summary>Every layout DropEventTests reads, with the table-full message swapped for these.</summary>
    public static TheoryData<string, string, string> Layouts()
    {
        var data = new TheoryData<string, string, string>();
        foreach (object[] row in DropEventTests.Formats)
        {
            string line = (string)row[0];
            foreach ((string message, string kind) in new[]
            {
                ("nf_conntrack: expectation table full", "ExpectationTableFull"),
                ("nf_ct_sip: dropping packet: cannot add expectation for voice IN= OUT=eth0", "HelperDrop"),
            })
            {
                string swapped = line.Replace("nf_conntrack: nf_conntrack: table full, dropping packet", message, StringComparison.Ordinal)
                    .Replace("nf_conntrack: table full, dropping packet.", message, StringComparison.Ordinal)
                    .Replace("nf_conntrack: table full, dropping packet", message, StringComparison.Ordinal);
                if (swapped != line)
                {
                    data.Add(swapped, (string)row[1], kind);
                }
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Layouts))]
    public void Reads_them_in_every_log_layout(string line, string format, string kind)
    {
        ConntrackDropEvent e = Assert.Single(Scan(line));
        Assert.Equal(format, e.Format);
        Assert.Equal(kind, e.Kind);
    }
}
