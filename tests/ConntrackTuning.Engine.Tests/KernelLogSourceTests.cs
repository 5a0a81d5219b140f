using System;
using System.Collections.Generic;
using System.IO;
using System.IO.Compression;
using System.Linq;
using System.Text;
using Xunit;
using ConntrackTuning.Engine.KernelLog;
using ConntrackTuning.Engine.Platform;

namespace ConntrackTuning.Engine.Tests;

/// <summary>How lines are found in streams and files, and where the kernel log of a system is.</summary>
public class KernelLogSourceTests
{
    private const string Full = "Nov 20 03:14:07 web01 kernel: nf_conntrack: nf_conntrack: table full, dropping packet";

    private static List<string> Lines(byte[] bytes, Action? skipped = null) => LogChunkReader.MatchingLines(new MemoryStream(bytes), skipped).ToList();

    private static List<string> Lines(string text, Action? skipped = null) => Lines(Encoding.UTF8.GetBytes(text), skipped);

    [Fact]
    public void Finds_only_the_lines_that_can_matter_and_strips_line_ends()
    {
        List<string> lines = Lines("boot\r\n" + Full + "\r\nother\nnet_ratelimit: 3 callbacks suppressed\nlast conntrack line without newline");
        Assert.Equal([Full, "net_ratelimit: 3 callbacks suppressed", "last conntrack line without newline"], lines);
    }

    [Fact]
    public void A_line_across_the_block_boundary_is_found_whole()
    {
        foreach (int offset in new[] { 5, 20, Full.Length - 3, Full.Length })
        {
            var text = new StringBuilder();
            text.Append('x', LogChunkReader.BlockSize - offset - 1).Append('\n').Append(Full).Append('\n').Append("tail\n");
            Assert.Equal([Full], Lines(text.ToString()));
        }
    }

    [Fact]
    public void A_stream_that_hands_out_one_byte_at_a_time_gives_the_same_lines()
    {
        byte[] bytes = Encoding.UTF8.GetBytes("a\n" + Full + "\nb\n" + Full + "\n");
        Assert.Equal([Full, Full], LogChunkReader.MatchingLines(new TrickleStream(bytes)).ToList());
    }

    [Fact]
    public void Runaway_lines_and_binary_are_skipped_and_counted_and_what_follows_is_read()
    {
        int skipped = 0;
        var text = new StringBuilder();
        text.Append("conntrack").Append('y', 3 * LogChunkReader.BlockSize).Append('\n');
        text.Append(Full).Append('\n');
        text.Append("conntrack").Append('z', LogChunkReader.MaxLineLength + 1).Append('\n');
        text.Append(Full).Append('\n');
        Assert.Equal([Full, Full], Lines(text.ToString(), () => skipped++));
        Assert.Equal(2, skipped);

        byte[] binary = new byte[3 * LogChunkReader.BlockSize];
        new Random(1).NextBytes(binary);
        byte[] withEvent = [.. binary, .. Encoding.UTF8.GetBytes("\n" + Full + "\n\xff\xfe conntrack \0\n")];
        List<string> fromBinary = Lines(withEvent);
        Assert.Contains(Full, fromBinary);
    }

    [Fact]
    public void The_vector_search_finds_what_a_plain_search_finds_at_every_offset()
    {
        string[] needles = ["conntrack", "suppressed", "\"MESSAGE\":["];
        var random = new Random(7);
        for (int round = 0; round < 2000; round++)
        {
            // Text full of the needles' first and far bytes, so most candidates are false.
            byte[] text = new byte[random.Next(0, 200)];
            for (int i = 0; i < text.Length; i++)
            {
                text[i] = (byte)"cksd\"[ xyzconntracsuppresse"[random.Next(27)];
            }

            if (round % 2 == 0 && text.Length > 12)
            {
                byte[] needle = Encoding.ASCII.GetBytes(needles[random.Next(3)]);
                needle.CopyTo(text, random.Next(text.Length - needle.Length + 1));
            }

            int expected = -1;
            for (int i = 0; i < text.Length && expected < 0; i++)
            {
                if (needles.Any(n => text.AsSpan(i).StartsWith(Encoding.ASCII.GetBytes(n))))
                {
                    expected = i;
                }
            }

            Assert.Equal(expected, LogChunkReader.IndexOfNeedle(text));
        }
    }

    [Fact]
    public void Invalid_utf8_becomes_replacement_characters()
    {
        byte[] bytes = [.. Encoding.ASCII.GetBytes("conntrack "), 0xff, 0xc3, (byte)'\n'];
        Assert.Equal("conntrack \uFFFD\uFFFD", Assert.Single(Lines(bytes)));
    }

    [Fact]
    public void Gzip_files_are_recognised_by_their_bytes_including_multi_member_files()
    {
        string path = Path.Combine(Path.GetTempPath(), "ctt-gz-" + Guid.NewGuid().ToString("n"));
        try
        {
            using (var file = File.Create(path))
            {
                foreach (string member in new[] { Full + "\n", "noise\n" + Full + "\n" })
                {
                    using var gz = new GZipStream(file, CompressionLevel.Fastest, leaveOpen: true);
                    gz.Write(Encoding.UTF8.GetBytes(member));
                }
            }

            using Stream stream = LogChunkReader.Decompressed(File.OpenRead(path), path);
            Assert.Equal([Full, Full], LogChunkReader.MatchingLines(stream).ToList());
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void A_damaged_gzip_file_is_FileReadFailed_after_the_lines_before_the_damage()
    {
        string path = Path.Combine(Path.GetTempPath(), "ctt-gz-" + Guid.NewGuid().ToString("n"));
        try
        {
            using (var file = File.Create(path))
            using (var gz = new GZipStream(file, CompressionLevel.Fastest))
            {
                gz.Write(Encoding.UTF8.GetBytes(Full + "\n"));
            }

            byte[] bytes = File.ReadAllBytes(path);
            bytes[12] ^= 0xff;
            File.WriteAllBytes(path, bytes);
            LogInput input = KernelLogSources.File(SystemRoot.Open("/"), path);
            ConntrackException e = Assert.Throws<ConntrackException>(() => input.Batches().ToList());
            Assert.Equal(ErrorIds.FileReadFailed, e.ErrorId);
            Assert.Equal(ErrorKind.InvalidData, e.Kind);
            Assert.Equal(path, e.Target);
        }
        finally
        {
            File.Delete(path);
        }
    }

    /// <summary>Issue 13 item 8: the decompressor stops silently where a cut-off file ends; the trailer tells.</summary>
    [Theory]
    [InlineData(2)]
    [InlineData(0.5)]
    public void A_cut_off_gzip_file_is_FileReadFailed_at_its_end_after_the_lines_before_it(double keep)
    {
        string path = Path.Combine(Path.GetTempPath(), "ctt-gz-" + Guid.NewGuid().ToString("n"));
        try
        {
            using (var file = File.Create(path))
            using (var gz = new GZipStream(file, CompressionLevel.Optimal))
            {
                for (int i = 0; i < 1000; i++)
                {
                    gz.Write(Encoding.UTF8.GetBytes($"Nov 20 03:14:{i % 60:00} web01 kernel: [ {8000 + i}.000001] nf_conntrack: nf_conntrack: table full, dropping packet {Guid.NewGuid()}\n"));
                }
            }

            byte[] whole = File.ReadAllBytes(path);
            LogInput input = KernelLogSources.File(SystemRoot.Open("/"), path);
            Assert.Equal(1000, input.Batches().Sum(b => b.Count));
            File.WriteAllBytes(path, whole[..(keep >= 1 ? (int)keep : (int)(whole.Length * keep))]);
            int read = 0;
            ConntrackException e = Assert.Throws<ConntrackException>(() =>
            {
                foreach (IReadOnlyList<string> batch in input.Batches())
                {
                    read += batch.Count;
                }
            });
            Assert.Equal(ErrorIds.FileReadFailed, e.ErrorId);
            Assert.Equal(path, e.Target);
            Assert.Contains("cut off", e.Message, StringComparison.Ordinal);
            Assert.True(keep >= 1 ? read == 0 : read is > 0 and < 1000, $"{read} lines were read before the damage");
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Rotated_files_are_read_oldest_first()
    {
        Assert.Equal(
            ["kern.log.10.gz", "kern.log.2.gz", "kern.log.1", "kern.log"],
            KernelLogSources.RotationOrder(["kern.log", "kern.log.1", "kern.log.10.gz", "kern.log.2.gz"]));
        Assert.Equal(
            ["messages-20261101.gz", "messages-20261108", "messages"],
            KernelLogSources.RotationOrder(["messages", "messages-20261108", "messages-20261101.gz"]));
        Assert.Equal("kern.log", KernelLogSources.RotationBase("kern.log.3.gz"));
        Assert.Equal("messages", KernelLogSources.RotationBase("messages-20261101"));
    }

    [Fact]
    public void A_tree_is_read_from_one_log_family_oldest_first_with_years_from_the_files()
    {
        using var tree = new FixtureTree("linux-6.18-overflow");
        foreach (string f in new[] { "var/log/kern.log", "var/log/kern.log.1", "var/log/kern.log.2.gz" })
        {
            File.SetLastWriteTime(tree.File(f), new DateTime(2026, 11, 21, 6, 25, 0));
        }

        SystemRoot root = tree.Open();
        IReadOnlyList<LogInput> inputs = DropEventReader.DefaultInputs(root, TimeWindow.All);
        Assert.Equal([tree.File("var/log/kern.log.2.gz"), tree.File("var/log/kern.log.1"), tree.File("var/log/kern.log")], inputs.Select(i => i.Name));

        var scanner = new DropEventScanner(TimeWindow.All);
        List<ConntrackDropEvent> events = DropEventReader.Read(inputs, scanner).ToList();
        Assert.Equal(6, events.Count);
        Assert.Equal(new DateTime(2026, 11, 18, 22, 14, 7), events[0].TimeStamp);
        Assert.Equal(tree.File("var/log/kern.log.2.gz"), events[0].Source);
        Assert.Equal([0L, 0, 120, 0, 0, 37], events.Select(e => e.SuppressedBefore));
        Assert.Equal("4026532177", events[4].NetworkNamespace);
        ConntrackDropSummary summary = scanner.Summary();
        Assert.Equal(6, summary.AtLeast);
        Assert.Equal(163, summary.AtMost);
        Assert.Equal(["4026532177"], summary.NetworkNamespaces);
        Assert.Equal(["web01"], summary.Hosts);
        Assert.Equal(3, summary.Sources.Count);
    }

    [Fact]
    public void Without_text_logs_a_tree_falls_back_to_its_dmesg_capture_dated_by_its_boot_time()
    {
        using var tree = new FixtureTree("linux-6.18-overflow");
        foreach (string f in new[] { "var/log/kern.log", "var/log/kern.log.1", "var/log/kern.log.2.gz", "var/log/syslog" })
        {
            tree.Delete(f);
        }

        SystemRoot root = tree.Open();
        LogInput input = Assert.Single(DropEventReader.DefaultInputs(root, TimeWindow.All));
        Assert.Equal(tree.File("var/log/dmesg"), input.Name);
        ConntrackDropEvent e = Assert.Single(DropEventReader.Read([input], new DropEventScanner(TimeWindow.All)));
        Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(1795150000).LocalDateTime.AddMilliseconds(120), e.TimeStamp);
        Assert.Equal(0.12, e.KernelTime);
    }

    [Fact]
    public void A_tree_without_any_kernel_log_is_KernelLogNotFound()
    {
        using var tree = new FixtureTree("linux-6.18-builtin");
        tree.Delete("var/log");
        ConntrackException e = Assert.Throws<ConntrackException>(() => DropEventReader.DefaultInputs(tree.Open(), TimeWindow.All));
        Assert.Equal(ErrorIds.KernelLogNotFound, e.ErrorId);
        Assert.Equal(ErrorKind.ObjectNotFound, e.Kind);
        Assert.Equal(tree.Path, e.Target);
    }

    [Fact]
    public void A_missing_log_file_is_LogFileNotFound()
    {
        SystemRoot fileSystem = SystemRoot.Open("/");
        LogInput input = KernelLogSources.File(fileSystem, "/nonexistent/ctt/kern.log");
        ConntrackException e = Assert.Throws<ConntrackException>(() => input.Batches().ToList());
        Assert.Equal(ErrorIds.LogFileNotFound, e.ErrorId);
        Assert.Equal("/nonexistent/ctt/kern.log", e.Target);
    }

    [Fact]
    public void An_unreadable_ring_buffer_is_KernelLogUnreadable_unless_a_journal_stands_in()
    {
        using var tree = new FixtureTree("linux-6.18-overflow");
        SystemRoot root = tree.Open();
        IReadOnlyList<LogInput> inputs = KernelLogSources.Live(root, TimeWindow.All, journalctl: "/bin/true", kmsgDevice: "/nonexistent/kmsg");
        LogInput ring = Assert.Single(inputs);
        ConntrackException e = Assert.Throws<ConntrackException>(() => ring.Batches().ToList());
        Assert.Equal(ErrorIds.KernelLogUnreadable, e.ErrorId);
        Assert.Equal(ErrorKind.ReadError, e.Kind);
        Assert.Equal("/nonexistent/kmsg", e.Target);

        tree.Write("var/log/journal/0123/system.journal", "");
        var log = new RecordingLog();
        inputs = KernelLogSources.Live(tree.Open(log), TimeWindow.All, journalctl: "/bin/true", kmsgDevice: "/nonexistent/kmsg");
        Assert.Equal([KernelLogSources.JournalName, KernelLogSources.RingBufferName], inputs.Select(i => i.Name));
        Assert.Empty(inputs[1].Batches());
        Assert.Contains("ring buffer cannot be read", Assert.Single(log.Warnings), StringComparison.Ordinal);
    }

    [Fact]
    public void Journalctl_is_run_with_an_argument_list_and_its_output_streamed()
    {
        string dir = Path.Combine(Path.GetTempPath(), "ctt-journal-" + Guid.NewGuid().ToString("n"));
        Directory.CreateDirectory(dir);
        try
        {
            // A stand-in journalctl that records its arguments one per line and prints two JSON entries.
            string script = Path.Combine(dir, "journalctl");
            string argsFile = Path.Combine(dir, "args");
            File.WriteAllText(script, "#!/bin/sh\nfor a in \"$@\"; do printf '%s\\n' \"$a\"; done > '" + argsFile + "'\n"
                + "printf '%s\\n' '{\"_TRANSPORT\":\"kernel\",\"_HOSTNAME\":\"h\",\"__REALTIME_TIMESTAMP\":\"1774558430123456\",\"MESSAGE\":\"net_ratelimit: 5 callbacks suppressed\"}' "
                + "'{\"_TRANSPORT\":\"kernel\",\"_HOSTNAME\":\"h\",\"__REALTIME_TIMESTAMP\":\"1774558430123457\",\"MESSAGE\":\"nf_conntrack: nf_conntrack: falling back to vmalloc.\"}' "
                + "'{\"_TRANSPORT\":\"kernel\",\"_HOSTNAME\":\"h\",\"__REALTIME_TIMESTAMP\":\"1774558430123458\",\"MESSAGE\":\"nf_conntrack: nf_conntrack: table full, dropping packet\"}'\n"
                + "exit 3\n");
            File.SetUnixFileMode(script, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            var window = TimeWindow.Create(new DateTime(2026, 3, 1, 8, 0, 0), new DateTime(2026, 3, 30, 9, 30, 15));
            var log = new RecordingLog();
            var scanner = new DropEventScanner(window);
            var input = new LogInput
            {
                Name = "journal",
                Context = new LogContext { YearReference = DateTime.Now },
                Batches = () => KernelLogSources.Journal(log, script, "/cases/web01/var/log/journal", window),
            };
            ConntrackDropEvent e = Assert.Single(DropEventReader.Read([input], scanner));
            Assert.Equal(5, e.SuppressedBefore);
            Assert.Equal("h", e.Host);
            Assert.Equal(
                ["--no-pager", "--quiet", "--output=json", "_TRANSPORT=kernel", "--directory=/cases/web01/var/log/journal", "--since=2026-03-01 08:00:00", "--until=2026-03-30 09:30:16"],
                File.ReadAllLines(argsFile));
            Assert.Contains("exited with 3", Assert.Single(log.Warnings), StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void The_boot_time_comes_from_btime()
    {
        using var tree = new FixtureTree("linux-6.18-overflow");
        Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(1795150000).LocalDateTime, KernelLogSources.BootTime(tree.Open()));
        tree.Delete("proc/stat");
        Assert.Null(KernelLogSources.BootTime(tree.Open()));
    }

    /// <summary>A stream that returns one byte per read, as a slow pipe might.</summary>
    private sealed class TrickleStream(byte[] data) : Stream
    {
        private int _position;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => _position; set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count)
        {
            if (_position >= data.Length || count == 0)
            {
                return 0;
            }

            buffer[offset] = data[_position++];
            return 1;
        }

        public override void Flush() { }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
