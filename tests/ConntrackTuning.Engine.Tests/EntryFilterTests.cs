using System;
using System.Collections.Generic;
using System.Linq;
using ConntrackTuning.Engine.Entries;
using ConntrackTuning.Engine.Netlink;
using Xunit;
using ConntrackTuning.Engine.Kernel;

namespace ConntrackTuning.Engine.Tests;

/// <summary>Filters as conntrack -L takes them: matching, validation, and what each kernel is asked to do.</summary>
public class EntryFilterTests
{
    private static EntryFilter Parse(string? family = null, string[]? protocols = null, string[]? states = null, string[]? sources = null,
        string[]? destinations = null, int[]? ports = null, int[]? sourcePorts = null, int[]? destinationPorts = null,
        string? mark = null, int? zone = null, bool unreplied = false, bool assured = false) =>
        EntryFilter.Parse(family, protocols, states, sources, destinations, ports, sourcePorts, destinationPorts, mark, zone, unreplied, assured);

    private static readonly Lazy<List<(EntryRecord Record, ConntrackEntry Entry)>> Mixed = new(() =>
    {
        var list = new List<(EntryRecord, ConntrackEntry)>();
        using var client = new CtnetlinkClient(ReplayTransport.FromFile(EntryTestData.File("dump-mixed.hex")));
        client.DumpEntries(KernelFilter.None, (ref EntryRecord r) =>
        {
            list.Add((r, new ConntrackEntry(ref r)));
            return true;
        });
        return list;
    });

    private static List<ConntrackEntry> Matching(EntryFilter filter) =>
        Mixed.Value.Where(p =>
        {
            EntryRecord r = p.Record;
            return filter.Matches(ref r);
        }).Select(p => p.Entry).ToList();

    private static List<ConntrackEntry> All => Mixed.Value.Select(p => p.Entry).ToList();

    [Fact]
    public void Each_filter_matches_what_its_property_says()
    {
        Assert.Equal(All.Where(e => e.Protocol == "udp"), Matching(Parse(protocols: ["udp"])));
        Assert.Equal(All.Where(e => e.Protocol is "tcp" or "icmpv6"), Matching(Parse(protocols: ["TCP", "58"])));
        Assert.Equal(All.Where(e => e.State is "ESTABLISHED"), Matching(Parse(states: ["established"])));
        Assert.Equal(All.Where(e => e.Source.StartsWith("10.", StringComparison.Ordinal)), Matching(Parse(sources: ["10.0.0.0/8"])));
        Assert.Equal(All.Where(e => e.Destination == "10.0.0.2"), Matching(Parse(destinations: ["10.0.0.2"])));
        Assert.Equal(All.Where(e => e.Family == "IPv6"), Matching(Parse(sources: ["::1"])));
        Assert.Equal(All.Where(e => e.Family == "IPv6"), Matching(Parse(family: "IPv6")));
        Assert.Equal(All.Where(e => e.SourcePort == 5000 || e.DestinationPort == 5000), Matching(Parse(ports: [5000])));
        Assert.Equal(All.Where(e => e.DestinationPort == 53), Matching(Parse(destinationPorts: [53])));
        Assert.Equal(All.Where(e => e.SourcePort == 7), Matching(Parse(sourcePorts: [7])));
        Assert.Equal(All.Where(e => e.Mark == 7), Matching(Parse(mark: "7")));
        Assert.Equal(All.Where(e => (e.Mark & 0xff) == 0x78), Matching(Parse(mark: "0x78/0xff")));
        Assert.Equal(All.Where(e => e.Zone == 5), Matching(Parse(zone: 5)));
        Assert.Equal(All.Where(e => e.OriginalZone == 3), Matching(Parse(zone: 3)));
        Assert.Equal(All.Where(e => e.Unreplied), Matching(Parse(unreplied: true)));
        Assert.Equal(All.Where(e => e.Assured), Matching(Parse(assured: true)));
        Assert.Equal(All, Matching(EntryFilter.None));
    }

    [Fact]
    public void Filters_combine_with_and_and_their_values_with_or()
    {
        List<ConntrackEntry> m = Matching(Parse(protocols: ["tcp"], states: ["ESTABLISHED", "TIME_WAIT"], sources: ["127.0.0.1", "10.0.0.3"], assured: true));
        Assert.Equal(All.Where(e => e.Protocol == "tcp" && e.State is "ESTABLISHED" or "TIME_WAIT" && e.Source is "127.0.0.1" or "10.0.0.3" && e.Assured), m);
        Assert.NotEmpty(m);
        Assert.Equal("protocol tcp, state ESTABLISHED|TIME_WAIT, source 127.0.0.1|10.0.0.3, assured",
            Parse(protocols: ["tcp"], states: ["ESTABLISHED", "TIME_WAIT"], sources: ["127.0.0.1", "10.0.0.3"], assured: true).Description);
    }

    [Fact]
    public void Ports_never_match_protocols_without_ports()
    {
        // GRE keys 1 and 2 sit where ports sit, but they are not ports.
        Assert.DoesNotContain(Matching(Parse(ports: [1, 2])), e => e.Protocol == "gre");
    }

    [Theory]
    [InlineData("Protocol", "tcpx")]
    [InlineData("Protocol", "256")]
    [InlineData("State", "ESTABLISH")]
    [InlineData("Source", "10.0.0.0/33")]
    [InlineData("Source", "not-an-address")]
    [InlineData("Destination", "fe80::1%eth0")]
    [InlineData("Port", "70000")]
    [InlineData("Mark", "0x1/zz")]
    [InlineData("Mark", "-1")]
    [InlineData("Zone", "70000")]
    [InlineData("Family", "ipx")]
    public void Invalid_values_are_InvalidEntryFilter_errors_naming_the_value(string parameter, string value)
    {
        var e = Assert.Throws<ConntrackException>(() => parameter switch
        {
            "Protocol" => Parse(protocols: [value]),
            "State" => Parse(states: [value]),
            "Source" => Parse(sources: [value]),
            "Destination" => Parse(destinations: [value]),
            "Port" => Parse(ports: [int.Parse(value, System.Globalization.CultureInfo.InvariantCulture)]),
            "Mark" => Parse(mark: value),
            "Zone" => Parse(zone: int.Parse(value, System.Globalization.CultureInfo.InvariantCulture)),
            _ => Parse(family: value),
        });
        Assert.Equal((ErrorIds.InvalidEntryFilter, ErrorKind.InvalidArgument, value), (e.ErrorId, e.Kind, e.Target));
        Assert.Contains($"-{parameter} '{value}'", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Host_bits_after_the_prefix_are_ignored()
    {
        Assert.True(AddressBlock.TryParse("10.1.2.3/8", out AddressBlock b));
        Assert.Equal("10.0.0.0/8", b.Text);
        Assert.True(AddressBlock.TryParse("0.0.0.0/0", out AddressBlock all));
        Assert.True(all.Contains(false, 0xC0000201));
        Assert.False(all.Contains(true, 1));
    }

    public static TheoryData<string, string> PushdownByVersion => new()
    {
        // version, what the kernel is asked to filter for: -Protocol udp -Source 10.0.0.11 -DestinationPort 53 -Mark 0x12345678 -Unreplied -Zone 0
        { "4.19.0", "family IPv4, mark 305419896/0xffffffff" },
        { "5.10.0", "family IPv4, mark 305419896/0xffffffff, tuple protocol udp source 10.0.0.11 dport 53" },
        { "5.15.0", "family IPv4, mark 305419896/0xffffffff, status 0x0/0x2, tuple protocol udp source 10.0.0.11 dport 53" },
        { "6.8.0", "family IPv4, mark 305419896/0xffffffff, status 0x0/0x2, zone 0, tuple protocol udp source 10.0.0.11 dport 53" },
        { "6.18.44", "family IPv4, mark 305419896/0xffffffff, status 0x0/0x2, zone 0, tuple protocol udp source 10.0.0.11 dport 53" },
    };

    [Theory]
    [MemberData(nameof(PushdownByVersion))]
    public void Asks_each_kernel_only_for_the_filters_it_applies(string version, string expected)
    {
        EntryFilter f = Parse(protocols: ["udp"], sources: ["10.0.0.11"], destinationPorts: [53], mark: "0x12345678", unreplied: true, zone: 0);
        var notes = new List<string>();
        KernelFilter kf = f.ToKernelFilter(KernelVersion.Parse(version), notes);
        Assert.Equal(expected, string.Join(", ", notes));
        Assert.Equal(2, kf.Family);
        // Whatever the kernel was asked, the entry is checked here too.
        Assert.Equal(All.Where(e => e.Source == "10.0.0.11"), Matching(f));
    }

    [Fact]
    public void Never_asks_for_IPv6_addresses_CIDR_blocks_or_several_values()
    {
        var notes = new List<string>();
        KernelFilter v6 = Parse(protocols: ["tcp"], sources: ["::1"]).ToKernelFilter(new KernelVersion(6, 18), notes);
        Assert.Equal((10, (byte?)6, (uint?)null), (v6.Family, v6.Protocol, v6.SourceV4));
        KernelFilter cidr = Parse(protocols: ["tcp"], sources: ["10.0.0.0/8"]).ToKernelFilter(new KernelVersion(6, 18), notes);
        Assert.Null(cidr.SourceV4);
        KernelFilter two = Parse(protocols: ["tcp", "udp"]).ToKernelFilter(new KernelVersion(6, 18), notes);
        Assert.False(two.HasTupleFilter);
        KernelFilter icmpPorts = Parse(protocols: ["sctp"], destinationPorts: [5]).ToKernelFilter(new KernelVersion(6, 18), notes);
        Assert.Null(icmpPorts.DestinationPort);
    }

    [Fact]
    public void A_partial_mark_mask_is_not_pushed_to_kernels_with_the_5_8_regression()
    {
        EntryFilter f = Parse(mark: "0x10/0xf0");
        Assert.Null(f.ToKernelFilter(new KernelVersion(5, 8, 3), []).Mark);
        Assert.Equal((0x10u, 0xf0u), f.ToKernelFilter(new KernelVersion(5, 10), []).Mark);
        Assert.Equal((0x10u, 0xf0u), f.ToKernelFilter(new KernelVersion(5, 4), []).Mark);
        Assert.Null(f.ToKernelFilter(null, []).Mark);
        Assert.Equal((7u, 0xffffffffu), Parse(mark: "7").ToKernelFilter(null, []).Mark);
    }

    [Fact]
    public void Every_pushdown_row_names_a_filter_the_builder_knows()
    {
        Assert.Equal(["family", "mark", "status", "zone", "tuple"], CtnetlinkFilterSupport.Rows.Select(r => r.Filter));
        Assert.All(CtnetlinkFilterSupport.Rows, r => Assert.False(CtnetlinkFilterSupport.Allows(r.Filter, new KernelVersion(2, 6, 0))));
    }
}
