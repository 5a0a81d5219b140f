using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Text;
using System.Threading;
using ConntrackTuning.Engine.Entries;
using ConntrackTuning.Engine.Kernel;
using ConntrackTuning.Engine.Netlink;
using ConntrackTuning.Engine.Platform;
using Xunit;

namespace ConntrackTuning.Engine.Tests;

/// <summary>
/// The stop signal in netlink dumps and table reads. In the NetlinkHooks collection: one test sets the replay
/// seam, which is process-wide.
/// </summary>
[Collection(nameof(NetlinkHooks))]
public sealed class StopNetlinkTests : IDisposable
{
    public void Dispose() => NetlinkHooks.ReplayPath = null;

    [Fact]
    public void A_dump_stops_between_datagrams_once_the_signal_comes()
    {
        int total = EntryTestData.Lines("dump-large.conntrack-L.txt").Length;
        using var source = new CancellationTokenSource();
        using var client = new CtnetlinkClient(ReplayTransport.FromFile(EntryTestData.File("dump-large.hex"), source.Token));
        int seen = 0;
        Assert.Throws<OperationCanceledException>(() => client.DumpEntries(KernelFilter.None, (ref EntryRecord r) =>
        {
            seen++;
            source.Cancel();
            return true;
        }));
        // The rest of the first datagram is handed on, no datagram after it is received.
        Assert.InRange(seen, 1, total / 2);
    }

    [Fact]
    public void A_receive_from_a_silent_kernel_ends_on_the_stop_instead_of_at_the_timeout()
    {
        using var source = new CancellationTokenSource(TimeSpan.FromMilliseconds(150));
        using NetlinkSocket socket = NetlinkSocket.Open(TimeSpan.FromSeconds(60), source.Token);
        var clock = Stopwatch.StartNew();
        Assert.Throws<OperationCanceledException>(() => socket.Receive(new byte[4096]));
        // Not a timing goal (the Pester tests measure those): without the stop this waits for the 60 s timeout.
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), $"took {clock.Elapsed}");
    }

    [Fact]
    public void A_silent_kernel_still_times_out_with_EAGAIN_when_nobody_stops()
    {
        using NetlinkSocket socket = NetlinkSocket.Open(TimeSpan.FromMilliseconds(350));
        var clock = Stopwatch.StartNew();
        NetlinkErrnoException e = Assert.Throws<NetlinkErrnoException>(() => socket.Receive(new byte[4096]));
        Assert.Equal(Errno.EAGAIN, e.Number);
        // The 100 ms slices add up to the whole timeout, not one slice.
        Assert.True(clock.Elapsed >= TimeSpan.FromMilliseconds(300), $"took {clock.Elapsed}");
    }

    [Fact]
    public void A_stopped_root_reads_the_live_table_no_further_and_it_is_no_netlink_failure()
    {
        NetlinkHooks.ReplayPath = EntryTestData.File("dump-large.hex");
        using var source = new CancellationTokenSource();
        ConntrackKernel kernel = KernelProbe.Probe(SystemRoot.Open("/", null, source.Token));
        int seen = 0;
        Assert.Throws<OperationCanceledException>(() => EntryReader.ReadTable(kernel, EntryFilter.None, (ref EntryRecord r) =>
        {
            seen++;
            source.Cancel();
            return true;
        }));
        Assert.InRange(seen, 1, EntryTestData.Lines("dump-large.conntrack-L.txt").Length / 2);
    }

    [Fact]
    public void A_saved_table_read_stops_at_the_next_block()
    {
        using var tree = new FixtureTree("linux-6.18-builtin");
        string[] lines = EntryTestData.Lines("dump-mixed.procfs.txt");
        var text = new StringBuilder();
        long entries = 0;
        while (text.Length < 4 << 20)
        {
            text.AppendJoin('\n', lines).Append('\n');
            entries += lines.Length;
        }

        tree.Write("saved.txt", text.ToString());
        using var source = new CancellationTokenSource();
        SystemRoot folder = SystemRoot.Open(tree.Path, null, source.Token);
        long seen = 0;
        Assert.Throws<OperationCanceledException>(() => EntryReader.ReadFile(folder, "saved.txt", EntryFilter.None, (ref EntryRecord r) =>
        {
            seen++;
            source.Cancel();
            return true;
        }));
        // The block being parsed (a mebibyte of the four) is finished, no block after it is read.
        Assert.InRange(seen, 1, entries / 2);
    }

    [Fact]
    public void Entry_progress_counts_entries_of_the_kernel_count_and_bytes_of_a_file()
    {
        long now = 0;
        var log = new ProgressLog();
        using (EntryProgress progress = EntryProgress.OfCount(log, "ctnetlink", 100_000, () => now))
        {
            for (int i = 0; i < 50_000; i++)
            {
                now += 1;
                progress.Entry();
            }
        }

        Assert.True(log.Records.Count >= 3);
        Assert.All(log.Records, r => Assert.Equal(EngineActivity.ReadEntries, r.Activity));
        Assert.Equal("ctnetlink: 512 of 100,000 entries", log.Records[0].Status);
        Assert.True(log.Records[^1].Completed);
        Assert.Equal(log.Records.Select(r => r.Current).Order(), log.Records.Select(r => r.Current));

        var bytes = new ProgressLog();
        now = 0;
        using (EntryProgress progress = EntryProgress.OfBytes(bytes, "/saved.txt", 10 << 20, () => now))
        {
            progress.Entry();
            now = 1000;
            progress.Bytes(5 << 20);
        }

        Assert.Equal(50, bytes.Records[0].PercentComplete);
        Assert.Equal("/saved.txt: 1 entries, 5,120 of 10,240 KiB", bytes.Records[0].Status);
    }
}
