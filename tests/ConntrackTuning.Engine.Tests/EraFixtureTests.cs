using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.Json;
using Xunit;
using ConntrackTuning.Engine.Kernel;
using ConntrackTuning.Engine.Limits;

namespace ConntrackTuning.Engine.Tests;

/// <summary>
/// Every fixture tree against the table in tests/fixtures/expectations.json, which the Pester tests of the
/// cmdlets read too.
/// </summary>
public class EraFixtureTests
{
    public static IEnumerable<object[]> Fixtures() =>
        Load().Select(f => new object[] { f.GetProperty("name").GetString()! });

    private static List<JsonElement> Load()
    {
        using JsonDocument doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(FixtureTree.FixturesDirectory, "expectations.json")));
        return doc.RootElement.GetProperty("fixtures").EnumerateArray().Select(e => e.Clone()).ToList();
    }

    private static JsonElement Expect(string name) => Load().Single(f => f.GetProperty("name").GetString() == name);

    [Fact]
    public void Every_fixture_folder_has_expectations()
    {
        string[] folders = Directory.GetDirectories(FixtureTree.FixturesDirectory).Select(Path.GetFileName).Order().ToArray()!;
        string[] expected = Load().Select(f => f.GetProperty("name").GetString()!).Order().ToArray();
        Assert.Equal(folders, expected);
    }

    [Theory]
    [MemberData(nameof(Fixtures))]
    public void Probe_identifies_kernel_tracker_era_and_writability(string name)
    {
        JsonElement e = Expect(name);
        using var tree = new FixtureTree(name);
        ConntrackKernel k = KernelProbe.Probe(tree.Open());

        Assert.Equal(e.GetProperty("release").GetString(), k.KernelRelease);
        Assert.Equal(e.GetProperty("version").GetString(), k.KernelVersion);
        Assert.Equal(e.GetProperty("tracker").GetString(), k.Tracker);
        Assert.Equal(e.GetProperty("moduleState").GetString(), k.ModuleState);
        Assert.Equal(e.GetProperty("era").GetString(), k.Era);
        Assert.Equal(e.GetProperty("hashShape").GetString(), k.HashShape);
        Assert.Equal(e.GetProperty("pointerBits").GetInt32(), k.PointerBits);
        Assert.Equal(e.GetProperty("memoryBytes").GetInt64(), k.MemoryBytes);
        Assert.Equal(e.GetProperty("initial").GetBoolean(), k.IsInitialNamespace);
        Assert.Equal(e.GetProperty("maxKey").GetString(), k.MaxSysctlKey);
        Assert.Equal(e.GetProperty("canSetMax").GetBoolean(), k.CanSetMax);
        Assert.Equal(e.GetProperty("canSetHashSize").GetBoolean(), k.CanSetHashSize);
        Assert.Equal(e.GetProperty("canSetTimeouts").GetBoolean(), k.CanSetTimeouts);
        // Whatever cannot be changed says why.
        Assert.True(k.CanSetMax || !string.IsNullOrEmpty(k.MaxReadOnlyReason));
        Assert.True(k.CanSetHashSize || !string.IsNullOrEmpty(k.HashSizeReadOnlyReason));
        Assert.True(k.CanSetTimeouts || !string.IsNullOrEmpty(k.TimeoutsReadOnlyReason));
    }

    [Theory]
    [MemberData(nameof(Fixtures))]
    public void Limits_come_from_the_files_of_the_era(string name)
    {
        JsonElement e = Expect(name);
        using var tree = new FixtureTree(name);
        var log = new RecordingLog();
        ConntrackKernel k = KernelProbe.Probe(tree.Open(log));
        if (!e.TryGetProperty("max", out JsonElement max))
        {
            ConntrackException ex = Assert.Throws<ConntrackException>(() => LimitReader.Read(k));
            Assert.Equal(ErrorIds.ConntrackNotLoaded, ex.ErrorId);
            Assert.Contains("modprobe nf_conntrack", ex.RecommendedAction);
            return;
        }

        ConntrackLimit l = LimitReader.Read(k);
        Assert.Equal(max.GetInt64(), l.Max);
        Assert.Equal(e.GetProperty("count").GetInt64(), l.Count);
        Assert.Equal(e.GetProperty("hashSize").GetInt64(), l.HashSize);
        Assert.StartsWith(tree.File(e.GetProperty("hashSizeFrom").GetString()!), l.HashSizeSource);
        Assert.NotNull(l.MaxSource);
        Assert.Equal(System.Math.Round(100.0 * l.Count!.Value / l.Max!.Value, 2), l.UsagePercent);
        Assert.Equal(System.Math.Round((double)l.Max.Value / l.HashSize!.Value, 2), l.EntriesPerBucket);
        if (e.TryGetProperty("warning", out JsonElement warning))
        {
            Assert.Contains(log.Warnings, w => w.Contains(warning.GetString()!, System.StringComparison.Ordinal));
        }
        else
        {
            Assert.Empty(log.Warnings);
        }
    }
}
