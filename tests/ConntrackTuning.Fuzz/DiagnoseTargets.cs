using System;
using System.Collections.Generic;
using System.IO;
using System.IO.Compression;
using System.Linq;
using ConntrackTuning.Engine;
using ConntrackTuning.Engine.Kernel;
using ConntrackTuning.Engine.KernelLog;
using ConntrackTuning.Engine.Platform;
using ConntrackTuning.Engine.Statistics;

namespace ConntrackTuning.Fuzz;

/// <summary>
/// Kernel logs of every layout through the byte scanner and the drop-event scanner, as a file (the first input
/// byte chooses plain or gzip) and line by line, with and without a time window.
/// </summary>
internal sealed class KernelLogTarget : FuzzTarget
{
    public override string Name => "kernel-log";

    public override IEnumerable<byte[]> Seeds(string fixturesDirectory)
    {
        foreach (string file in Directory.EnumerateFiles(fixturesDirectory, "*", SearchOption.AllDirectories)
                     .Where(f => f.Contains("/var/log/", StringComparison.Ordinal) && !f.EndsWith(".gz", StringComparison.Ordinal)))
        {
            yield return [0, .. File.ReadAllBytes(file)];
        }

        foreach (byte[] line in Lines(
            "<4>1 2026-03-26T21:53:50.123+01:00 gw kernel - - [meta x=\"1\"] nf_conntrack: nf_conntrack: table full in netns 4026532177, dropping packet",
            "4,341,1290072420,-;nf_conntrack: nf_conntrack: table full, dropping packet\n SUBSYSTEM=net",
            "{\"_TRANSPORT\":\"kernel\",\"__REALTIME_TIMESTAMP\":\"1774558430123456\",\"_BOOT_ID\":\"b\",\"_SOURCE_MONOTONIC_TIMESTAMP\":\"5\",\"MESSAGE\":\"net_ratelimit: 7 callbacks suppressed\"}",
            "[Thu Mar 26 21:53:50 2026] ip_conntrack: maximum limit of 65536 entries exceeded",
            "Wed Mar 26 21:53:50 2026 kern.warn kernel: [974749.140918] NET: 3 messages suppressed."))
        {
            yield return [1, .. line];
        }
    }

    public override void Run(byte[] input)
    {
        if (input.Length == 0)
        {
            return;
        }

        byte[] body = input[1..];
        var window = (input[0] & 2) == 0 ? TimeWindow.All : TimeWindow.Create(new DateTime(2026, 1, 1), new DateTime(2026, 12, 31));
        var context = new LogContext { YearReference = new DateTime(2026, 11, 25), BootTime = new DateTime(2026, 11, 20), CurrentBootId = "b", DefaultHost = "h" };
        var scanner = new DropEventScanner(window);
        using Stream stream = (input[0] & 1) == 0 ? new MemoryStream(body) : LogChunkReader.Decompressed(Gzipped(body), "fuzz.gz");
        foreach (IReadOnlyList<string> block in LogChunkReader.MatchingBlocks(stream))
        {
            var found = new List<ConntrackDropEvent>();
            scanner.FeedAll(block, context, "fuzz", found);
            foreach (ConntrackDropEvent e in found)
            {
                if (e.Kind is not ("TableFull" or "LimitExceeded") || e.SuppressedBefore < 0 || e.Line.Contains('\n', StringComparison.Ordinal))
                {
                    throw new InvalidOperationException($"Impossible event from '{e.Line}'.");
                }
            }
        }

        // Piped text takes another path to the same scanner: every line, not only those the byte scan picked.
        foreach (string line in System.Text.Encoding.UTF8.GetString(body).Split('\n'))
        {
            _ = scanner.Feed(line, context, "fuzz-lines");
        }

        ConntrackDropSummary s = scanner.Summary();
        if (s.AtMost < s.AtLeast || s.AtLeast != scanner.Logged)
        {
            throw new InvalidOperationException("The bound is not a bound.");
        }
    }

    private static MemoryStream Gzipped(byte[] body)
    {
        var packed = new MemoryStream();
        using (var gz = new GZipStream(packed, CompressionLevel.Fastest, leaveOpen: true))
        {
            gz.Write(body);
        }

        // Damage the compressed bytes too: a cut or corrupt rotation must fail as an I/O error, not a crash.
        byte[] bytes = packed.ToArray();
        if (body.Length > 0 && bytes.Length > 20)
        {
            bytes[10 + (body[0] % (bytes.Length - 18))] ^= body[^1];
        }

        return new MemoryStream(bytes);
    }
}

/// <summary>proc/net/stat/nf_conntrack (or ip_conntrack) of every era, summed and per CPU.</summary>
internal sealed class ProcStatTarget : FuzzTarget
{
    private ConntrackKernel? _kernel;

    public override string Name => "proc-stat";

    public override IEnumerable<byte[]> Seeds(string fixturesDirectory)
    {
        _kernel ??= KernelProbe.Probe(SystemRoot.Open(Path.Combine(fixturesDirectory, "linux-6.18-builtin")));
        foreach (string file in Directory.EnumerateFiles(fixturesDirectory, "*conntrack", SearchOption.AllDirectories)
                     .Where(f => f.Contains("/proc/net/stat/", StringComparison.Ordinal)))
        {
            yield return File.ReadAllBytes(file);
        }
    }

    public override void Run(byte[] input)
    {
        IReadOnlyList<CpuCounters> cpus = ProcStatParser.Parse(Text(input).Split('\n'), "/fuzz", NullEngineLog.Instance, ProcStatParser.ParseCpuList(Text(input)));
        var statistics = new CpuStatistics(cpus, "fuzz");
        _ = ConntrackStatistic.Sum(statistics, _kernel!);
        _ = ConntrackStatistic.PerCpu(statistics, _kernel!).ToList();
    }
}
