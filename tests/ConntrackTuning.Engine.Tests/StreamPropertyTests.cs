using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using CsCheck;
using ConntrackTuning.Engine.Entries;
using Xunit;
using ConntrackTuning.Engine.KernelLog;
using ConntrackTuning.Engine.Statistics;

namespace ConntrackTuning.Engine.Tests;

/// <summary>
/// Properties of the line parsers and of the streaming readers over generated files: real lines from the fixtures,
/// the same lines damaged (cut, CR, BOM, tabs, junk bytes, doubled) and plain junk, long lines included. Any line
/// is an event, an entry, a skip or a named error, never an exception; and where a file is cut (between two
/// lines, or at a block boundary of the reader) changes no total.
/// </summary>
public class StreamPropertyTests
{
    private const int Iterations = 400;

    private static readonly byte[][] Needles = ["conntrack"u8.ToArray(), "suppressed"u8.ToArray(), "\"MESSAGE\":["u8.ToArray()];

    private static string[] FixtureLines(Func<string, bool> which) =>
        Directory.EnumerateFiles(FixtureTree.FixturesDirectory, "*", SearchOption.AllDirectories)
            .Concat(Directory.EnumerateFiles(Path.Combine(Path.GetDirectoryName(FixtureTree.FixturesDirectory)!, "ConntrackTuning.Engine.Tests", "Data"), "*.txt"))
            .Select(f => f.Replace('\\', '/'))
            .Where(which)
            .Where(f => !f.EndsWith(".gz", StringComparison.Ordinal))
            .Order(StringComparer.Ordinal)
            .SelectMany(File.ReadLines)
            .Where(l => l.Length > 0)
            .Distinct(StringComparer.Ordinal)
            .ToArray();

    private static readonly string[] LogLines = [.. FixtureLines(f => f.Contains("/var/log/", StringComparison.Ordinal)),
        "<4>1 2026-03-26T21:53:50.123+01:00 gw kernel - - [meta x=\"1\"] nf_conntrack: nf_conntrack: table full in netns 4026532177, dropping packet",
        "4,341,1290072420,-;nf_conntrack: nf_conntrack: table full, dropping packet",
        "{\"_TRANSPORT\":\"kernel\",\"__REALTIME_TIMESTAMP\":\"1774558430123456\",\"_BOOT_ID\":\"b\",\"_SOURCE_MONOTONIC_TIMESTAMP\":\"5\",\"MESSAGE\":\"nf_conntrack: table full, dropping packet\"}",
        "{\"_TRANSPORT\":\"kernel\",\"__REALTIME_TIMESTAMP\":\"1774558430123456\",\"MESSAGE\":[110,102,95,99,111,110,110,116,114,97,99,107]}",
        "[Thu Mar 26 21:53:50 2026] ip_conntrack: maximum limit of 65536 entries exceeded",
        "Mar 26 21:53:50 gw kernel: [974749.140918] net_ratelimit: 12 callbacks suppressed"];

    private static readonly string[] EntryLines = FixtureLines(f =>
        (f.Contains("/proc/net/", StringComparison.Ordinal) && !f.Contains("/stat/", StringComparison.Ordinal) && f.EndsWith("conntrack", StringComparison.Ordinal))
        || f.EndsWith(".conntrack-L.txt", StringComparison.Ordinal) || f.EndsWith(".procfs.txt", StringComparison.Ordinal));

    private static readonly string[] StatFiles = Directory.EnumerateFiles(FixtureTree.FixturesDirectory, "*conntrack", SearchOption.AllDirectories)
        .Where(f => f.Replace('\\', '/').Contains("/proc/net/stat/", StringComparison.Ordinal)).Order(StringComparer.Ordinal).Select(File.ReadAllText).ToArray();

    /// <summary>A real line, the same line damaged, or junk.</summary>
    private static Gen<string> Line(string[] real) => Gen.Frequency(
        (6, Gen.OneOfConst(real)),
        (4, Gen.Select(Gen.OneOfConst(real), Gen.Int[0, 7], Gen.Int, Gen.String[Gen.Char, 0, 8], (l, how, at, junk) => Damage(l, how, at, junk))),
        (1, Gen.String[Gen.Char, 0, 80]),
        (1, Gen.String[Gen.Char["\0\x01\x1b\x7f\xff\u00e9\ufeff\ufffd \t\r"], 1, 40]),
        (1, Gen.Select(Gen.OneOfConst(real), Gen.Int[2, 40], (l, n) => string.Concat(Enumerable.Repeat(l, n)))),
        (1, Gen.Int[100, 3000].Select(n => new string('9', n))));

    private static string Damage(string line, int how, int at, string junk)
    {
        int i = line.Length == 0 ? 0 : (int)((uint)at % (uint)line.Length);
        return how switch
        {
            0 => line[..i],
            1 => line.Insert(i, junk),
            2 => line + "\r",
            3 => "\ufeff" + line,
            4 => line.Replace(' ', '\t'),
            5 => line.Insert(i, "\r"),
            6 => line.Replace(" ", "  ", StringComparison.Ordinal),
            _ => line[i..] + line[..i],
        };
    }

    private static Gen<byte[]> FileOf(string[] real) =>
        Gen.Select(Gen.Select(Line(real), Gen.OneOfConst("\n", "\r\n")).Array[0, 40], Gen.Bool, Gen.Int[0, 4].Array[0, 3], (lines, lastEnding, junkAt) =>
        {
            var bytes = new List<byte>(Encoding.UTF8.GetBytes(string.Concat(lines.Select(l => l.Item1 + l.Item2))));
            if (!lastEnding && bytes.Count > 0 && bytes[^1] == '\n')
            {
                bytes.RemoveAt(bytes.Count - 1);
            }

            // Bytes that are not UTF-8 at all, as a damaged rotation has.
            foreach (int j in junkAt)
            {
                bytes.Insert(bytes.Count * j / 4, (byte)(0x80 + (j * 37)));
            }

            return bytes.ToArray();
        });

    /// <summary>The lines of a byte file, split at LF (the last one may lack it).</summary>
    private static List<byte[]> SplitLines(byte[] bytes)
    {
        var lines = new List<byte[]>();
        int start = 0;
        for (int i = 0; i < bytes.Length; i++)
        {
            if (bytes[i] == '\n')
            {
                lines.Add(bytes[start..i]);
                start = i + 1;
            }
        }

        if (start < bytes.Length)
        {
            lines.Add(bytes[start..]);
        }

        return lines;
    }

    /// <summary>Where a file can be cut between two lines: 0, after any LF, or the end.</summary>
    private static int CutAfterLine(byte[] bytes, int pick)
    {
        var cuts = new List<int> { 0 };
        for (int i = 0; i < bytes.Length; i++)
        {
            if (bytes[i] == '\n')
            {
                cuts.Add(i + 1);
            }
        }

        cuts.Add(bytes.Length);
        return cuts[(int)((uint)pick % (uint)cuts.Count)];
    }

    /// <summary>A stream that hands out at most a few bytes per read, as a pipe or a gzip stream may.</summary>
    private sealed class TrickleStream(byte[] data, int most) : Stream
    {
        private int _position;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => data.Length;

        public override long Position { get => _position; set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count)
        {
            int n = Math.Min(Math.Min(count, most), data.Length - _position);
            Array.Copy(data, _position, buffer, offset, n);
            _position += n;
            return n;
        }

        public override void Flush() { }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }

    // ---- kernel logs ----------------------------------------------------------------------------------------------

    [Fact]
    public void The_log_scan_finds_the_same_lines_wherever_its_blocks_end()
    {
        Gen.Select(FileOf(LogLines), Gen.Int[64, 2048], Gen.Int[8, 600], Gen.Int[1, 97]).Sample((bytes, block, maxLine, trickle) =>
        {
            int max = Math.Min(maxLine, block / 2);
            int skipped = 0;
            var found = LogChunkReader.MatchingBlocks(new TrickleStream(bytes, trickle), () => skipped++, block, max).SelectMany(b => b).ToList();

            // The model: every line holding a needle, not longer than the limit; a line of a whole block or more is
            // dropped unread, with the other over-long lines that held a needle counted as skipped.
            var expected = new List<string>();
            int expectedSkipped = 0;
            foreach (byte[] line in SplitLines(bytes))
            {
                if (line.Length >= block)
                {
                    expectedSkipped++;
                    continue;
                }

                if (!Needles.Any(n => line.AsSpan().IndexOf(n) >= 0))
                {
                    continue;
                }

                int content = line.Length > 0 && line[^1] == '\r' ? line.Length - 1 : line.Length;
                if (content > max)
                {
                    expectedSkipped++;
                }
                else
                {
                    expected.Add(Encoding.UTF8.GetString(line, 0, content));
                }
            }

            Assert.Equal(expected, found);
            Assert.Equal(expectedSkipped, skipped);
        }, iter: Iterations);
    }

    private static readonly LogContext Context = new() { YearReference = new DateTime(2026, 11, 25), BootTime = new DateTime(2026, 11, 20), DefaultHost = "h" };

    private static (long Logged, int Events) Scan(IEnumerable<string> lines, TimeWindow window)
    {
        var scanner = new DropEventScanner(window);
        int events = 0;
        foreach (string line in lines)
        {
            if (scanner.Feed(line, Context, "gen") is { } e)
            {
                events++;
                Assert.True(e.Kind is "TableFull" or "LimitExceeded");
                Assert.DoesNotContain('\n', e.Line);
            }
        }

        ConntrackDropSummary s = scanner.Summary();
        Assert.True(s.Logged == events && s.Suppressed >= 0 && s.AtMost >= s.AtLeast);
        return (scanner.Logged, events);
    }

    [Fact]
    public void Any_log_line_is_an_event_or_nothing_never_an_exception() =>
        Gen.OneOf(Line(LogLines), Gen.String).Sample(line =>
        {
            var scanner = new DropEventScanner(TimeWindow.Create(new DateTime(2026, 1, 1), new DateTime(2026, 12, 31)));
            _ = scanner.Feed(line, Context, "gen");
            _ = new DropEventScanner(TimeWindow.All).Feed(line, Context with { CurrentBootId = "b" }, "gen");
        }, iter: Iterations * 5);

    [Fact]
    public void A_log_cut_in_two_between_lines_counts_the_same_drops_as_the_whole()
    {
        Gen.Select(FileOf(LogLines), Gen.Int, Gen.Bool).Sample((bytes, pick, windowed) =>
        {
            TimeWindow window = windowed ? TimeWindow.Create(new DateTime(2026, 3, 1), new DateTime(2026, 6, 30)) : TimeWindow.All;
            int cut = CutAfterLine(bytes, pick);
            IEnumerable<string> Lines(byte[] b) => LogChunkReader.MatchingLines(new MemoryStream(b));
            (long whole, _) = Scan(Lines(bytes), window);
            (long first, _) = Scan(Lines(bytes[..cut]), window);
            (long second, _) = Scan(Lines(bytes[cut..]), window);
            Assert.Equal(whole, first + second);

            // The byte scan only narrows what the line parser sees: every line fed directly gives the same count.
            (long direct, _) = Scan(SplitLines(bytes).Select(l => Encoding.UTF8.GetString(l).TrimEnd('\r')), window);
            Assert.Equal(whole, direct);
        }, iter: Iterations);
    }

    // ---- table files ----------------------------------------------------------------------------------------------

    private static (long Lines, long Entries, long Malformed) Totals(TextReadResult r) => (r.Lines, r.Entries, r.Malformed);

    private static TextReadResult ReadEntries(Stream stream, int block, List<string>? keys = null) =>
        EntryFileReader.Read(stream, (ref EntryRecord r) =>
        {
            var entry = new ConntrackEntry(ref r);
            keys?.Add($"{entry.Protocol} {entry.Source}:{entry.SourcePort} {entry.Destination}:{entry.DestinationPort} {entry.State} {entry.Timeout} {entry.Assured}");
            return true;
        }, block);

    [Fact]
    public void Any_table_line_is_an_entry_ignored_or_malformed_never_an_exception() =>
        Gen.OneOf(Line(EntryLines).Select(Encoding.UTF8.GetBytes), Gen.Byte.Array[0, 300]).Sample(line =>
        {
            var r = default(EntryRecord);
            LineKind kind = EntryTextParser.Parse(line, ref r);
            Assert.True(Enum.IsDefined(kind));
            if (kind == LineKind.Entry)
            {
                _ = new ConntrackEntry(ref r).Source;
            }
        }, iter: Iterations * 5);

    [Fact]
    public void The_table_reader_counts_the_same_wherever_its_blocks_end()
    {
        Gen.Select(FileOf(EntryLines), Gen.Int[16, 1024], Gen.Int[1, 97]).Sample((bytes, block, trickle) =>
        {
            var keys = new List<string>();
            TextReadResult read = ReadEntries(new TrickleStream(bytes, trickle), block, keys);

            // The model: each line parsed on its own; a line of a whole block or more is one damaged line.
            long lines = 0, entries = 0, malformed = 0;
            var expectedKeys = new List<string>();
            foreach (byte[] line in SplitLines(bytes))
            {
                lines++;
                if (line.Length >= block)
                {
                    malformed++;
                    continue;
                }

                var r = default(EntryRecord);
                switch (EntryTextParser.Parse(line, ref r))
                {
                    case LineKind.Entry:
                        entries++;
                        var entry = new ConntrackEntry(ref r);
                        expectedKeys.Add($"{entry.Protocol} {entry.Source}:{entry.SourcePort} {entry.Destination}:{entry.DestinationPort} {entry.State} {entry.Timeout} {entry.Assured}");
                        break;
                    case LineKind.Malformed:
                        malformed++;
                        break;
                }
            }

            Assert.Equal((lines, entries, malformed), Totals(read));
            Assert.Equal(expectedKeys, keys);
        }, iter: Iterations);
    }

    [Fact]
    public void A_table_cut_in_two_between_lines_counts_the_same_as_the_whole()
    {
        Gen.Select(FileOf(EntryLines), Gen.Int).Sample((bytes, pick) =>
        {
            int cut = CutAfterLine(bytes, pick);
            (long l, long e, long m) whole = Totals(ReadEntries(new MemoryStream(bytes), 1 << 20));
            (long l, long e, long m) a = Totals(ReadEntries(new MemoryStream(bytes[..cut]), 1 << 20));
            (long l, long e, long m) b = Totals(ReadEntries(new MemoryStream(bytes[cut..]), 1 << 20));
            Assert.Equal(whole, (a.l + b.l, a.e + b.e, a.m + b.m));
        }, iter: Iterations);
    }

    [Fact]
    public void A_runaway_line_over_several_blocks_is_one_damaged_line()
    {
        // Found while writing the property above: each full block of one line counted as another damaged line.
        string entry = EntryLines.First(l => l.StartsWith("ipv4", StringComparison.Ordinal));
        byte[] bytes = Encoding.UTF8.GetBytes(new string('x', 2000) + "\n" + entry + "\n");
        Assert.Equal((2L, 1L, 1L), Totals(ReadEntries(new MemoryStream(bytes), 512)));
        Assert.Equal([1L], ReadEntries(new MemoryStream(bytes), 512).MalformedLines);
    }

    // ---- statistics -----------------------------------------------------------------------------------------------

    private static Gen<string> StatRow(int columns) => Gen.Frequency(
        (8, Gen.UInt[0, uint.MaxValue].Array[columns].Select(v => string.Join(' ', v.Select(x => x.ToString("x8", System.Globalization.CultureInfo.InvariantCulture))))),
        (1, Gen.UInt.Array[1, columns].Select(v => string.Join(' ', v.Select(x => x.ToString("x8", System.Globalization.CultureInfo.InvariantCulture))))),
        (1, Gen.String[Gen.Char["0123456789abcdefgxyz-\t \u00e9"], 0, 120]),
        (1, Gen.Int[4097, 6000].Select(n => new string('f', n))));

    private static Gen<(string Header, string[] Rows)> StatFile =>
        Gen.OneOfConst(StatFiles).SelectMany(text =>
        {
            string header = text.Split('\n')[0];
            int columns = header.Split(' ', StringSplitOptions.RemoveEmptyEntries).Length;
            return StatRow(columns).Array[0, 12].Select(rows => (header, rows));
        });

    private static Dictionary<string, long>? Sums(string header, IEnumerable<string> rows)
    {
        try
        {
            IReadOnlyList<CpuCounters> cpus = ProcStatParser.Parse([header, .. rows], "/gen", NullEngineLog.Instance);
            return cpus.SelectMany(c => c.Values).GroupBy(kv => kv.Key).ToDictionary(g => g.Key, g => g.Sum(kv => kv.Value));
        }
        catch (ConntrackException e)
        {
            Assert.Equal(ErrorIds.StatisticsMalformed, e.ErrorId);
            return null;
        }
    }

    [Fact]
    public void Any_statistics_text_gives_rows_or_StatisticsMalformed() =>
        Gen.OneOf(StatFile.Select(f => f.Header + "\n" + string.Join("\r\n", f.Rows)), Gen.String).Sample(text => Sums(text, []), iter: Iterations * 2);

    [Fact]
    public void Statistics_cut_between_rows_sum_to_the_same_totals()
    {
        Gen.Select(StatFile, Gen.Int).Sample((file, pick) =>
        {
            int cut = file.Rows.Length == 0 ? 0 : (int)((uint)pick % (uint)(file.Rows.Length + 1));
            Dictionary<string, long>? whole = Sums(file.Header, file.Rows);
            Dictionary<string, long>? a = Sums(file.Header, file.Rows[..cut]);
            Dictionary<string, long>? b = Sums(file.Header, file.Rows[cut..]);
            if (a is null || b is null)
            {
                // A part with no readable row is an error of its own; the whole is one exactly when the other part is too.
                Assert.Equal(a is null && b is null, whole is null);
                return;
            }

            Assert.NotNull(whole);
            Assert.Equal(whole.OrderBy(kv => kv.Key), a.Concat(b).GroupBy(kv => kv.Key).Select(g => KeyValuePair.Create(g.Key, g.Sum(kv => kv.Value))).OrderBy(kv => kv.Key));
        }, iter: Iterations);
    }
}
