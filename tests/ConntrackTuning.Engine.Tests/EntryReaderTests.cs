using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using ConntrackTuning.Engine.Entries;
using ConntrackTuning.Engine.Netlink;
using Xunit;
using ConntrackTuning.Engine.Kernel;
using ConntrackTuning.Engine.Platform;
using ConntrackTuning.Engine.Statistics;

namespace ConntrackTuning.Engine.Tests;

[CollectionDefinition(nameof(TestHooks), DisableParallelization = true)]
public sealed class TestHooksSerial;

/// <summary>
/// Choosing the source (ctnetlink, the procfs file, a root's copy, a saved file), falling back, restarting and
/// failing. The live cases replay captures through <see cref="TestHooks"/>, which is process-wide, so these
/// tests never run in parallel with each other.
/// </summary>
[Collection(nameof(TestHooks))]
public sealed class EntryReaderTests : IDisposable
{
    private const string Entry =
        "0c0100000001220001000000e6460000020000003400018014000180080001007f000001080002007f0000011c000280" +
        "0500010006000000060002009c40000006000300138800003400028014000180080001007f000001080002007f000001" +
        "1c00028005000100060000000600020013880000060003009c400000080003000000000e080008000000000008000c00" +
        "b837637008000b0000000001080007000006977f300004802c0001800500010003000000050002000a00000005000300" +
        "0a000000060004002300000006000500230000001c0009800c00010000000000000000040c00020000000000000000dd" +
        "1c000a800c00010000000000000000030c00020000000000000000a9";

    private const string Done = "1400000003000200010000000000000000000000";
    private const string Count = "240000000501020000000000000000000000000008000100000000150800020000040000";
    private const string Ack = "240000000200000100000000000000000000000014000000050105000000000000000000";

    private readonly List<string> _temp = [];

    public void Dispose()
    {
        TestHooks.NetlinkReplayPath = null;
        foreach (string path in _temp)
        {
            File.Delete(path);
        }
    }

    private static string Error(int errno)
    {
        byte[] error = Convert.FromHexString("28000000020000000b000000c6430000eaffffff14000000010101000b0000000000000002000000");
        NetlinkWire.WriteH32(error.AsSpan(16), (uint)-errno);
        return Convert.ToHexString(error);
    }

    private static string Interrupted()
    {
        byte[] message = Convert.FromHexString(Entry);
        message[6] |= (byte)NetlinkWire.FlagDumpInterrupted;
        return Convert.ToHexString(message);
    }

    private void Replay(params string[] datagrams)
    {
        string path = Path.Combine(Path.GetTempPath(), "ctt-replay-" + Guid.NewGuid().ToString("n") + ".hex");
        File.WriteAllLines(path, datagrams);
        _temp.Add(path);
        TestHooks.NetlinkReplayPath = path;
    }

    private static ConntrackKernel Live(RecordingLog log) => KernelProbe.Probe(SystemRoot.Open("/", log));

    private static List<ConntrackEntry> Read(ConntrackKernel kernel, EntryFilter? filter = null)
    {
        var list = new List<ConntrackEntry>();
        EntryReader.ReadTable(kernel, filter ?? EntryFilter.None, (ref EntryRecord r) =>
        {
            list.Add(new ConntrackEntry(ref r));
            return true;
        });
        return list;
    }

    private static EntryFilter Filter(string? mark = null, string[]? protocols = null, string[]? sources = null) =>
        EntryFilter.Parse(null, protocols, null, sources, null, null, null, null, mark, null, false, false);

    [Fact]
    public void The_live_table_comes_from_ctnetlink()
    {
        TestHooks.NetlinkReplayPath = EntryTestData.File("dump-mixed.hex");
        var log = new RecordingLog();
        List<ConntrackEntry> entries = Read(Live(log));
        Assert.Equal(EntryTestData.Lines("dump-mixed.conntrack-L.txt").Length, entries.Count);
        Assert.Contains(log.Verbose, v => v.Contains("ctnetlink", StringComparison.Ordinal));
        Assert.Empty(log.Warnings);
    }

    [Fact]
    public void Filters_are_checked_here_whatever_the_kernel_did()
    {
        // The replay ignores the filter like a kernel that does not know it: the result must still be filtered.
        TestHooks.NetlinkReplayPath = EntryTestData.File("dump-mixed.hex");
        List<ConntrackEntry> entries = Read(Live(new RecordingLog()), Filter(protocols: ["udp"], sources: ["10.0.0.0/8"]));
        ConntrackEntry only = Assert.Single(entries);
        Assert.Equal(("udp", "10.0.0.11"), (only.Protocol, only.Source));
    }

    [Fact]
    public void A_summary_reports_the_kernel_count_and_max()
    {
        Replay(Count, Ack, Entry, Done);
        ConntrackKernel kernel = Live(new RecordingLog());
        ConntrackSummary s = EntryReader.Summarize((v, restart) => EntryReader.ReadTable(kernel, EntryFilter.None, v, true, restart), EntryFilter.None, 10, "/");
        Assert.Equal((1L, 21L, 262144L), (s.Entries, s.KernelCount!.Value, s.Max!.Value));
        Assert.Equal("ctnetlink", s.Source);
    }

    [Fact]
    public void A_summary_counts_again_when_the_kernel_flags_the_dump_as_interrupted()
    {
        Replay(Count, Ack, Interrupted(), Entry, Done, Entry, Done);
        var log = new RecordingLog();
        ConntrackKernel kernel = Live(log);
        ConntrackSummary s = EntryReader.Summarize((v, restart) => EntryReader.ReadTable(kernel, EntryFilter.None, v, true, restart), EntryFilter.None, 10, "/");
        Assert.Equal(1, s.Entries);
        Assert.Contains(log.Verbose, v => v.Contains("NLM_F_DUMP_INTR", StringComparison.Ordinal));
    }

    [Fact]
    public void A_listing_warns_when_the_kernel_flags_the_dump_as_interrupted()
    {
        Replay(Interrupted(), Done);
        var log = new RecordingLog();
        Assert.Single(Read(Live(log)));
        Assert.Contains(log.Warnings, w => w.Contains("interrupted", StringComparison.Ordinal));
    }

    [Fact]
    public void Lost_messages_are_an_error_for_a_listing_and_a_recount_for_a_summary()
    {
        Replay(Entry, "errno 105");
        var e = Assert.Throws<ConntrackException>(() => Read(Live(new RecordingLog())));
        Assert.Equal((ErrorIds.NetlinkFailed, ErrorKind.ProtocolError, "ctnetlink"), (e.ErrorId, e.Kind, e.Target));
        Assert.Contains("after 1 entries", e.Message, StringComparison.Ordinal);

        // Each attempt opens a new socket, which replays the capture from its start: the same loss every time, so
        // after three attempts the summary gives up with the same error.
        Replay(Entry, "errno 105");
        var log = new RecordingLog();
        ConntrackKernel kernel = Live(log);
        e = Assert.Throws<ConntrackException>(() => EntryReader.Summarize((v, restart) => EntryReader.ReadTable(kernel, EntryFilter.None, v, false, restart), EntryFilter.None, 10, "/"));
        Assert.Equal(ErrorIds.NetlinkFailed, e.ErrorId);
        Assert.Equal(2, log.Warnings.Count(w => w.Contains("lost messages", StringComparison.Ordinal)));
    }

    [Fact]
    public void A_kernel_that_rejects_a_filter_is_asked_again_without_it()
    {
        Replay(Error(Errno.EOPNOTSUPP), Entry, Done);
        var log = new RecordingLog();
        List<ConntrackEntry> entries = Read(Live(log), Filter(mark: "0"));
        Assert.Single(entries);
        Assert.Contains(log.Verbose, v => v.Contains("rejected the dump filter", StringComparison.Ordinal));
    }

    [Fact]
    public void A_damaged_reply_is_a_NetlinkFailed_error()
    {
        Replay(Entry[..200]);
        var e = Assert.Throws<ConntrackException>(() => Read(Live(new RecordingLog())));
        Assert.Equal((ErrorIds.NetlinkFailed, ErrorKind.ProtocolError), (e.ErrorId, e.Kind));
    }

    [Fact]
    public void Without_CAP_NET_ADMIN_the_procfs_file_is_read_instead_with_a_warning()
    {
        string table = Path.Combine(Path.GetTempPath(), "ctt-table-" + Guid.NewGuid().ToString("n"));
        File.WriteAllLines(table, EntryTestData.Lines("dump-mixed.procfs.txt"));
        _temp.Add(table);
        Replay(Error(Errno.EPERM));
        var log = new RecordingLog();
        ConntrackKernel kernel = Live(log);
        kernel.TablePathFound = table.TrimStart('/');
        List<ConntrackEntry> entries = Read(kernel);
        Assert.Equal(EntryTestData.Lines("dump-mixed.procfs.txt").Length, entries.Count);
        Assert.Contains(log.Warnings, w => w.Contains("CAP_NET_ADMIN", StringComparison.Ordinal) && w.Contains(table, StringComparison.Ordinal));
    }

    [Theory]
    [InlineData(Errno.EPERM, ErrorIds.NetlinkPermissionDenied, ErrorKind.PermissionDenied)]
    [InlineData(Errno.EINVAL, ErrorIds.NetlinkUnavailable, ErrorKind.ResourceUnavailable)]
    public void Without_ctnetlink_and_without_a_readable_table_file_the_error_says_why(int errno, string id, ErrorKind kind)
    {
        Replay(Error(errno));
        ConntrackKernel kernel = Live(new RecordingLog());
        kernel.TablePathFound = "proc/net/no_such_table";
        var e = Assert.Throws<ConntrackException>(() => Read(kernel));
        Assert.Equal((id, kind, "ctnetlink"), (e.ErrorId, e.Kind, e.Target));
        Assert.NotNull(e.RecommendedAction);
    }

    [Theory]
    [InlineData(Errno.EPERM, ErrorIds.NetlinkPermissionDenied)]
    [InlineData(Errno.EINVAL, ErrorIds.NetlinkUnavailable)]
    public void The_statistics_api_reports_the_same_errors(int errno, string id)
    {
        Replay(Error(errno));
        Assert.Equal(id, Assert.Throws<ConntrackException>(() => CtnetlinkStatistics.ReadPerCpu()).ErrorId);
        Replay(Error(errno));
        Assert.Equal(id, Assert.Throws<ConntrackException>(() => CtnetlinkStatistics.ReadCount()).ErrorId);
        Replay("0c000000");
        Assert.Equal(ErrorIds.NetlinkFailed, Assert.Throws<ConntrackException>(() => CtnetlinkStatistics.ReadCount()).ErrorId);
    }

    [Fact]
    public void The_statistics_api_reads_the_captures()
    {
        TestHooks.NetlinkReplayPath = EntryTestData.File("stats-cpu.hex");
        Assert.Equal(2, CtnetlinkStatistics.ReadPerCpu().Count);
        TestHooks.NetlinkReplayPath = EntryTestData.File("count.hex");
        Assert.Equal(new ConntrackNetlinkCount(21, 262144), CtnetlinkStatistics.ReadCount());
    }

    [Fact]
    public void A_captured_root_is_read_from_its_procfs_copy_with_its_count_and_max()
    {
        using var tree = new FixtureTree("linux-6.18-builtin");
        tree.Write("proc/net/nf_conntrack", string.Join('\n', EntryTestData.Lines("dump-mixed.procfs.txt")) + "\n");
        tree.Write("proc/sys/net/netfilter/nf_conntrack_count", "22\n");
        ConntrackKernel kernel = KernelProbe.Probe(tree.Open());
        ConntrackSummary s = EntryReader.Summarize((v, restart) => EntryReader.ReadTable(kernel, EntryFilter.None, v, true, restart), EntryFilter.None, 5, tree.Path);
        Assert.Equal(EntryTestData.Lines("dump-mixed.procfs.txt").Length, s.Entries);
        Assert.Equal((22L, 262144L), (s.KernelCount!.Value, s.Max!.Value));
        Assert.Equal(tree.File("proc/net/nf_conntrack"), s.Source);
    }

    [Fact]
    public void A_sosreport_is_read_from_its_conntrack_L_output()
    {
        using var tree = new FixtureTree("linux-6.18-builtin");
        tree.Delete("proc/net/nf_conntrack");
        tree.Write("sos_commands/conntrack/conntrack_-L_-o_extended", string.Join('\n', EntryTestData.Lines("dump-mixed.conntrack-L.txt")));
        List<ConntrackEntry> entries = Read(KernelProbe.Probe(tree.Open()));
        Assert.Equal(EntryTestData.Lines("dump-mixed.conntrack-L.txt").Length, entries.Count);
    }

    [Fact]
    public void A_2_4_root_is_read_from_proc_net_ip_conntrack()
    {
        using var tree = new FixtureTree("linux-6.18-builtin");
        tree.Delete("proc/sys/net/netfilter");
        tree.Delete("proc/sys/net/nf_conntrack_max");
        tree.Delete("sys/module/nf_conntrack");
        tree.Write("proc/sys/kernel/osrelease", "2.4.20-8smp\n");
        tree.Write("proc/sys/net/ipv4/ip_conntrack_max", "65536\n");
        tree.Write("proc/net/ip_conntrack",
            "tcp      6 431998 ESTABLISHED src=192.168.0.10 dst=192.168.0.1 sport=1025 dport=22 src=192.168.0.1 dst=192.168.0.10 sport=22 dport=1025 [ASSURED] use=1\n" +
            "EXPECTING: proto=6 src=192.168.0.2 dst=192.168.0.10 sport=0 dport=1031\n");
        ConntrackKernel kernel = KernelProbe.Probe(tree.Open());
        Assert.Equal("ip_conntrack", kernel.Tracker);
        ConntrackEntry e = Assert.Single(Read(kernel));
        Assert.Equal(22, e.DestinationPort);
    }

    [Fact]
    public void A_root_without_a_copy_of_the_table_is_an_EntryTableNotFound_error()
    {
        using var tree = new FixtureTree("linux-6.18-builtin");
        tree.Delete("proc/net/nf_conntrack");
        var e = Assert.Throws<ConntrackException>(() => Read(KernelProbe.Probe(tree.Open())));
        Assert.Equal((ErrorIds.EntryTableNotFound, ErrorKind.ObjectNotFound, tree.Path), (e.ErrorId, e.Kind, e.Target));
    }

    [Fact]
    public void Saved_files_missing_or_holding_no_entries_are_errors_and_damaged_lines_warnings()
    {
        using var tree = new FixtureTree("linux-6.18-builtin");
        var log = new RecordingLog();
        SystemRoot dir = SystemRoot.Open(tree.Path, log);
        EntryVisitor ignore = (ref EntryRecord r) => true;

        var missing = Assert.Throws<ConntrackException>(() => EntryReader.ReadFile(dir, "nothing.txt", EntryFilter.None, ignore));
        Assert.Equal((ErrorIds.EntryFileNotFound, ErrorKind.ObjectNotFound, tree.File("nothing.txt")), (missing.ErrorId, missing.Kind, missing.Target));

        var folder = Assert.Throws<ConntrackException>(() => EntryReader.ReadFile(dir, "proc", EntryFilter.None, ignore));
        Assert.Equal((ErrorIds.EntryFileNotFound, ErrorKind.InvalidArgument), (folder.ErrorId, folder.Kind));
        Assert.Contains("-Root", folder.RecommendedAction, StringComparison.Ordinal);

        tree.Write("ct.xml", "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<conntrack>\n<flow></flow>\n</conntrack>\n");
        var xml = Assert.Throws<ConntrackException>(() => EntryReader.ReadFile(dir, "ct.xml", EntryFilter.None, ignore));
        Assert.Equal((ErrorIds.EntryFormatUnknown, ErrorKind.InvalidData), (xml.ErrorId, xml.Kind));

        tree.Write("empty.txt", "");
        Assert.Equal(0, EntryReader.ReadFile(dir, "empty.txt", EntryFilter.None, ignore).Delivered);
        Assert.Empty(log.Warnings);

        string[] lines = EntryTestData.Lines("dump-mixed.procfs.txt");
        tree.Write("cut.txt", string.Join('\n', lines) + "\n" + lines[0][..60]);
        Assert.Equal(lines.Length, EntryReader.ReadFile(dir, "cut.txt", EntryFilter.None, ignore).Delivered);
        Assert.Contains(log.Warnings, w => w.Contains($"line {lines.Length + 1}", StringComparison.Ordinal));
    }

    [Fact]
    public void IsFile_tells_a_saved_table_from_a_root_folder()
    {
        using var tree = new FixtureTree("linux-6.18-builtin");
        tree.Write("saved.txt", "x");
        Assert.True(EntryReader.IsFile(tree.File("saved.txt")));
        Assert.False(EntryReader.IsFile(tree.Path));
        Assert.False(EntryReader.IsFile(tree.File("missing/x")));
    }
}
