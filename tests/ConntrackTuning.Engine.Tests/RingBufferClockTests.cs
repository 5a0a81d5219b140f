using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using ConntrackTuning.Engine.KernelLog;
using ConntrackTuning.Engine.Platform;
using Xunit;

namespace ConntrackTuning.Engine.Tests;

/// <summary>A fact that writes a line into the running kernel's log; skipped where /dev/kmsg takes no writes.</summary>
public sealed class KmsgWritableFactAttribute : FactAttribute
{
    public KmsgWritableFactAttribute()
    {
        string? mode = File.Exists("/proc/sys/kernel/printk_devkmsg") ? File.ReadAllText("/proc/sys/kernel/printk_devkmsg").Trim() : null;
        if (!ProcessIdentity.IsRoot)
        {
            Skip = "needs root to write to /dev/kmsg (run the tests as root to include it)";
        }
        else if (mode is null or "off")
        {
            Skip = "kernel.printk_devkmsg is off here: /dev/kmsg takes no writes from user space";
        }
    }
}

/// <summary>How ring-buffer records, stamped with time since boot, get their wall-clock dates.</summary>
public sealed class RingBufferClockTests : IDisposable
{
    private readonly List<string> _trees = [];

    public void Dispose()
    {
        foreach (string tree in _trees)
        {
            Directory.Delete(tree, recursive: true);
        }
    }

    private SystemRoot Tree(string? timensOffsets)
    {
        string root = Directory.CreateTempSubdirectory("ctt-timens-").FullName;
        _trees.Add(root);
        if (timensOffsets is not null)
        {
            Directory.CreateDirectory(Path.Combine(root, "proc/self"));
            File.WriteAllText(Path.Combine(root, "proc/self/timens_offsets"), timensOffsets);
        }

        return SystemRoot.Open(root);
    }

    [Theory]
    [InlineData("monotonic           0         0\nboottime            0         0\n", 0.0)]
    [InlineData("monotonic        3600 500000000\nboottime         7200         0\n", 3600.5)]
    [InlineData("boottime 5 0\nmonotonic -86400 250000000\n", -86399.75)]
    [InlineData(null, 0.0)]
    [InlineData("monotonic lots 0\n", 0.0)]
    public void A_time_namespace_offset_of_the_monotonic_clock_is_read_from_timens_offsets(string? offsets, double seconds)
    {
        Assert.Equal(seconds, KernelLogSources.TimeNamespaceMonotonicOffset(Tree(offsets)), 9);
    }

    [Fact]
    public void A_tree_that_is_not_the_running_system_has_no_ring_buffer_clock()
    {
        Assert.Null(KernelLogSources.RingBufferEpoch(Tree(null)));
    }

    // btime is whole seconds and counts suspend; the ring buffer's clock does neither. A record written now must
    // come back dated now, to well under the second btime alone could be off by.
    [KmsgWritableFact]
    public void A_record_written_to_the_kernel_log_now_is_dated_now()
    {
        string marker = "conntracktuning-clock-check-" + Guid.NewGuid().ToString("n");
        DateTime before = DateTime.Now;
        File.WriteAllText("/dev/kmsg", marker + "\n");
        DateTime after = DateTime.Now;

        SystemRoot live = SystemRoot.Open("/");
        DateTime? epoch = KernelLogSources.RingBufferEpoch(live);
        Assert.NotNull(epoch);
        string record = KernelRingBuffer.ReadRecords().Last(r => r.Contains(marker, StringComparison.Ordinal));
        ParsedLine parsed = LogLineParser.Parse(record, new LogContext { YearReference = DateTime.Now, BootTime = epoch });
        Assert.Equal(LogFormat.Kmsg, parsed.Format);
        DateTime stamped = Assert.NotNull(parsed.Time);
        Assert.InRange(stamped, before.AddMilliseconds(-50), after.AddMilliseconds(50));
    }
}
