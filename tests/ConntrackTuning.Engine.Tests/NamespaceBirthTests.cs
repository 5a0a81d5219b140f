using System;
using System.Collections.Generic;
using System.IO;
using ConntrackTuning.Engine.Namespaces;
using Xunit;

namespace ConntrackTuning.Engine.Tests;

public class NamespaceBirthTests
{
    private static readonly DateTime Birth = new(2026, 12, 4, 12, 0, 0, DateTimeKind.Local);

    [Fact]
    public void SplitsAReusedInodesMessagesAtTheBirthOfItsHolder()
    {
        var times = new List<DateTime?> { Birth.AddMinutes(-30), Birth.AddSeconds(-5), Birth.AddSeconds(-0.5), Birth.AddMinutes(2), null };
        var log = new TableFullLog(new Dictionary<string, long> { ["7"] = 5 }, new Dictionary<string, DateTime> { ["7"] = Birth.AddMinutes(2) }) { Times = new Dictionary<string, List<DateTime?>> { ["7"] = times } };

        (long count, DateTime? last, int older, DateTime? first, DateTime? olderLast) = log.Since("7", Birth);

        // Within a second of the birth, and undated, a message stays the namespace's: the clocks are only that exact.
        Assert.Equal(3, count);
        Assert.Equal(Birth.AddMinutes(2), last);
        Assert.Equal(2, older);
        Assert.Equal(Birth.AddMinutes(-30), first);
        Assert.Equal(Birth.AddSeconds(-5), olderLast);
    }

    [Fact]
    public void KeepsEveryMessageWhenTheBirthIsUnknown()
    {
        var log = new TableFullLog(new Dictionary<string, long> { ["7"] = 2 }, new Dictionary<string, DateTime>()) { Times = new Dictionary<string, List<DateTime?>> { ["7"] = [Birth, Birth] } };
        Assert.Equal((2L, (DateTime?)null, 0, (DateTime?)null, (DateTime?)null), log.Since("7", null));
    }

    [Fact]
    public void ReadsTheChangeTimeOfThisProcesssNamespaceFile()
    {
        ulong? inode = NamespaceDiscovery.ParseLink(new FileInfo("/proc/self/ns/net").LinkTarget);
        Assert.NotNull(inode);
        DateTime? birth = NamespaceBirth.Of("/proc/self/ns/net", inode!.Value);
        Assert.NotNull(birth);
        Assert.InRange(birth!.Value, DateTime.Now.AddDays(-400), DateTime.Now.AddMinutes(1));
        // Another namespace's number at the same path is no birth of it.
        Assert.Null(NamespaceBirth.Of("/proc/self/ns/net", inode.Value + 1));
    }
}
