using System;
using System.Collections.Generic;
using System.Globalization;
using Xunit;
using ConntrackTuning.Engine.Changes;
using ConntrackTuning.Engine.Health;
using ConntrackTuning.Engine.Kernel;
using ConntrackTuning.Engine.Sizing;

namespace ConntrackTuning.Engine.Tests;

/// <summary>
/// Test-ConntrackHealth's suggested max and Set-ConntrackLimit's memory check take one entry size
/// (TableMemory), so the health check never suggests a max the change then refuses or warns about.
/// </summary>
public class TableMemoryTests
{
    private static ConntrackKernel Machine(FixtureTree tree, long memoryKiB, long? slabBytes)
    {
        tree.Write("proc/meminfo", $"MemTotal:       {memoryKiB.ToString(CultureInfo.InvariantCulture)} kB\nMemFree:        {(memoryKiB / 2).ToString(CultureInfo.InvariantCulture)} kB\n");
        if (slabBytes is { } slab)
        {
            tree.Write("sys/kernel/slab/nf_conntrack/slab_size", slab.ToString(CultureInfo.InvariantCulture) + "\n");
        }

        return KernelProbe.Probe(tree.Open());
    }

    public static TheoryData<long, long?> Machines() => new()
    {
        { 512 * 1024, null },
        { 512 * 1024, 16384 },
        { 1024 * 1024, 16384 },
        { 1024 * 1024, 4096 },
        { 4 * 1024 * 1024, 1024 },
        { 16 * 1024 * 1024, 65536 },
        { 24683620, 320 },
    };

    [Theory]
    [MemberData(nameof(Machines))]
    public void The_suggested_max_passes_the_memory_check_of_Set_ConntrackLimit(long memoryKiB, long? slabBytes)
    {
        using var tree = new FixtureTree("linux-6.18-overflow");
        ConntrackKernel kernel = Machine(tree, memoryKiB, slabBytes);
        var context = new HealthContext(kernel, new HealthOptions());
        EntrySize entry = TableMemory.EntrySize(kernel);
        Assert.Equal(entry, context.EntrySize);
        if (slabBytes is { } slab)
        {
            Assert.Equal(slab, entry.Bytes);
        }

        if (Remedy.SuggestMax(context) is not { } suggested)
        {
            // No suggestion is no disagreement: even the current max does not leave room for twice as much.
            Assert.True(TableMemory.LargestMaxWithin(kernel, entry, kernel.MemoryBytes!.Value / 4) < 2 * context.Limit!.Max!.Value);
            return;
        }

        var log = new RecordingLog();
        ConntrackKernel again = KernelProbe.Probe(tree.Open(log));
        ChangePlan plan = MaxPlanner.Plan(again, suggested, ApplyMode.Runtime, force: false);
        Assert.DoesNotContain(plan.Warnings, w => w.Contains("kernel memory", StringComparison.Ordinal));
        // The check states the entry size it took: the one the suggestion was sized with.
        Assert.Contains(log.Verbose, v => v.Contains($"({entry.Bytes} bytes per entry, {entry.Source})", StringComparison.Ordinal));
        Assert.True(TableMemory.FullTableBytes(kernel, entry, suggested, suggested) <= kernel.MemoryBytes!.Value / 4);
    }

    [Fact]
    public void Big_entries_stated_by_the_slab_shrink_the_suggestion_instead_of_being_refused()
    {
        // 1 GiB and 16 KiB slots: with the era's estimate (~300 bytes) the health check suggested 131072, which
        // needs 2 GiB and which Set-ConntrackLimit refused (MaxExceedsMemory).
        using var tree = new FixtureTree("linux-6.18-overflow");
        ConntrackKernel kernel = Machine(tree, 1024 * 1024, 16384);
        ConntrackException refused = Assert.Throws<ConntrackException>(() => MaxPlanner.Plan(kernel, 131072, ApplyMode.Runtime, force: false));
        Assert.Equal(ErrorIds.MaxExceedsMemory, refused.ErrorId);
        Assert.NotEqual(131072, Remedy.SuggestMax(new HealthContext(kernel, new HealthOptions())));
    }

    private sealed class RecordingLog : IEngineLog
    {
        public List<string> Verbose { get; } = [];

        void IEngineLog.Verbose(string message) => Verbose.Add(message);

        void IEngineLog.Warning(string message)
        {
        }
    }
}
