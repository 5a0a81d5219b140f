using System;
using System.IO;
using System.Linq;
using System.Text;
using ConntrackTuning.Engine.Entries;
using Xunit;

namespace ConntrackTuning.Engine.Tests;

/// <summary>
/// The table-file parser on the line formats of every era (KERNEL-FACTS §7.3-7.4) and of conntrack -L, and on
/// damaged input.
/// </summary>
public class EntryTextParserTests
{
    [Fact]
    public void Reads_a_6_18_procfs_line_with_accounting_timestamps_and_zone()
    {
        ConntrackEntry e = EntryTestData.One("ipv4     2 tcp      6 431999 ESTABLISHED src=127.0.0.1 dst=127.0.0.1 sport=41524 dport=8080 packets=4 bytes=221 src=127.0.0.1 dst=127.0.0.1 sport=8080 dport=41524 packets=3 bytes=169 [ASSURED] mark=0 zone=0 delta-time=12 use=2");
        Assert.Equal(("IPv4", "tcp", "ESTABLISHED", 431999L), (e.Family, e.Protocol, e.State, e.Timeout!.Value));
        Assert.Equal(("127.0.0.1", 41524, "127.0.0.1", 8080), (e.Source, e.SourcePort!.Value, e.Destination, e.DestinationPort!.Value));
        Assert.Equal((4L, 221L, 3L, 169L), (e.OriginalPackets!.Value, e.OriginalBytes!.Value, e.ReplyPackets!.Value, e.ReplyBytes!.Value));
        Assert.True(e.Assured);
        Assert.False(e.Unreplied);
        Assert.Equal((0L, 0, 12L), (e.Mark!.Value, e.Zone, e.AgeSeconds!.Value));
        Assert.Null(e.Id);
    }

    [Fact]
    public void Reads_fully_expanded_IPv6_addresses_of_procfs_and_compressed_ones_of_conntrack_L_alike()
    {
        ConntrackEntry procfs = EntryTestData.One("ipv6     10 udp      17 28 src=2001:0db8:0000:0000:0000:0000:0000:00a1 dst=0000:0000:0000:0000:0000:0000:0000:0001 sport=5353 dport=53 [UNREPLIED] src=0000:0000:0000:0000:0000:0000:0000:0001 dst=2001:0db8:0000:0000:0000:0000:0000:00a1 sport=53 dport=5353 mark=0 zone=0 use=2");
        ConntrackEntry cli = EntryTestData.One("udp      17 28 src=2001:db8::a1 dst=::1 sport=5353 dport=53 [UNREPLIED] src=::1 dst=2001:db8::a1 sport=53 dport=5353 mark=0 use=1");
        Assert.Equal(("IPv6", "2001:db8::a1", "::1"), (procfs.Family, procfs.Source, procfs.Destination));
        Assert.Equal(EntryTestData.Key(procfs), EntryTestData.Key(cli));
        Assert.True(cli.Unreplied);
        Assert.Null(cli.State);
    }

    [Fact]
    public void Reads_ICMP_type_code_and_id_and_tells_the_id_from_conntrack_o_id()
    {
        ConntrackEntry e = EntryTestData.One("ipv4     2 icmp     1 29 src=10.1.1.1 dst=10.1.1.2 type=8 code=0 id=4660 src=10.1.1.2 dst=10.1.1.1 type=0 code=0 id=4660 mark=0 use=1 id=3068789704");
        Assert.Equal((8, 0, 4660), (e.IcmpType!.Value, e.IcmpCode!.Value, e.IcmpId!.Value));
        Assert.Equal(3068789704L, e.Id);
        Assert.Null(e.SourcePort);
    }

    [Fact]
    public void Reads_GRE_keys_past_the_procfs_timeout_words()
    {
        ConntrackEntry e = EntryTestData.One("ipv4     2 gre      47 2999 timeout=0, stream_timeout=0 src=10.0.0.5 dst=10.0.0.6 srckey=0x1 dstkey=0x2a packets=0 bytes=0 [UNREPLIED] src=10.0.0.6 dst=10.0.0.5 srckey=0x2a dstkey=0x1 packets=0 bytes=0 mark=0 zone=0 delta-time=0 use=2");
        Assert.Equal(("gre", 2999L, 1, 42), (e.Protocol, e.Timeout!.Value, e.GreSourceKey!.Value, e.GreDestinationKey!.Value));
        Assert.Null(e.State);
    }

    [Fact]
    public void Reads_an_offloaded_flow_that_has_no_timeout()
    {
        ConntrackEntry tcp = EntryTestData.One("ipv4     2 tcp      6 ESTABLISHED src=192.0.2.1 dst=198.51.100.2 sport=40000 dport=443 src=198.51.100.2 dst=192.0.2.1 sport=443 dport=40000 [OFFLOAD] mark=0 zone=0 use=3");
        Assert.Null(tcp.Timeout);
        Assert.Equal("ESTABLISHED", tcp.State);
        Assert.True(tcp.Offloaded && tcp.Assured);
        ConntrackEntry udp = EntryTestData.One("ipv4     2 udp      17 src=192.0.2.1 dst=198.51.100.2 sport=5000 dport=5001 src=198.51.100.2 dst=192.0.2.1 sport=5001 dport=5000 [HW_OFFLOAD] mark=0 zone=0 use=3");
        Assert.Null(udp.Timeout);
        Assert.True(udp.Offloaded);
    }

    [Fact]
    public void Reads_the_2_4_ip_conntrack_format_without_L3_columns_and_ignores_expectations()
    {
        const string table =
            "tcp      6 431998 ESTABLISHED src=192.168.0.10 dst=192.168.0.1 sport=1025 dport=22 src=192.168.0.1 dst=192.168.0.10 sport=22 dport=1025 [ASSURED] use=1\n" +
            "udp      17 22 src=192.168.0.10 dst=192.168.0.1 sport=1026 dport=53 src=192.168.0.1 dst=192.168.0.10 sport=53 dport=1026 use=1\n" +
            "tcp      6 119 TIME_WAIT src=192.168.0.10 dst=192.168.0.2 sport=1030 dport=21 src=192.168.0.2 dst=192.168.0.10 sport=21 dport=1030 [ASSURED] use=1\n" +
            "EXPECTING: proto=6 src=192.168.0.2 dst=192.168.0.10 sport=0 dport=1031\n" +
            "tcp      6 59 LISTEN src=192.168.0.10 dst=192.168.0.3 sport=1040 dport=80 [UNREPLIED] src=192.168.0.3 dst=192.168.0.10 sport=80 dport=1040 use=1\n";
        (var entries, TextReadResult result) = EntryTestData.Text(table);
        Assert.Equal(4, entries.Count);
        Assert.Equal(0, result.Malformed);
        Assert.All(entries, e => Assert.Equal("IPv4", e.Family));
        Assert.All(entries, e => Assert.Null(e.Mark));
        Assert.Equal(["ESTABLISHED", null, "TIME_WAIT", "LISTEN"], entries.Select(e => e.State));
        Assert.True(entries[3].Unreplied);
    }

    [Fact]
    public void Reads_the_2_6_formats_with_secmark_and_the_ip_conntrack_compatibility_file()
    {
        ConntrackEntry nf = EntryTestData.One("ipv4     2 tcp      6 431999 ESTABLISHED src=10.0.0.1 dst=10.0.0.2 sport=33000 dport=22 packets=10 bytes=1000 src=10.0.0.2 dst=10.0.0.1 sport=22 dport=33000 packets=8 bytes=2000 [ASSURED] mark=0 secmark=0 use=2");
        ConntrackEntry compat = EntryTestData.One("tcp      6 431999 ESTABLISHED src=10.0.0.1 dst=10.0.0.2 sport=33000 dport=22 packets=10 bytes=1000 src=10.0.0.2 dst=10.0.0.1 sport=22 dport=33000 packets=8 bytes=2000 [ASSURED] mark=0 secmark=0 use=1");
        Assert.Equal(EntryTestData.Key(nf), EntryTestData.Key(compat));
        Assert.Equal(2000, nf.ReplyBytes);
    }

    [Fact]
    public void Reads_SCTP_DCCP_and_unknown_protocols()
    {
        Assert.Equal("COOKIE_ECHOED", EntryTestData.One("ipv4     2 sctp     132 3 COOKIE_ECHOED src=10.0.0.7 dst=10.0.0.8 sport=5 dport=6 [UNREPLIED] src=10.0.0.8 dst=10.0.0.7 sport=6 dport=5 mark=0 zone=0 use=2").State);
        ConntrackEntry dccp = EntryTestData.One("ipv4     2 dccp     33 43199 PARTOPEN src=10.0.0.7 dst=10.0.0.8 sport=5 dport=6 src=10.0.0.8 dst=10.0.0.7 sport=6 dport=5 mark=0 zone=0 use=2");
        Assert.Equal(("dccp", "PARTOPEN", 6), (dccp.Protocol, dccp.State, dccp.DestinationPort!.Value));
        ConntrackEntry unknown = EntryTestData.One("ipv4     2 unknown  253 599 src=127.0.0.1 dst=127.0.0.1 [UNREPLIED] src=127.0.0.1 dst=127.0.0.1 mark=0 zone=0 use=2");
        Assert.Equal(("253", 253), (unknown.Protocol, unknown.ProtocolNumber));
    }

    [Fact]
    public void Reads_zones_per_direction_and_shared()
    {
        ConntrackEntry shared = EntryTestData.One("tcp      6 99 SYN_SENT src=10.0.0.1 dst=10.0.0.2 sport=1 dport=2 [UNREPLIED] src=10.0.0.2 dst=10.0.0.1 sport=2 dport=1 mark=7 zone=5 use=1");
        Assert.Equal((5, 7L), (shared.Zone, shared.Mark!.Value));
        ConntrackEntry split = EntryTestData.One("ipv4     2 tcp      6 99 ESTABLISHED src=10.0.0.3 dst=10.0.0.4 sport=1 dport=2 zone-orig=3 [UNREPLIED] src=10.0.0.4 dst=10.0.0.3 sport=2 dport=1 zone-reply=4 mark=0 use=2");
        Assert.Equal((0, 3, 4), (split.Zone, split.OriginalZone!.Value, split.ReplyZone!.Value));
    }

    [Fact]
    public void Reads_labels_secctx_helper_and_timestamps_as_conntrack_L_prints_them()
    {
        ConntrackEntry e = EntryTestData.One("[NEW] tcp      6 120 SYN_SENT src=10.0.0.1 dst=10.0.0.2 sport=1 dport=21 [UNREPLIED] src=10.0.0.2 dst=10.0.0.1 sport=21 dport=1 mark=0 secctx=system_u:object_r:unlabeled_t:s0 [start=Tue Nov 25 10:00:00 2026] [stop=Tue Nov 25 10:00:05 2026] helper=ftp use=1 id=42 labels=blue,green");
        Assert.Equal(["blue", "green"], e.Labels);
        Assert.Equal(("system_u:object_r:unlabeled_t:s0", "ftp", 42L), (e.SecurityContext, e.Helper, e.Id!.Value));
    }

    [Fact]
    public void Every_line_of_the_captured_procfs_table_and_conntrack_L_output_parses()
    {
        foreach (string file in new[] { "dump-mixed.procfs.txt", "dump-mixed.conntrack-L.txt", "dump-large.conntrack-L.txt" })
        {
            string[] lines = EntryTestData.Lines(file);
            (var entries, TextReadResult result) = EntryTestData.Text(string.Join('\n', lines));
            Assert.Equal(0, result.Malformed);
            Assert.Equal(lines.Count(l => l.Length > 0), entries.Count);
        }
    }

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("conntrack v1.4.7 (conntrack-tools): 7 flow entries have been shown.")]
    [InlineData("EXPECTING: proto=6 src=1.2.3.4 dst=5.6.7.8 sport=0 dport=21")]
    public void Blank_expectation_and_summary_lines_are_not_entries_and_not_damage(string line) =>
        Assert.Equal(LineKind.Ignored, EntryTestData.Kind(line));

    [Theory]
    [InlineData("ipv4     2 tcp      6 431999 ESTABLISHED src=10.0.0.1 dst=10.0.0.2 sport=33000 dport=22 src=10.0.0.2 dst=10.0.0.1 sport=22 dport=33000 [ASSURED] mark=0 zone=0")]
    [InlineData("ipv4     2 tcp      6 431999 ESTABLISHED src=10.0.0.1 dst=10.0.0.2 sport=33000 dport=22 src=10.0.0.2 dst=10.")]
    [InlineData("ipv4     2 tcp      6 431999 ESTABLISHED src=10.0.0.1 dst=10.0.0.2 sport=33000 dp")]
    [InlineData("ipv4     2 tcp      6 431999 ESTAB")]
    [InlineData("ipv4     2 tc")]
    [InlineData("ipv4     2")]
    [InlineData("ipv4")]
    [InlineData("ipv4     7 tcp      6 1 src=10.0.0.1 dst=10.0.0.2 src=10.0.0.2 dst=10.0.0.1 use=1")]
    [InlineData("tcp      x 1 src=10.0.0.1 dst=10.0.0.2 src=10.0.0.2 dst=10.0.0.1 use=1")]
    [InlineData("tcp      6 1 src=10.0.0.256 dst=10.0.0.2 src=10.0.0.2 dst=10.0.0.1 use=1")]
    [InlineData("tcp      6 1 src=10.0.0.1 dst=10.0.0.2 sport=70000 dport=1 src=10.0.0.2 dst=10.0.0.1 use=1")]
    [InlineData("tcp      6 1 src=10.0.0.1 dst=10.0.0.2 src=10.0.0.2 dst=10.0.0.1 src=10.0.0.3 dst=10.0.0.4 use=1")]
    [InlineData("tcp      6 1 src=10.0.0.1 dst=10.0.0.2 src=10.0.0.2 dst=10.0.0.1 packets=99999999999999999999999 use=1")]
    [InlineData("ipv6     10 udp 17 1 src=::1 dst=10.0.0.1 src=::1 dst=::1 use=1")]
    [InlineData("tcp      6 1 src=10.0.0.1 dst=10.0.0.2 src=10.0.0.2 dst=10.0.0.1 mark=-1 use=1")]
    [InlineData("gre      47 1 src=10.0.0.1 dst=10.0.0.2 srckey=0xzz dstkey=0x1 src=10.0.0.2 dst=10.0.0.1 use=1")]
    [InlineData("<?xml version=\"1.0\" encoding=\"utf-8\"?>")]
    [InlineData("\u0000\u0001\u0002 binary")]
    public void Cut_off_and_nonsense_lines_are_damaged_not_entries(string line) =>
        Assert.Equal(LineKind.Malformed, EntryTestData.Kind(line));

    [Fact]
    public void The_file_reader_counts_damage_with_line_numbers_and_reads_the_rest()
    {
        string good = "udp      17 22 src=10.0.0.1 dst=10.0.0.2 sport=1 dport=53 src=10.0.0.2 dst=10.0.0.1 sport=53 dport=1 use=1";
        string text = good + "\r\n" + "garbage here\n" + good + "\n\n" + good[..40] + "\n" + good;   // last line: no newline
        (var entries, TextReadResult result) = EntryTestData.Text(text);
        Assert.Equal(3, entries.Count);
        Assert.Equal(2, result.Malformed);
        Assert.Equal([2L, 5L], result.MalformedLines);
        Assert.Equal(6, result.Lines);
    }

    [Fact]
    public void Lines_crossing_block_boundaries_and_an_overlong_line_are_handled()
    {
        string good = "udp      17 22 src=10.0.0.1 dst=10.0.0.2 sport=1 dport=53 src=10.0.0.2 dst=10.0.0.1 sport=53 dport=1 use=1\n";
        var sb = new StringBuilder();
        int count = ((1 << 20) / good.Length) + 50;   // more than one 1 MiB block, so a line straddles the boundary
        for (int i = 0; i < count; i++)
        {
            sb.Append(good);
        }

        sb.Append(new string('x', (1 << 20) + 10)).Append('\n').Append(good);
        (var entries, TextReadResult result) = EntryTestData.Text(sb.ToString());
        Assert.Equal(count + 1, entries.Count);
        Assert.Equal(1, result.Malformed);
    }

    [Fact]
    public void Random_lines_never_crash_the_parser()
    {
        var random = new Random(6);
        byte[] template = Encoding.ASCII.GetBytes("ipv6     10 tcp      6 117 TIME_WAIT src=2001:0db8:0000:0000:0000:0000:0000:0001 dst=0000:0000:0000:0000:0000:0000:0000:0001 sport=1 dport=80 packets=6 bytes=412 src=::1 dst=2001:db8::1 sport=80 dport=1 packets=4 bytes=1180 [ASSURED] mark=0 zone=0 delta-time=3 use=2");
        var r = default(EntryRecord);
        for (int i = 0; i < 20000; i++)
        {
            byte[] line = template.ToArray();
            for (int f = random.Next(1, 6); f > 0; f--)
            {
                line[random.Next(line.Length)] = (byte)random.Next(256);
            }

            _ = EntryTextParser.Parse(line.AsSpan(0, random.Next(line.Length + 1)), ref r);
        }
    }

    [Fact]
    public void Stops_when_the_visitor_says_so()
    {
        string good = "udp      17 22 src=10.0.0.1 dst=10.0.0.2 sport=1 dport=53 src=10.0.0.2 dst=10.0.0.1 sport=53 dport=1 use=1\n";
        int seen = 0;
        TextReadResult result = EntryFileReader.Read(new MemoryStream(Encoding.ASCII.GetBytes(good + good + good)), (ref EntryRecord r) => ++seen < 2);
        Assert.True(result.Stopped);
        Assert.Equal(2, seen);
    }
}
