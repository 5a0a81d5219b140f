using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.IO.Compression;
using System.Linq;
using System.Text;
using System.Threading;
using ConntrackTuning.Engine.KernelLog;
using ConntrackTuning.Engine.Platform;
using ConntrackTuning.Engine.Progress;
using Xunit;

namespace ConntrackTuning.Engine.Tests;

/// <summary>A log that keeps the progress records it is given.</summary>
internal sealed class ProgressLog : IEngineLog
{
    public List<EngineProgress> Records { get; } = [];

    public void Verbose(string message) { }

    public void Warning(string message) { }

    public void Progress(EngineProgress progress) => Records.Add(progress);
}

/// <summary>The stop signal as the readers see it, and the engine's throttled progress channel.</summary>
public class StopAndProgressTests
{
    private const string Drop = "Nov 20 03:14:07 web01 kernel: nf_conntrack: nf_conntrack: table full, dropping packet";

    private static CancellationToken Cancelled => new(canceled: true);

    [Fact]
    public void The_reporter_is_silent_for_short_work_then_sends_at_most_one_record_per_interval_and_completes()
    {
        long now = 0;
        var log = new ProgressLog();
        using (var reporter = new ProgressReporter(log, EngineActivity.ReadEntries, "Reading", 1000, (c, t) => $"{c} of {t}", () => now))
        {
            for (; now < (long)ProgressReporter.Delay.TotalMilliseconds; now += 10)
            {
                reporter.Report(now);
            }

            Assert.Empty(log.Records);
            Assert.False(reporter.Shown);
            for (long end = now + 1000; now < end; now += 10)
            {
                reporter.Report(now / 2);
            }

            // 1000 ms of reports every 10 ms: one at the delay and then one per 200 ms.
            Assert.Equal(1000 / (int)ProgressReporter.Interval.TotalMilliseconds, log.Records.Count);
            Assert.All(log.Records, r => Assert.False(r.Completed));
            Assert.Equal("200 of 1000", log.Records[0].Status);
            Assert.Equal(20, log.Records[0].PercentComplete);
            Assert.Equal(EngineActivity.ReadEntries, log.Records[0].Activity);
            // Half done after 400 ms: as long again to go.
            Assert.Equal(TimeSpan.FromMilliseconds(400 * 800 / 200), log.Records[0].Remaining);
        }

        EngineProgress last = log.Records[^1];
        Assert.True(last.Completed);
        Assert.Equal(100, last.PercentComplete);
    }

    [Fact]
    public void Work_that_ends_before_the_delay_shows_nothing_not_even_a_Completed_record()
    {
        var log = new ProgressLog();
        using (var reporter = new ProgressReporter(log, EngineActivity.ScanKernelLog, "Reading", 0, (_, _) => "", () => 0))
        {
            reporter.Report(5);
        }

        Assert.Empty(log.Records);
        Assert.Equal(-1, new EngineProgress(EngineActivity.ScanKernelLog, "t", "s", 5, 0, false).PercentComplete);
    }

    [Fact]
    public void An_observed_stream_refuses_to_read_once_stopped_and_tells_how_far_it_has_read()
    {
        using var source = new CancellationTokenSource();
        var positions = new List<long>();
        using var stream = new ObservedStream(new MemoryStream(new byte[100]), source.Token, positions.Add);
        byte[] buffer = new byte[30];
        Assert.Equal(30, stream.Read(buffer));
        Assert.Equal(30, stream.Read(buffer));
        source.Cancel();
        Assert.Throws<OperationCanceledException>(() => stream.Read(buffer));
        Assert.Equal([30L, 60L], positions);
    }

    [Fact]
    public void A_log_file_scan_stops_part_way_when_the_signal_comes()
    {
        using var tree = new FixtureTree("linux-6.18-builtin");
        // 8 MiB of log: many reads, so a stop after the first leaves most of it unread.
        var text = new StringBuilder();
        while (text.Length < 8 << 20)
        {
            text.Append(Drop).Append('\n');
        }

        tree.Write("var/log/kern.log", text.ToString());
        using var source = new CancellationTokenSource();
        SystemRoot root = SystemRoot.Open(tree.Path, null, source.Token);
        LogInput input = Assert.Single(KernelLogSources.UnderRoot(root, TimeWindow.All));
        Assert.Equal(text.Length, input.Length);
        long furthest = 0;
        int batches = 0;
        Assert.Throws<OperationCanceledException>(() =>
        {
            foreach (IReadOnlyList<string> batch in input.Read(position =>
            {
                furthest = position;
                source.Cancel();
            }))
            {
                batches++;
            }
        });
        Assert.True(furthest < text.Length / 2, $"read {furthest} of {text.Length} bytes after the stop");
        Assert.True(batches <= 1);
    }

    [Fact]
    public void A_gzip_log_is_stopped_too_and_a_stopped_root_reads_no_file_at_all()
    {
        using var tree = new FixtureTree("linux-6.18-builtin");
        using (var gz = new GZipStream(File.Create(tree.File("var/log/kern.log.2.gz")), CompressionLevel.Fastest))
        {
            byte[] line = Encoding.UTF8.GetBytes(Drop + "\n");
            for (int i = 0; i < 100_000; i++)
            {
                gz.Write(line);
            }
        }

        tree.Write("var/log/kern.log", Drop + "\n");
        SystemRoot stopped = SystemRoot.Open(tree.Path, null, Cancelled);
        foreach (LogInput input in KernelLogSources.UnderRoot(stopped, TimeWindow.All))
        {
            Assert.Throws<OperationCanceledException>(() => input.Batches().ToList());
        }
    }

    [Fact]
    public void A_journalctl_that_says_nothing_for_long_is_killed_by_the_stop()
    {
        string dir = Path.Combine(Path.GetTempPath(), "ctt-journal-" + Guid.NewGuid().ToString("n"));
        Directory.CreateDirectory(dir);
        try
        {
            // A journal search that takes a minute before its first line; exec, so the kill reaches sleep itself.
            string script = Path.Combine(dir, "journalctl");
            File.WriteAllText(script, "#!/bin/sh\nexec sleep 60\n");
            File.SetUnixFileMode(script, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            using var source = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));
            var clock = Stopwatch.StartNew();
            Assert.Throws<OperationCanceledException>(() =>
                KernelLogSources.Journal(new RecordingLog(), script, null, TimeWindow.All, cancellation: source.Token).ToList());
            // Not a timing goal (the Pester tests measure those): without the kill this would block for 60 s.
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), $"took {clock.Elapsed}");
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void The_ring_buffer_read_observes_the_stop()
    {
        using var tree = new FixtureTree("linux-6.18-builtin");
        tree.Write("kmsg", "6,1,100,-;nf_conntrack: table full, dropping packet\n");
        SystemRoot stopped = SystemRoot.Open(tree.Path, null, Cancelled);
        LogInput ring = KernelLogSources.Live(stopped, TimeWindow.All, journalctl: "/nonexistent/journalctl", kmsgDevice: tree.File("kmsg"))[^1];
        Assert.Equal(KernelLogSources.RingBufferName, ring.Name);
        Assert.Throws<OperationCanceledException>(() => ring.Batches().ToList());
    }

    [Fact]
    public void A_scan_reports_bytes_and_files_of_the_total_and_completes()
    {
        using var tree = new FixtureTree("linux-6.18-builtin");
        tree.Write("var/log/kern.log.1", Drop + "\n" + new string('x', 5000) + "\n");
        tree.Write("var/log/kern.log", Drop + "\n");
        SystemRoot root = tree.Open();
        IReadOnlyList<LogInput> inputs = KernelLogSources.UnderRoot(root, TimeWindow.All);
        long now = 0;
        var log = new ProgressLog();
        var scanner = new DropEventScanner(TimeWindow.All);
        using (var progress = new LogScanProgress(log, inputs, () => now += 1000))
        {
            Assert.Equal(2, DropEventReader.Read(inputs, scanner, progress).Count());
        }

        long total = inputs.Sum(i => i.Length!.Value);
        Assert.All(log.Records, r => Assert.Equal(total, r.Total));
        Assert.Contains(log.Records, r => r.Status.StartsWith(tree.File("var/log/kern.log.1") + " (file 1 of 2): ", StringComparison.Ordinal));
        Assert.Contains(log.Records, r => r.Status.StartsWith(tree.File("var/log/kern.log") + " (file 2 of 2): ", StringComparison.Ordinal));
        List<long> currents = log.Records.Select(r => r.Current).ToList();
        Assert.Equal(currents.Order(), currents);
        Assert.True(log.Records[^1].Completed);
        Assert.Equal(total, log.Records[^1].Current);
    }

    [Fact]
    public void The_lock_wait_ends_at_once_on_a_stop_and_leaves_the_lock_free()
    {
        using var tree = new FixtureTree("linux-6.18-builtin");
        using IDisposable held = tree.Open().AcquireWriteLock(TimeSpan.FromSeconds(1));
        using var source = new CancellationTokenSource(TimeSpan.FromMilliseconds(100));
        var log = new ProgressLog();
        SystemRoot root = SystemRoot.Open(tree.Path, log, source.Token);
        var clock = Stopwatch.StartNew();
        Assert.Throws<OperationCanceledException>(() => root.AcquireWriteLock(TimeSpan.FromSeconds(60)));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), $"took {clock.Elapsed}");
        held.Dispose();
        // The stopped wait closed its descriptor: the lock can be taken again, and a stopped root refuses to start writing.
        using (tree.Open().AcquireWriteLock(TimeSpan.FromSeconds(1)))
        {
        }

        Assert.Throws<OperationCanceledException>(() => SystemRoot.Open(tree.Path, null, Cancelled).AcquireWriteLock(TimeSpan.FromSeconds(1)));
    }

    [Fact]
    public void The_lock_wait_shows_how_long_it_has_waited()
    {
        using var tree = new FixtureTree("linux-6.18-builtin");
        using IDisposable held = tree.Open().AcquireWriteLock(TimeSpan.FromSeconds(1));
        var log = new ProgressLog();
        Assert.Throws<ConntrackException>(() => tree.Open(log).AcquireWriteLock(TimeSpan.FromMilliseconds(900)));
        Assert.NotEmpty(log.Records);
        Assert.All(log.Records, r => Assert.Equal(EngineActivity.WaitForLock, r.Activity));
        Assert.Equal(900, log.Records[0].Total);
        Assert.StartsWith($"Another invocation holds {tree.Path}/", log.Records[0].Status, StringComparison.Ordinal);
        Assert.Contains(": waited 0 s of at most 1 s", log.Records[0].Status, StringComparison.Ordinal);
        Assert.True(log.Records[^1].Completed);
    }

    [Fact]
    public void Every_root_a_cmdlet_opens_carries_its_stop_signal()
    {
        // A root opened without the token would make everything read under it deaf to Ctrl+C; the cmdlets open
        // roots only through ConntrackCmdlet's OpenRoot and OpenFolder, which pass it. Tab completers are no
        // commands (nothing stops them; they read a few small files).
        string repository = Path.GetDirectoryName(Path.GetDirectoryName(FixtureTree.FixturesDirectory)!)!;
        string module = Path.Combine(repository, "src", "ConntrackTuning");
        var opens = Directory.EnumerateFiles(module, "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains("/obj/", StringComparison.Ordinal) && !f.Contains("/bin/", StringComparison.Ordinal) && !Path.GetFileName(f).Contains("Completer", StringComparison.Ordinal))
            .SelectMany(f => File.ReadLines(f).Select((line, i) => (File: Path.GetFileName(f), Line: i + 1, Text: line.Trim())))
            .Where(l => l.Text.Contains("SystemRoot.Open(", StringComparison.Ordinal))
            .ToList();
        Assert.NotEmpty(opens);
        Assert.All(opens, l => Assert.True(l.File == "ConntrackCmdlet.cs" && l.Text.Contains(", Cancellation)", StringComparison.Ordinal), $"{l.File}:{l.Line}: {l.Text}"));
    }
}
