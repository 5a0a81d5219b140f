using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.Json;
using Xunit;
using ConntrackTuning.Engine.Kernel;
using ConntrackTuning.Engine.Sizing;

namespace ConntrackTuning.Engine.Tests;

/// <summary>
/// Every era fixture gives a sensible recommendation with a named entry-size source, and the kernel default
/// computed from its MemTotal equals the max and hash size the fixture's kernel actually runs with, wherever
/// nobody tuned them.
/// </summary>
public class RecommendationEraFixtureTests
{
    /// <summary>What each fixture must give: entry-size origin and bytes, the computed kernel default, and how
    /// that default relates to the values in force ("equal", "near" for eras that counted num_physpages, or
    /// "tuned"/"none").</summary>
    private static readonly Dictionary<string, (EntrySizeOrigin Origin, long Entry, long DefaultMax, long DefaultHash, string Current)> Expected = new()
    {
        ["linux-2.4.20-early"] = (EntrySizeOrigin.StartupLine, 292, 32216, 4027, "near"),
        ["linux-2.4.27-netfilter"] = (EntrySizeOrigin.StartupLine, 292, 16104, 2013, "near"),
        ["rhel5-2.6.18-ip_conntrack"] = (EntrySizeOrigin.StartupLine, 304, 65536, 8192, "equal"),
        ["rhel6-2.6.32-nf_conntrack"] = (EntrySizeOrigin.Estimate, 320, 65536, 16384, "equal"),
        ["centos7-3.10-nf_conntrack"] = (EntrySizeOrigin.Estimate, 320, 65536, 16384, "equal"),
        ["ubuntu-4.15-nf_conntrack"] = (EntrySizeOrigin.Estimate, 256, 262144, 65536, "equal"),
        ["ubuntu-5.4-stale-buckets"] = (EntrySizeOrigin.Estimate, 256, 262144, 65536, "tuned"),
        ["ubuntu-5.15-module-noprocfs"] = (EntrySizeOrigin.Estimate, 256, 65536, 65536, "equal"),
        ["linux-6.18-builtin"] = (EntrySizeOrigin.Estimate, 256, 262144, 262144, "equal"),
        ["linux-6.18-entries"] = (EntrySizeOrigin.Estimate, 256, 262144, 262144, "equal"),
        ["linux-6.18-overflow"] = (EntrySizeOrigin.Estimate, 256, 262144, 262144, "tuned"),
        ["netns-6.18"] = (EntrySizeOrigin.Estimate, 256, 262144, 262144, "equal"),
        ["sosreport-rhel8-4.18"] = (EntrySizeOrigin.Estimate, 256, 262144, 65536, "equal"),
        ["debian-5.10-no-conntrack"] = (EntrySizeOrigin.Estimate, 256, 65536, 16384, "none"),
        // Captured from Debian's own kernels booted in QEMU by the VM tier (tests/vm): the kernel chose these itself.
        ["debian-5.10.223-module-1g"] = (EntrySizeOrigin.Estimate, 256, 32768, 8192, "equal"),
        ["debian-6.1.176-module-256m"] = (EntrySizeOrigin.Estimate, 256, 2048, 2048, "equal"),
        // Loaded with hashsize=100000: the kernel rounded it to 100352 and set the max to 8 x that.
        ["debian-6.12.117-module-hashsize"] = (EntrySizeOrigin.Estimate, 256, 65536, 65536, "tuned"),
    };

    public static IEnumerable<object[]> Fixtures()
    {
        using JsonDocument doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(FixtureTree.FixturesDirectory, "expectations.json")));
        return doc.RootElement.GetProperty("fixtures").EnumerateArray().Select(f => new object[] { f.GetProperty("name").GetString()! }).ToList();
    }

    [Theory]
    [MemberData(nameof(Fixtures))]
    public void Recommends_sensibly_for_every_era_fixture(string name)
    {
        Assert.True(Expected.ContainsKey(name), $"Add {name} to the table of this test.");
        (EntrySizeOrigin origin, long entry, long defaultMax, long defaultHash, string current) = Expected[name];
        using var tree = new FixtureTree(name);
        var log = new RecordingLog();
        SizingInputs inputs = SizingInputResolver.Resolve(new RecommendationRequest(), KernelProbe.Probe(tree.Open(log)));

        Assert.Equal(origin, inputs.EntrySize.Origin);
        Assert.Equal(entry, inputs.EntrySize.Bytes);
        Assert.False(string.IsNullOrWhiteSpace(inputs.EntrySize.Source));
        if (origin == EntrySizeOrigin.StartupLine)
        {
            Assert.StartsWith(tree.Path + "/var/log/", inputs.EntrySize.Source, StringComparison.Ordinal);
            Assert.Contains("bytes per conntrack", inputs.EntrySize.Source, StringComparison.Ordinal);
        }

        var results = Recommender.AllProfiles.Select(p => Recommender.Recommend(inputs, p, log)).ToList();
        ConntrackRecommendation kd = results[0];
        Assert.Equal(defaultMax, kd.Max);
        Assert.Equal(defaultHash, kd.HashSize);

        switch (current)
        {
            case "equal":
                Assert.Equal(inputs.CurrentMax, kd.Max);
                Assert.Equal(inputs.CurrentHashSize, kd.HashSize);
                break;
            case "near":
                // num_physpages is a little more than MemTotal; the start-up line states the kernel's own figure.
                Assert.InRange((double)kd.Max / inputs.CurrentMax!.Value, 0.97, 1.0);
                Assert.NotNull(inputs.StartupLine);
                Assert.Contains(kd.Reasons, r => r.Contains("start-up line says", StringComparison.Ordinal));
                break;
            case "none":
                Assert.Null(inputs.CurrentMax);
                break;
        }

        foreach (ConntrackRecommendation r in results)
        {
            Assert.Equal(tree.Path, r.Root);
            Assert.Equal(inputs.Era.Id, r.Era);
            Assert.InRange(r.Max, 128, int.MaxValue);
            Assert.InRange(r.HashSize, 16, HashSizeMath.MaxHashSize);
            Assert.True(r.EstimatedMemoryBytes > 0);
            Assert.Equal(inputs.EntrySize.Source, r.EntrySizeSource);
            Assert.True(r.Reasons.Count >= 4);
        }

        ConntrackRecommendation balanced = results[3];
        Assert.True(balanced.Max >= kd.Max);
        Assert.True(balanced.Max >= 2 * (inputs.CurrentCount ?? 0));
        Assert.True(balanced.EntriesPerBucket is >= 0.5 and <= 1);
    }

    /// <summary>
    /// conntrack became per network namespace in 2.6.27: before it (2.4, ip_conntrack, early nf_conntrack) one table
    /// serves the whole machine, and no container can fill a table of its own.
    /// </summary>
    [Theory]
    [InlineData("linux-2.4.20-early", false)]
    [InlineData("linux-2.4.27-netfilter", false)]
    [InlineData("rhel5-2.6.18-ip_conntrack", false)]
    [InlineData("rhel6-2.6.32-nf_conntrack", true)]
    [InlineData("linux-6.18-builtin", true)]
    public void Only_kernels_with_per_namespace_tables_multiply_the_memory_by_the_namespaces(string name, bool perNamespace)
    {
        using var tree = new FixtureTree(name);
        var log = new RecordingLog();
        SizingInputs inputs = SizingInputResolver.Resolve(new RecommendationRequest(), KernelProbe.Probe(tree.Open(log)));
        ConntrackRecommendation balanced = Recommender.Recommend(inputs, RecommendationProfile.Balanced, log);
        Assert.Equal(perNamespace, balanced.Reasons.Any(r => r.Contains("network namespace", StringComparison.Ordinal)));
    }

    /// <summary>Set-ConntrackLimit's memory warning says the same as the recommendation's reasons.</summary>
    [Theory]
    [InlineData("rhel5-2.6.18-ip_conntrack", false)]
    [InlineData("rhel6-2.6.32-nf_conntrack", true)]
    public void The_memory_warning_of_a_large_max_names_namespaces_only_where_they_have_tables(string name, bool perNamespace)
    {
        using var tree = new FixtureTree(name);
        ConntrackKernel kernel = KernelProbe.Probe(tree.Open());
        // Over half of MemTotal at the era's entry size, under all of it: warned, not refused.
        long max = (long)(kernel.MemoryBytes!.Value * 0.7 / (TableMemory.EntrySize(kernel).Bytes + 16));
        ConntrackTuning.Engine.Changes.ChangePlan plan = ConntrackTuning.Engine.Changes.MaxPlanner.Plan(kernel, max, ConntrackTuning.Engine.Changes.ApplyMode.PersistentOnly, force: false);
        string warning = Assert.Single(plan.Warnings, w => w.StartsWith("A full table of", StringComparison.Ordinal));
        Assert.Equal(perNamespace, warning.Contains("network namespace", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("2.6.26", "2.6.24-nf_conntrack")]
    [InlineData("2.6.27", "2.6.27-nf_conntrack")]
    [InlineData("3.18.140", "2.6.27-nf_conntrack")]
    [InlineData("4.6.7", "4.0-nf_conntrack")]
    [InlineData("4.7.0", "4.7-nf_conntrack")]
    [InlineData("4.7.10", "4.7-nf_conntrack")]
    public void Splits_the_era_rows_where_per_namespace_hash_tables_came_and_went(string version, string era) =>
        Assert.Equal(era, EraTable.Find(Tracker.NfConntrack, KernelVersion.Parse(version)).Id);
}
