using System;
using System.Collections.Generic;
using System.Linq;
using ConntrackTuning.Engine.Entries;
using ConntrackTuning.Engine.Netlink;
using Xunit;

namespace ConntrackTuning.Engine.Tests;

/// <summary>The streaming summary: exact while it can be, bounded always, and honest when it estimates.</summary>
public class EntrySummaryTests
{
    private static (ConntrackSummary Summary, List<ConntrackEntry> Entries) SummarizeCapture(string capture, int top = 10, int capacity = EntrySummaryBuilder.AddressCapacity)
    {
        var builder = new EntrySummaryBuilder(capacity);
        var entries = new List<ConntrackEntry>();
        using var client = new CtnetlinkClient(ReplayTransport.FromFile(EntryTestData.File(capture)));
        client.DumpEntries(KernelFilter.None, (ref EntryRecord r) =>
        {
            builder.Add(ref r);
            entries.Add(new ConntrackEntry(ref r));
            return true;
        });
        return (builder.Build(top, "ctnetlink", "", entries.Count, 262144, "/"), entries);
    }

    [Fact]
    public void Agrees_with_grouping_the_listed_entries()
    {
        (ConntrackSummary s, List<ConntrackEntry> all) = SummarizeCapture("dump-large.hex", top: 5);
        Assert.Equal(all.Count, s.Entries);
        Assert.Equal(all.Count(e => e.Unreplied), s.Unreplied);
        Assert.Equal(all.Count(e => e.Assured), s.Assured);
        Assert.True(s.Exact);
        Assert.Equal(0, s.MaxCountError);
        Assert.Equal(Math.Round(100.0 * all.Count / 262144, 2), s.UsagePercent);

        Assert.Equal(
            all.GroupBy(e => e.Protocol).Select(g => (g.Key, (long)g.Count(), g.LongCount(e => e.Unreplied), g.LongCount(e => e.Assured))).OrderBy(x => x.Key),
            s.ByProtocol.Select(p => (p.Protocol, p.Count, p.Unreplied, p.Assured)).OrderBy(x => x.Protocol));
        Assert.Equal(
            all.GroupBy(e => (e.Protocol, e.State)).Select(g => (g.Key.Protocol, g.Key.State, (long)g.Count())).OrderBy(x => x.ToString()),
            s.ByState.Select(p => (p.Protocol, p.State, p.Count)).OrderBy(x => x.ToString()));

        var sources = all.GroupBy(e => e.Source).Select(g => (g.Key, (long)g.Count(), g.LongCount(e => e.Unreplied), g.LongCount(e => e.Assured)))
            .OrderByDescending(x => x.Item2).Take(2).ToList();
        Assert.Equal(sources, s.TopSources.Take(2).Select(t => (t.Source, t.Count, t.Unreplied, t.Assured)));
        Assert.Equal(all.GroupBy(e => e.Destination).Max(g => g.Count()), s.TopDestinations[0].Count);
        Assert.Equal("127.0.0.2", s.TopDestinations[0].Destination);

        var ports = all.Where(e => e.DestinationPort is not null).GroupBy(e => (e.Protocol, e.DestinationPort!.Value))
            .OrderByDescending(g => g.Count()).ThenBy(g => g.Key.Value).ThenBy(g => g.Key.Protocol, StringComparer.Ordinal).Take(5)
            .Select(g => (g.Key.Protocol, g.Key.Value, (long)g.Count()));
        Assert.Equal(ports, s.TopDestinationPorts.Select(p => (p.Protocol, p.DestinationPort, p.Count)));
        Assert.Equal(Math.Round(100.0 * s.TopSources[0].Count / s.Entries, 2), s.TopSources[0].Percent);
    }

    [Fact]
    public void Keeps_the_heavy_hitters_of_a_table_with_more_addresses_than_it_tracks()
    {
        var hh = new HeavyHitters(100);
        var random = new Random(6);
        // 20,000 one-off addresses, and three heavy ones hidden among them.
        for (int i = 0; i < 20000; i++)
        {
            hh.Add((UInt128)(0x0A000000u + (uint)i), false, true, false);
            if (i % 10 == 0)
            {
                hh.Add(0xC0000201, false, false, true);
            }

            if (i % 20 == 0)
            {
                hh.Add(0xC0000202, false, true, false);
            }

            if (i % 40 == 0)
            {
                hh.Add(1, true, true, false);
            }
        }

        Assert.False(hh.Exact);
        var top = hh.Top(3).ToList();
        Assert.Equal([(UInt128)0xC0000201, 0xC0000202, 1], top.Select(t => t.Address));
        Assert.True(top[2].IPv6);
        // Space-Saving bounds: the count is at least the truth and at most the truth plus the error.
        Assert.InRange(top[0].Count, 2000, 2000 + hh.MaxError);
        Assert.InRange(top[1].Count, 1000, 1000 + hh.MaxError);
        Assert.True(hh.MaxError <= (20000 + 2000 + 1000 + 500) / 100);
        // The sub-counts are what was seen since the address got its slot: never more than the count.
        Assert.InRange(top[0].Assured, 2000 - hh.MaxError, top[0].Count);
    }

    [Theory]
    [InlineData(1, 50)]
    [InlineData(2, 8)]
    [InlineData(3, 1)]
    public void Holds_the_Space_Saving_guarantees_on_random_streams(int seed, int capacity)
    {
        var random = new Random(seed);
        var hh = new HeavyHitters(capacity);
        var truth = new Dictionary<UInt128, long>();
        int n = 30000;
        for (int i = 0; i < n; i++)
        {
            // A skewed stream: a few addresses often, many rarely.
            UInt128 a = (UInt128)(random.Next(4) == 0 ? random.Next(5) : random.Next(5, 3000));
            hh.Add(a, false, false, false);
            truth[a] = truth.GetValueOrDefault(a) + 1;
        }

        var kept = hh.Top(capacity).ToList();
        Assert.Equal(Math.Min(capacity, truth.Count), kept.Count);
        Assert.All(kept, k => Assert.InRange(k.Count, truth[k.Address], truth[k.Address] + hh.MaxError));
        Assert.All(truth.Where(t => t.Value > n / capacity), t => Assert.Contains(kept, k => k.Address == t.Key));
        // Each arrival adds exactly one to one counter, evictions included: the counters always sum to the stream length.
        Assert.Equal(n, kept.Sum(k => k.Count));
    }

    [Fact]
    public void Is_exact_below_its_capacity_and_counts_the_same_with_ties_broken_by_address()
    {
        var hh = new HeavyHitters(3);
        foreach (uint a in new uint[] { 3, 1, 2, 1, 2, 3 })
        {
            hh.Add(a, false, false, false);
        }

        Assert.True(hh.Exact);
        Assert.Equal([(UInt128)1, 2, 3], hh.Top(5).Select(t => t.Address));
        Assert.All(hh.Top(5), t => Assert.Equal(2, t.Count));
    }

    [Fact]
    public void A_summary_over_capacity_says_it_is_an_estimate()
    {
        (ConntrackSummary s, _) = SummarizeCapture("dump-large.hex", capacity: 4);
        Assert.False(s.Exact);
        Assert.True(s.MaxCountError > 0);
        Assert.Equal("127.0.0.2", s.TopDestinations[0].Destination);
    }

    [Fact]
    public void An_empty_table_summarizes_to_zeros()
    {
        ConntrackSummary s = new EntrySummaryBuilder().Build(10, "x", "", 0, 0, "/");
        Assert.Equal((0L, 0L, 0.0), (s.Entries, s.Other, s.UnrepliedPercent));
        Assert.Empty(s.ByProtocol);
        Assert.Empty(s.TopDestinationPorts);
        Assert.Null(s.UsagePercent);
    }
}
